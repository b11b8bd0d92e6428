/**
 * The apply guard's costs (issue 15): how long a guarded apply holds a change (configure timeout → settle window
 * → verdict → confirm), and what the fast path adds per reload next to a plain `configure`: the classification
 * (one peer more, parsed from the live file's last parse, as `run` does) and the record of the previous files
 * for `birdwatch undo` (written beside the reload; only its rename comes after BIRD's answer). A real BIRD with
 * `--peers` BGP protocols, in a network namespace this script makes (root), stopped by PID and deleted at the end.
 *
 *   node --import tsx scripts/bench-guard.ts [--window 5s] [--peers 1000] [--runs 20]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { preparePreviousFiles } from '../src/controller/guard/undoRecord.js';
import { parseDuration } from '../src/cli/duration.js';
import { DEFAULT_GUARD_SETTINGS } from '../src/controller/guard/settings.js';
import { SettleWindow } from '../src/controller/guard/settleWindow.js';
import { classifyConfigChange } from '../src/controller/guard/applyPath.js';
import { summarizeConfigChange } from '../src/controller/diffSummary.js';
import { StatementMemo } from '../src/render/statementMemo.js';
import { realBirdEdges, reloadBird } from '../src/controller/realEdges.js';
import { startBird } from '../test/harness/bird.js';

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? (process.argv[at + 1] ?? fallback) : fallback;
};
const windowMs = parseDuration('--window', arg('window', '5s'), { minMs: 1000, maxMs: 600_000 });
const peers = Number(arg('peers', '1000'));
const runs = Number(arg('runs', '20'));

const config = (localAs: number): string =>
  [
    'router id 10.0.0.1;',
    'protocol device { scan time 10; }',
    `template bgp bgp_template { local as ${localAs}; multihop; import all; export none; }`,
    ...Array.from(
      { length: peers },
      (_, i) =>
        `protocol bgp Mesh_10_1_${i >> 8}_${i & 255} from bgp_template { neighbor 10.1.${i >> 8}.${i & 255} as 64512; }`,
    ),
    '',
  ].join('\n');

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (xs: number[]): string =>
  `p50 ${pct(xs, 50).toFixed(2)} ms, p90 ${pct(xs, 90).toFixed(2)} ms (n=${xs.length})`;

async function main(): Promise<void> {
  const ns = `bwbg-${process.pid}`;
  await execa('ip', ['netns', 'add', ns]);
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-bench-guard-'));
  try {
    await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const cfg = join(dir, 'bird.cfg');
    await writeFile(cfg, config(64512));
    const bird = await startBird({
      family: 4,
      configPath: cfg,
      socketPath: join(dir, 'bird.ctl'),
      wrapper: ['ip', 'netns', 'exec', ns],
    });
    try {
      const socket = bird.socketPath;
      const reloads: number[] = [];
      const prepares: number[] = [];
      const commits: number[] = [];
      const classify: number[] = [];
      // As in `run`: each change is one peer more in the middle of bird.cfg, classified against the live file
      // through the StatementMemo that parsed the live file in the cycle before.
      const memo = new StatementMemo();
      const base = config(64512);
      const middle = base.indexOf('protocol bgp', Math.floor(base.length / 2));
      const withPeer = (i: number): string =>
        `${base.slice(0, middle)}protocol bgp Extra_${i} from bgp_template { neighbor 10.2.0.${i % 250} as 64512; }\n${base.slice(middle)}`;
      let live = new Map([['bird.cfg', base]]);
      memo.statements('bird.cfg', base);
      for (let i = 0; i < runs; i++) {
        const rendered = new Map([['bird.cfg', withPeer(i)]]);
        let t0 = performance.now();
        classifyConfigChange(summarizeConfigChange(live, rendered, memo));
        classify.push(performance.now() - t0);
        t0 = performance.now();
        const prepared = await preparePreviousFiles(dir, 'bird', Object.fromEntries(live));
        prepares.push(performance.now() - t0);
        const r = await reloadBird('bird', socket);
        if (r.kind !== 'applied') throw new Error(`configure: ${r.message}`);
        reloads.push(r.ms);
        t0 = performance.now();
        await prepared.commit();
        commits.push(performance.now() - t0);
        live = new Map([['bird.cfg', base]]);
        memo.statements('bird.cfg', rendered.get('bird.cfg')!);
      }
      const edges = realBirdEdges({ bird: socket });
      const guard = new SettleWindow({ ...DEFAULT_GUARD_SETTINGS, windowMs }, edges);
      const snapshot = await edges.snapshot('bird');
      const t0 = performance.now();
      const applied = await edges.configureTimeout('bird', guard.timeoutS);
      const sent = performance.now() - t0;
      const outcome = await guard.settle({ daemon: 'bird', before: snapshot, removed: new Set() });
      const confirm = await edges.confirm('bird');
      const hold = performance.now() - t0;
      console.log(
        `# bench-guard: BIRD with ${peers} BGP protocols, load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      console.log(`fast path: plain configure            ${fmt(reloads)}`);
      console.log(`fast path: + classification (memo)     ${fmt(classify)}`);
      console.log(`fast path: undo record, written beside the reload (overlaps it)  ${fmt(prepares)}`);
      console.log(`fast path: undo record, put in place after BIRD answered         ${fmt(commits)}`);
      console.log(`guarded:   configure timeout ${guard.timeoutS} s    ${sent.toFixed(2)} ms (${applied.kind})`);
      console.log(
        `guarded:   change held (window ${windowMs} ms → ${outcome.kind} → ${confirm.message})  ${hold.toFixed(0)} ms`,
      );
    } finally {
      await bird.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    await execa('ip', ['netns', 'delete', ns], { reject: false });
  }
}

await main();

/**
 * guard: the apply guard's costs. How long a guarded apply holds a change (configure timeout → settle window →
 * verdict → confirm), and what the fast path adds per reload next to a plain `configure`: the classification (one
 * peer more, parsed from the live file's last parse, as `run` does) and the record of the previous files for
 * `birdwatch undo` (written beside the reload; only its rename comes after BIRD's answer). A real BIRD with
 * `--peers` BGP protocols, in a network namespace this suite makes (root), stopped by PID and deleted at the end.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { preparePreviousFiles } from '../../../src/controller/guard/undoRecord.js';
import { parseDuration } from '../../../src/cli/duration.js';
import { DEFAULT_GUARD_SETTINGS } from '../../../src/controller/guard/settings.js';
import { SettleWindow } from '../../../src/controller/guard/settleWindow.js';
import { classifyConfigChange } from '../../../src/controller/guard/applyPath.js';
import { summarizeConfigChange } from '../../../src/controller/diffSummary.js';
import { realBirdEdges, reloadBird } from '../../../src/controller/realEdges.js';
import { StatementMemo } from '../../../src/render/statementMemo.js';
import { parseFlags, UsageError, wholeNumber } from '../lib/args.js';
import { benchNamespace } from '../lib/birdPair.js';
import { startBird } from '../lib/harness.js';
import { tempDir, withScope } from '../lib/scope.js';
import { percentile } from '../lib/stats.js';

export const usage = 'usage: scripts/bench guard [--window 5s] [--peers 1000] [--runs 20]';

interface GuardOptions {
  readonly windowMs: number;
  readonly peers: number;
  readonly runs: number;
}

function parseGuardOptions(argv: readonly string[]): GuardOptions | undefined {
  const values = parseFlags(argv, {
    window: { type: 'string', default: '5s' },
    peers: { type: 'string' },
    runs: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return undefined;
  let windowMs: number;
  try {
    windowMs = parseDuration('--window', values.window, { minMs: 1000, maxMs: 600_000 });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  return {
    windowMs,
    peers: wholeNumber('--peers', values.peers, 1000, 1),
    runs: wholeNumber('--runs', values.runs, 20, 1),
  };
}

const config = (peers: number, localAs: number): string =>
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

const fmt = (xs: number[]): string =>
  `p50 ${percentile(xs, 50).toFixed(2)} ms, p90 ${percentile(xs, 90).toFixed(2)} ms (n=${xs.length})`;

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseGuardOptions(argv);
  if (options === undefined) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const { windowMs, peers, runs } = options;
  await withScope(async (scope) => {
    const ns = await benchNamespace(scope, 'bwbg');
    const dir = await tempDir(scope, 'birdwatch-bench-guard-');
    const cfg = join(dir, 'bird.cfg');
    await writeFile(cfg, config(peers, 64512));
    const bird = await startBird({ family: 4, configPath: cfg, socketPath: join(dir, 'bird.ctl'), wrapper: ns.exec });
    scope.teardown(() => bird.stop());
    const socket = bird.socketPath;
    const reloads: number[] = [];
    const prepares: number[] = [];
    const commits: number[] = [];
    const classify: number[] = [];
    // As in `run`: each change is one peer more in the middle of bird.cfg, classified against the live file
    // through the StatementMemo that parsed the live file in the cycle before.
    const memo = new StatementMemo();
    const base = config(peers, 64512);
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
    const lines = [
      `# bench-guard: BIRD with ${peers} BGP protocols, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
      `fast path: plain configure            ${fmt(reloads)}`,
      `fast path: + classification (memo)     ${fmt(classify)}`,
      `fast path: undo record, written beside the reload (overlaps it)  ${fmt(prepares)}`,
      `fast path: undo record, put in place after BIRD answered         ${fmt(commits)}`,
      `guarded:   configure timeout ${guard.timeoutS} s    ${sent.toFixed(2)} ms (${applied.kind})`,
      `guarded:   change held (window ${windowMs} ms → ${outcome.kind} → ${confirm.message})  ${hold.toFixed(0)} ms`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

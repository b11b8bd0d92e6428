/**
 * scale: the datastore scale targets, against one real etcd on loopback: 20,000 hosts with v4+v6 addresses,
 * 10 % with their own AS, 2 IPAM blocks each, plus 5 MB of other values under a watched prefix. For the mesh on
 * and off: `render` (validated, and --no-validate), `run --once`, the daemon's peak RSS (VmHWM once its first cycle
 * is logged) and its longest log line; then 100,000 keys synced by the mirror in this process. Prints a markdown
 * table with the targets, met or missed.
 */
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { execa } from 'execa';
import { createEtcdClient } from '../../../src/datastore/etcdConnection.js';
import { etcdFeed } from '../../../src/datastore/etcdFeed.js';
import { KeyspaceMirror } from '../../../src/datastore/keyspaceMirror.js';
import { DEFAULT_STALE_AFTER_MS } from '../../../src/datastore/mirrorOptions.js';
import { encodeNodeMesh } from '../../../src/model/encodings.js';
import { prefixKeyScope } from '../../../src/model/keyScope.js';
import { keys, WATCHED_PREFIXES } from '../../../src/model/keys.js';
import { parseFlags, wholeNumber } from '../lib/args.js';
import { startEtcdLab } from '../lib/etcdLab.js';
import { envWithout } from '../lib/harness.js';
import { loadKeyspace } from '../lib/keyspace.js';
import { BIRDWATCH_MAIN } from '../lib/paths.js';
import { memoryOf } from '../lib/procfs.js';
import { sleep, tempDir, withScope } from '../lib/scope.js';
import { bytesToMb, kibToMb, median } from '../lib/stats.js';

export const usage = 'usage: scripts/bench scale [--hosts 20000] [--runs 3]   (also: scripts/bench-scale)';

const NODE = 'host-00001';

function hostName(i: number): string {
  return `host-${String(i).padStart(5, '0')}`;
}

/** The keyspace: per host v4+v6, 10 % an AS, 2 blocks; 5 MB of other values under the global prefix. */
function scaleKeyspace(hosts: number): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < hosts; i++) {
    const h = hostName(i);
    map.set(
      keys.hostAddress(h, 4),
      `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`.replace(/^10\.0\.0\.0$/, '10.255.255.254'),
    );
    map.set(keys.hostAddress(h, 6), `fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
    if (i % 10 === 0) map.set(keys.hostAsNumber(h), String(65_000 + (i % 500)));
    map.set(
      keys.block(h, 4, `172.${16 + ((i >> 14) & 15)}.${(i >> 6) & 255}.${(i & 63) << 2}/30`),
      '{"affinity":"host:' + h + '"}',
    );
    map.set(keys.block(h, 6, `fd10::${i.toString(16)}:0/122`), '{"affinity":"host:' + h + '"}');
  }
  const kilobyte = 'x'.repeat(1_000);
  for (let i = 0; i < 5_000; i++) map.set(`/calico/bgp/v1/global/extra/${i}`, kilobyte);
  return map;
}

async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number; stderr: string }> {
  const started = performance.now();
  const result = await execa(process.execPath, [BIRDWATCH_MAIN, ...args], { env, extendEnv: false, reject: false });
  return { ms: performance.now() - started, code: result.exitCode ?? -1, stderr: result.stderr.slice(0, 500) };
}

/** `run` as a daemon until its first cycle is logged: peak RSS then (MB), and the longest log line. */
async function daemon(
  endpoint: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ hwmMb: number; syncMs: number; firstCycleMs: number; longestLine: number }> {
  const started = performance.now();
  const child = execa(
    process.execPath,
    [
      BIRDWATCH_MAIN,
      'run',
      '--node',
      NODE,
      '--etcd-endpoints',
      endpoint,
      '--config-dir',
      join(dir, 'daemon'),
      '--bird-socket',
      join(dir, 'none.ctl'),
      '--bird6-socket',
      join(dir, 'none6.ctl'),
      '--ipip',
      'off',
      '--listen',
      'off',
      '--log-format',
      'json',
    ],
    { env, extendEnv: false, reject: false, buffer: false, stdout: 'pipe', stderr: 'pipe' },
  );
  let longestLine = 0;
  let syncMs = NaN;
  let firstCycleMs = NaN;
  let resolveCycle!: () => void;
  const cycle = new Promise<void>((resolve) => (resolveCycle = resolve));
  let rest = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      longestLine = Math.max(longestLine, line.length);
      if (line.includes('"etcd synced"') && Number.isNaN(syncMs)) syncMs = performance.now() - started;
      if (line.includes('"component":"cycle"') || line.includes('"component":"bird"')) {
        if (Number.isNaN(firstCycleMs)) firstCycleMs = performance.now() - started;
        resolveCycle();
      }
    }
  });
  const timeout = setTimeout(resolveCycle, 120_000);
  await cycle;
  clearTimeout(timeout);
  await sleep(1_000); // let the cycle's garbage be counted (VmHWM is a peak)
  const { hwmKib } = await memoryOf(child.pid!);
  child.kill('SIGTERM');
  await child;
  return { hwmMb: kibToMb(hwmKib), syncMs, firstCycleMs, longestLine };
}

export async function main(argv: readonly string[]): Promise<void> {
  const values = parseFlags(argv, {
    hosts: { type: 'string' },
    runs: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const hosts = wholeNumber('--hosts', values.hosts, 20_000, 2);
  const runs = wholeNumber('--runs', values.runs, 3, 1);
  await withScope(async (scope) => {
    const etcd = await startEtcdLab(scope);
    const endpoint = etcd.endpoint;
    const client = etcd.client;
    const dir = await tempDir(scope, 'birdwatch-scale-');
    const keyspace = scaleKeyspace(hosts);
    const loadStarted = performance.now();
    await loadKeyspace(client, keyspace);
    const bytes = [...keyspace].reduce((n, [k, v]) => n + k.length + v.length, 0);
    process.stderr.write(
      `loaded ${keyspace.size} keys (${bytesToMb(bytes).toFixed(1)} MB) in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s\n`,
    );
    const env = { ...envWithout('ETCD_'), PATH: process.env['PATH'] ?? '' };
    const rows: string[] = [];
    const row = (what: string, value: string, target: string, met: boolean | undefined): void => {
      rows.push(`| ${what} | ${value} | ${target} | ${met === undefined ? '—' : met ? 'met' : 'missed'} |`);
    };
    for (const mesh of [false, true]) {
      await client.put(keys.nodeMesh).value(encodeNodeMesh(mesh));
      const label = mesh ? 'mesh on' : 'mesh off';
      const common = ['--node', NODE, '--etcd-endpoints', endpoint, '--ipip', 'off'];
      const measures: Record<string, number[]> = { render: [], renderNoValidate: [], once: [] };
      for (let run = 0; run < runs; run++) {
        const r = await timed(['render', ...common, '--out', join(dir, `render-${run}`)], env);
        if (r.code !== 0) throw new Error(`render failed: ${r.stderr}`);
        measures['render']!.push(r.ms);
        const n = await timed(['render', ...common, '--out', join(dir, `render-nv-${run}`), '--no-validate'], env);
        measures['renderNoValidate']!.push(n.ms);
        const o = await timed(
          [
            'run',
            '--once',
            ...common,
            '--config-dir',
            join(dir, `once-${mesh}-${run}`),
            '--bird-socket',
            join(dir, 'none.ctl'),
            '--bird6-socket',
            join(dir, 'none6.ctl'),
            '--log-level',
            'silent',
          ],
          env,
        );
        if (o.code !== 0) throw new Error(`run --once failed: ${o.stderr}`);
        measures['once']!.push(o.ms);
        process.stderr.write(
          `${label} run ${run + 1}: render ${r.ms.toFixed(0)} ms, --no-validate ${n.ms.toFixed(0)} ms, run --once ${o.ms.toFixed(0)} ms\n`,
        );
      }
      const d = await daemon(endpoint, join(dir, `d-${mesh}`), env);
      process.stderr.write(`${label} daemon: ${JSON.stringify(d)}\n`);
      row(
        `render, ${label} (validated by bird -p; median of ${runs})`,
        `${(median(measures['render']!) / 1000).toFixed(2)} s`,
        '≤ 5 s',
        median(measures['render']!) <= 5_000,
      );
      row(
        `render --no-validate, ${label}`,
        `${(median(measures['renderNoValidate']!) / 1000).toFixed(2)} s`,
        '—',
        undefined,
      );
      row(
        `run --once, ${label} (median of ${runs})`,
        `${(median(measures['once']!) / 1000).toFixed(2)} s`,
        '≤ 5 s',
        median(measures['once']!) <= 5_000,
      );
      row(
        `daemon peak RSS (VmHWM after the first cycle), ${label}`,
        `${d.hwmMb.toFixed(0)} MB`,
        mesh ? '≤ 250 MB' : '≤ 150 MB',
        d.hwmMb <= (mesh ? 250 : 150),
      );
      row(
        `daemon start → etcd synced / first cycle logged, ${label}`,
        `${(d.syncMs / 1000).toFixed(2)} s / ${(d.firstCycleMs / 1000).toFixed(2)} s`,
        '—',
        undefined,
      );
      row(`longest log line of that daemon, ${label}`, `${d.longestLine} chars`, 'bounded', d.longestLine < 4_096);
    }

    // 100,000 keys: top the keyspace up with more hosts' addresses, then time the mirror's sync of everything.
    const extra = new Map<string, string>();
    for (let i = 0; keyspace.size + extra.size < 100_000; i++)
      extra.set(keys.hostAddress(`extra-${i}`, 4), `10.250.${(i >> 8) & 255}.${i & 255}`);
    await loadKeyspace(client, extra);
    const syncs: number[] = [];
    let synced = 0;
    for (let run = 0; run < runs; run++) {
      const mirrorClient = createEtcdClient({ endpoints: [endpoint] });
      const started = performance.now();
      const mirror = new KeyspaceMirror({
        feed: etcdFeed({ client: mirrorClient, staleAfterMs: DEFAULT_STALE_AFTER_MS }),
        scope: prefixKeyScope(WATCHED_PREFIXES),
        onChange: () => undefined,
      });
      await mirror.start();
      syncs.push(performance.now() - started);
      synced = mirror.entries.size;
      await mirror.close();
      mirrorClient.close();
    }
    row(
      `mirror sync of ${synced.toLocaleString('en')} keys (paged read + watch; median of ${runs})`,
      `${(median(syncs) / 1000).toFixed(2)} s`,
      '≤ 5 s',
      median(syncs) <= 5_000,
    );
    const out = [
      `Keyspace: ${hosts.toLocaleString('en')} hosts (v4+v6, 10 % own AS, 2 IPAM blocks each) + 5,000 × 1 kB under /calico/bgp/v1/global/: ${keyspace.size.toLocaleString('en')} keys, ${bytesToMb(bytes).toFixed(1)} MB; node ${NODE}.`,
      '',
      '| measure | value | target | |',
      '|---|---|---|---|',
      ...rows,
    ].join('\n');
    process.stdout.write(
      `${out}\n\nLoad average at the end (1/5/15 min): ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}.\n`,
    );
  });
}

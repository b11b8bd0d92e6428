/**
 * startup: what one CLI invocation costs, against `node -e 0` measured in the same run (interleaved, so machine
 * load hits both alike). Wall time from spawn to exit (to the first etcd byte for
 * `run`), peak RSS from GNU time's maxrss. Needs no network namespace: BIRD runs with a device protocol only
 * (no BGP, no kernel sync: it touches nothing but its control socket) and etcd on loopback.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EtcdLab } from '../lib/etcdLab.js';
import { startBird, startTcpProxy, writeMinimalConfig } from '../lib/harness.js';
import { table, type SummaryTable } from '../lib/markdown.js';
import { BIRDWATCH_MAIN } from '../lib/paths.js';
import { tempDir, type Scope } from '../lib/scope.js';
import { kibToMb, mb, median, ms, percentile, ratio } from '../lib/stats.js';
import { STARTUP_TARGETS } from '../targets.js';

interface StartupSample {
  readonly wallMs: number;
  /** Peak RSS (KiB), when GNU time is there to measure it. */
  readonly maxRssKib: number | undefined;
}

interface StartupCase {
  readonly name: string;
  readonly command: string;
  readonly samples: StartupSample[];
  /** Target wall time (p50), ms; undefined for the reference. */
  readonly targetMs: number | undefined;
  readonly targetRssMb: number | undefined;
}

export interface StartupResult {
  readonly runs: number;
  readonly floor: StartupCase;
  readonly cases: readonly StartupCase[];
  readonly rssMeasured: boolean;
}

const GNU_TIME = '/usr/bin/time';

/**
 * Runs argv to its exit; wall time by hrtime around spawn/exit, maxrss by GNU time (its own start is not in the wall
 * time it reports, but is in ours: it is the same for the floor).
 */
function timed(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  useTime: boolean,
  untilFirstByte?: () => Promise<number>,
): Promise<StartupSample> {
  return new Promise((resolve, reject) => {
    // `run` is stopped at its first etcd byte: signalled directly (through GNU time the signal would stop time, not
    // it).
    const full = useTime && untilFirstByte === undefined ? [GNU_TIME, '-f', 'maxrss=%M', ...argv] : [...argv];
    const started = performance.now();
    const child = spawn(full[0]!, full.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    let firstByteAt: Promise<number> | undefined;
    if (untilFirstByte !== undefined) {
      firstByteAt = untilFirstByte().then((at) => {
        child.kill('SIGTERM');
        return at;
      });
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ended = performance.now();
      const maxRss = /maxrss=(\d+)/.exec(stderr)?.[1];
      const sample = (wallMs: number): StartupSample => ({
        wallMs,
        maxRssKib: maxRss === undefined ? undefined : Number(maxRss),
      });
      if (firstByteAt !== undefined) {
        firstByteAt.then((at) => resolve(sample(at - started)), reject);
        return;
      }
      if (code !== 0) {
        reject(new Error(`${argv.join(' ')} exited ${code ?? signal}: ${stderr.trim()}`));
        return;
      }
      resolve(sample(ended - started));
    });
  });
}

export async function startupBench(
  scope: Scope,
  etcd: EtcdLab,
  runs: number,
  progress: (text: string) => void,
): Promise<StartupResult> {
  const dir = await tempDir(scope, 'birdwatch-bench-startup-');
  const sockets = { bird: join(dir, 'bird.ctl'), bird6: join(dir, 'bird6.ctl') };
  for (const family of [4, 6] as const) {
    const daemon = family === 4 ? 'bird' : 'bird6';
    const configPath = join(dir, `${daemon}.cfg`);
    await writeMinimalConfig(configPath, '127.0.0.1');
    const bird = await startBird({
      family,
      configPath,
      socketPath: sockets[daemon],
      logFile: join(dir, `${daemon}.log`),
    });
    scope.teardown(() => bird.stop());
  }
  await etcd.client.put('/calico/v1/ipam/v4/pool/192.168.0.0-16').value('{"cidr":"192.168.0.0/16"}');
  await etcd.client.put('/calico/v1/ipam/v6/pool/fd00:1::-48').value('{"cidr":"fd00:1::/48"}');
  const proxy = await startTcpProxy(etcd.endpoint);
  scope.teardown(() => proxy.close());

  const useTime = existsSync(GNU_TIME);
  const env = { PATH: process.env['PATH'], HOME: process.env['HOME'], ETCD_ENDPOINTS: etcd.endpoint };
  const node = process.execPath;
  const bw = [node, BIRDWATCH_MAIN];
  const floor: StartupCase = {
    name: 'node -e 0',
    command: 'node -e 0',
    samples: [],
    targetMs: undefined,
    targetRssMb: undefined,
  };
  const cases: { case: StartupCase; argv: string[]; firstByte?: boolean }[] = [
    {
      case: {
        name: 'birdwatch --version',
        command: 'birdwatch --version',
        samples: [],
        targetMs: STARTUP_TARGETS.versionMs,
        targetRssMb: STARTUP_TARGETS.versionRssMb,
      },
      argv: [...bw, '--version'],
    },
    {
      case: {
        name: 'birdwatch --help',
        command: 'birdwatch --help',
        samples: [],
        targetMs: undefined,
        targetRssMb: undefined,
      },
      argv: [...bw, '--help'],
    },
    {
      case: {
        name: 'birdwatch status',
        command: 'birdwatch status (bird and bird6 answering)',
        samples: [],
        targetMs: STARTUP_TARGETS.statusMs,
        targetRssMb: undefined,
      },
      argv: [...bw, 'status', '--bird-socket', sockets.bird, '--bird6-socket', sockets.bird6],
    },
    {
      case: {
        name: 'birdwatch pool show',
        command: 'birdwatch pool show (etcd on loopback, 2 pools)',
        samples: [],
        targetMs: STARTUP_TARGETS.poolShowMs,
        targetRssMb: undefined,
      },
      argv: [...bw, 'pool', 'show'],
    },
    {
      case: {
        name: 'birdwatch run → first etcd request',
        command: 'birdwatch run: spawn → first byte at etcd',
        samples: [],
        targetMs: STARTUP_TARGETS.runFirstRequestMs,
        targetRssMb: undefined,
      },
      argv: [
        ...bw,
        'run',
        '--node',
        'bench-startup',
        '--config-dir',
        join(dir, 'run-config'),
        '--bird-socket',
        sockets.bird,
        '--bird6-socket',
        sockets.bird6,
        '--ipip',
        'off',
        '--listen',
        'off',
        '--log-level',
        'silent',
        '--etcd-endpoints',
        proxy.url,
      ],
      firstByte: true,
    },
  ];
  // One warm-up round (page cache, JIT-less first reads), not recorded.
  await timed([node, '-e', '0'], env, useTime);
  for (const c of cases)
    await timed(c.argv, env, useTime, c.firstByte === true ? () => proxy.nextFirstByte() : undefined);
  for (let run = 0; run < runs; run++) {
    progress(`startup: round ${run + 1}/${runs}`);
    floor.samples.push(await timed([node, '-e', '0'], env, useTime));
    for (const c of cases)
      c.case.samples.push(
        await timed(c.argv, env, useTime, c.firstByte === true ? () => proxy.nextFirstByte() : undefined),
      );
  }
  return { runs, floor, cases: cases.map((c) => c.case), rssMeasured: useTime };
}

// ---------------------------------------------------------------------------------------------------------
// report

export function startupRows(st: StartupResult, summary: SummaryTable): void {
  const floorMs = median(st.floor.samples.map((x) => x.wallMs));
  for (const c of st.cases) {
    const wall = median(c.samples.map((x) => x.wallMs));
    const rss =
      st.rssMeasured && c.samples.every((x) => x.maxRssKib !== undefined)
        ? Math.max(...c.samples.map((x) => x.maxRssKib ?? 0))
        : undefined;
    const targets = [
      c.targetMs !== undefined ? `≤ ${c.targetMs} ms` : undefined,
      c.targetRssMb !== undefined ? `≤ ${c.targetRssMb} MB peak` : undefined,
    ].filter((x) => x !== undefined);
    const pass =
      (c.targetMs === undefined || wall <= c.targetMs) &&
      (c.targetRssMb === undefined || (rss !== undefined && kibToMb(rss) <= c.targetRssMb));
    summary.add(
      [
        `CLI start-up: ${c.command} (p50 wall${rss !== undefined ? ', peak RSS' : ''})`,
        `${st.runs} runs`,
        `${ms(wall)}${rss !== undefined ? `, ${mb(rss)}` : ''}`,
        `node -e 0: ${ms(floorMs)}${st.rssMeasured ? `, ${mb(Math.max(...st.floor.samples.map((x) => x.maxRssKib ?? 0)))}` : ''}`,
        ratio(wall / floorMs),
        targets.length > 0 ? targets.join(', ') : '—',
      ],
      targets.length > 0 ? { name: `start-up: ${c.name}`, pass } : undefined,
    );
  }
}

export function startupDetail(st: StartupResult): string[] {
  const all = [st.floor, ...st.cases];
  return [
    '### CLI start-up',
    '',
    'One invocation of the built CLI (`node dist/cli/main.js …`), interleaved round by round with `node -e 0` so machine',
    'load falls on both alike: wall time from spawn to exit (`run`: to the first byte a loopback proxy in front of etcd',
    `receives), peak RSS from GNU time's maxrss${st.rssMeasured ? '' : ' (not measured: /usr/bin/time is missing)'}. \`status\` asks a real bird and bird6 (device`,
    'protocol only); `pool show` reads a real etcd on loopback.',
    '',
    table(
      ['Command', 'Runs', 'p50', 'p90', 'min', 'p50 / node -e 0', 'peak RSS (max)'],
      all.map((c) => {
        const wall = c.samples.map((x) => x.wallMs);
        const floor = median(st.floor.samples.map((x) => x.wallMs));
        const measured = st.rssMeasured && c.samples.every((x) => x.maxRssKib !== undefined);
        return [
          c.command,
          String(wall.length),
          ms(median(wall)),
          ms(percentile(wall, 90)),
          ms(Math.min(...wall)),
          ratio(median(wall) / floor),
          measured ? mb(Math.max(...c.samples.map((x) => x.maxRssKib ?? 0))) : '—',
        ];
      }),
    ),
    '',
  ];
}

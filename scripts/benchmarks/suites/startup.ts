/**
 * startup: what one CLI invocation costs, against `node -e 0` measured in the same run (interleaved, so machine
 * load hits both alike). Wall time from spawn to exit (to the first etcd byte for `run`), the CPU time it took (user +
 * system, all threads: what machine load does not inflate), peak RSS from GNU time's maxrss. Needs no network
 * namespace: BIRD runs with a device protocol only (no BGP, no kernel sync: it touches nothing but its control
 * socket), etcd on loopback, and `check live` asks a `birdwatch run` that has no BIRD of its own.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBirdwatch } from '../lib/birdwatch.js';
import type { EtcdLab } from '../lib/etcdLab.js';
import { freePort, startBird, startTcpProxy, writeMinimalConfig } from '../lib/harness.js';
import { table, type SummaryTable } from '../lib/markdown.js';
import { BIRDWATCH_MAIN, DIST } from '../lib/paths.js';
import { sleep, tempDir, type Scope } from '../lib/scope.js';
import { kibToMb, mb, median, ms, percentile, ratio } from '../lib/stats.js';
import { STARTUP_TARGETS } from '../targets.js';

interface StartupSample {
  readonly wallMs: number;
  /** User + system CPU time (ms, 10 ms ticks), when GNU time (or /proc, for `run`) is there to measure it. */
  readonly cpuMs: number | undefined;
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
  /** A part of `run`'s start measured alone, for the reason of a miss: node loading the etcd client, or run's code. */
  readonly part?: 'etcd client' | 'run code';
}

export interface StartupResult {
  readonly runs: number;
  readonly floor: StartupCase;
  readonly cases: readonly StartupCase[];
  readonly rssMeasured: boolean;
}

const GNU_TIME = '/usr/bin/time';
/** /proc/PID/stat counts CPU time in clock ticks: 100 a second on Linux (USER_HZ). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time (ms) a live process has used so far, from /proc/PID/stat; undefined without /proc. */
async function cpuMsOf(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, in parentheses): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Runs argv to its exit; wall time by hrtime around spawn/exit, CPU time and maxrss by GNU time (its own start is not
 * in the wall time it reports, but is in ours: it is the same for the floor). `untilFirstByte`: stopped when it
 * resolves (the first byte at etcd), CPU time read from /proc just before.
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
    const full = useTime && untilFirstByte === undefined ? [GNU_TIME, '-f', 'maxrss=%M cpu=%U+%S', ...argv] : [...argv];
    const started = performance.now();
    const child = spawn(full[0]!, full.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    let firstByte: Promise<{ at: number; cpuMs: number | undefined }> | undefined;
    if (untilFirstByte !== undefined) {
      firstByte = untilFirstByte().then(async (at) => {
        const cpuMs = await cpuMsOf(child.pid);
        child.kill('SIGTERM');
        return { at, cpuMs };
      });
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ended = performance.now();
      const maxRss = /maxrss=(\d+)/.exec(stderr)?.[1];
      const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(stderr);
      const sample = (wallMs: number, cpuMs: number | undefined): StartupSample => ({
        wallMs,
        cpuMs,
        maxRssKib: maxRss === undefined ? undefined : Number(maxRss),
      });
      if (firstByte !== undefined) {
        firstByte.then(({ at, cpuMs }) => resolve(sample(at - started, cpuMs)), reject);
        return;
      }
      if (code !== 0) {
        reject(new Error(`${argv.join(' ')} exited ${code ?? signal}: ${stderr.trim()}`));
        return;
      }
      resolve(sample(ended - started, cpu === null ? undefined : (Number(cpu[1]) + Number(cpu[2])) * 1000));
    });
  });
}

/** Nodes in the keyspace `node show` lists. */
const HOSTS = 3;

/** Waits until the running birdwatch's /healthz answers 200 (its first sync done, the heartbeat ticking). */
async function untilLive(url: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const status = await fetch(url).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => undefined,
    );
    if (status === 200) return;
    if (performance.now() > deadline) throw new Error(`${url} did not answer 200 within 30 s (last: ${status})`);
    await sleep(100);
  }
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
  for (let host = 1; host <= HOSTS; host++) {
    await etcd.client.put(`/calico/bgp/v1/host/bench-${host}/ip_addr_v4`).value(`10.0.0.${host}`);
    await etcd.client.put(`/calico/bgp/v1/host/bench-${host}/ip_addr_v6`).value('');
  }
  const proxy = await startTcpProxy(etcd.endpoint);
  scope.teardown(() => proxy.close());
  // What `check live` asks: a running birdwatch with no BIRD of its own (sockets nothing listens on, so the bench's
  // BIRDs keep their configuration); its control loop ticks while its cycles fail and are retried.
  const opsPort = await freePort();
  const daemon = await startBirdwatch(scope, {
    endpoint: etcd.endpoint,
    configDir: join(dir, 'check-config'),
    sockets: { bird: join(dir, 'absent-bird.ctl'), bird6: join(dir, 'absent-bird6.ctl') },
    minReloadIntervalMs: undefined,
    maxReloadShare: undefined,
    extraArgs: ['--listen', `127.0.0.1:${opsPort}`],
  });
  await daemon.waitFor((line) => line.fields['event'] === 'starting', { what: 'birdwatch starting' });
  await untilLive(`http://127.0.0.1:${opsPort}/healthz`);

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
  const oneShot = (name: string, command: string, args: readonly string[]) => ({
    case: { name, command, samples: [], targetMs: STARTUP_TARGETS.oneShotMs, targetRssMb: undefined },
    argv: [...bw, ...args],
  });
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
    oneShot('birdwatch status', 'birdwatch status (bird and bird6 answering)', [
      'status',
      '--bird-socket',
      sockets.bird,
      '--bird6-socket',
      sockets.bird6,
    ]),
    oneShot('birdwatch check live', 'birdwatch check live (a running birdwatch answers)', [
      'check',
      'live',
      '--listen',
      `127.0.0.1:${opsPort}`,
    ]),
    oneShot('birdwatch pool show', 'birdwatch pool show (etcd on loopback, 2 pools)', ['pool', 'show']),
    oneShot('birdwatch node show', `birdwatch node show (${HOSTS} nodes)`, ['node', 'show']),
    oneShot('birdwatch bgp peer add', 'birdwatch bgp peer add (read, then one transaction)', [
      'bgp',
      'peer',
      'add',
      '172.17.8.1',
      'as',
      '64567',
    ]),
    // The parts of `run`'s start, each loaded alone by node (exits when loaded): the reason if `run` misses.
    {
      case: {
        name: 'node: load the etcd client',
        command: "node: import birdwatch's etcd client module (etcd3 with its prebuilt definition)",
        samples: [],
        targetMs: undefined,
        targetRssMb: undefined,
        part: 'etcd client',
      },
      argv: [node, '--input-type=module', '-e', `await import(${JSON.stringify(join(DIST, 'datastore', 'etcd3.js'))})`],
    },
    {
      case: {
        name: 'birdwatch run --help',
        command: "birdwatch run --help (`run`'s code loaded, its help printed)",
        samples: [],
        targetMs: undefined,
        targetRssMb: undefined,
        part: 'run code',
      },
      argv: [...bw, 'run', '--help'],
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

/** The median CPU time of a case's samples, when every sample has one. */
function cpuMedian(c: StartupCase): number | undefined {
  const cpu = c.samples.map((x) => x.cpuMs);
  return cpu.every((x) => x !== undefined) ? median(cpu) : undefined;
}

export function startupRows(st: StartupResult, summary: SummaryTable): void {
  const floorMs = median(st.floor.samples.map((x) => x.wallMs));
  for (const c of st.cases) {
    const wall = median(c.samples.map((x) => x.wallMs));
    const cpu = cpuMedian(c);
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
        `CLI start-up: ${c.command} (p50 wall${cpu !== undefined ? ', CPU' : ''}${rss !== undefined ? ', peak RSS' : ''})`,
        `${st.runs} runs`,
        `${ms(wall)}${cpu !== undefined ? `, CPU ${ms(cpu)}` : ''}${rss !== undefined ? `, ${mb(rss)}` : ''}`,
        `node -e 0: ${ms(floorMs)}${st.rssMeasured ? `, ${mb(Math.max(...st.floor.samples.map((x) => x.maxRssKib ?? 0)))}` : ''}`,
        ratio(wall / floorMs),
        targets.length > 0 ? targets.join(', ') : '—',
      ],
      targets.length > 0 ? { name: `start-up: ${c.name}`, pass, why: startupMissReason(st, c, floorMs) } : undefined,
    );
  }
}

/** Where a command's time goes, from the parts measured alone in the same rounds: node, the etcd client, the code. */
function startupMissReason(st: StartupResult, c: StartupCase, floorMs: number): string {
  const p50 = (part: StartupCase['part']): number | undefined => {
    const found = st.cases.find((x) => x.part === part);
    return found === undefined ? undefined : median(found.samples.map((x) => x.wallMs));
  };
  const etcdClient = p50('etcd client');
  const runCode = p50('run code');
  const wall = median(c.samples.map((x) => x.wallMs));
  if (etcdClient === undefined || runCode === undefined) return `p50 ${ms(wall)} (its parts were not measured).`;
  return (
    `p50 ${ms(wall)}: node itself starts and exits in ${ms(floorMs)}; node loading the etcd client alone ` +
    `(etcd3, gRPC and the prebuilt protobuf definition) in ${ms(etcdClient)}; birdwatch loading all of \`run\`'s code ` +
    `in ${ms(runCode)} (\`run --help\`), of which ${ms(runCode - etcdClient)} is birdwatch's own modules and their other packages ` +
    '(commander, pino, handlebars, prom-client…)' +
    (c.name.startsWith('birdwatch run')
      ? `; the remaining ${ms(Math.max(0, wall - runCode))} is \`run\` itself before its first request: ` +
        '`bird --version`, the config-dir lock, the templates, the first read sent.'
      : '.')
  );
}

export function startupDetail(st: StartupResult): string[] {
  const all = [st.floor, ...st.cases];
  return [
    '### CLI start-up',
    '',
    'One invocation of the built CLI (`node dist/cli/main.js …`), interleaved round by round with `node -e 0` so machine',
    'load falls on both alike: wall time from spawn to exit (`run`: to the first byte a loopback proxy in front of etcd',
    "receives), CPU time (user + system, all of the process's threads, in 10 ms ticks; `run`: until that byte), peak RSS",
    `from GNU time's maxrss${st.rssMeasured ? '' : ' (not measured: /usr/bin/time is missing)'}. \`status\` asks a real bird and bird6 (device protocol only);`,
    '`check live` a running birdwatch; `pool show`, `node show` and `bgp peer add` a real etcd on loopback.',
    '',
    table(
      ['Command', 'Runs', 'p50', 'p90', 'min', 'p50 / node -e 0', 'CPU p50', 'peak RSS (max)'],
      all.map((c) => {
        const wall = c.samples.map((x) => x.wallMs);
        const floor = median(st.floor.samples.map((x) => x.wallMs));
        const measured = st.rssMeasured && c.samples.every((x) => x.maxRssKib !== undefined);
        const cpu = cpuMedian(c);
        return [
          c.command,
          String(wall.length),
          ms(median(wall)),
          ms(percentile(wall, 90)),
          ms(Math.min(...wall)),
          ratio(median(wall) / floor),
          cpu === undefined ? '—' : ms(cpu),
          measured ? mb(Math.max(...c.samples.map((x) => x.maxRssKib ?? 0))) : '—',
        ];
      }),
    ),
    '',
  ];
}

/**
 * `birdwatch run` as a child process of the bench (the built dist/, as shipped), whose JSON log lines are read as
 * they arrive: what it did and when. Stopped by PID through the scope.
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { envWithout } from './harness.js';
import { BENCH_NODE } from './keyspace.js';
import { BIRDWATCH_MAIN } from './paths.js';
import { sleep, type Scope } from './scope.js';

export interface LogLine {
  /** performance.now() when the bench read the line. */
  readonly readAt: number;
  /** The line's own `time` (epoch ms). */
  readonly time: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

export interface BirdwatchOptions {
  readonly endpoint: string;
  readonly configDir: string;
  readonly sockets: { readonly bird: string; readonly bird6: string };
  /** `--min-reload-interval` / `--max-reload-share`; birdwatch's defaults when undefined. */
  readonly minReloadIntervalMs: number | undefined;
  readonly maxReloadShare: number | undefined;
  /** Where `node --cpu-prof` writes its profile (on a clean exit); no profiling when absent. */
  readonly cpuProfDir?: string | undefined;
  /** The CLI to run (another build's dist/cli/main.js); this checkout's dist/ by default. */
  readonly main?: string;
  /** Node flags before the script (V8 heap flags, --heapsnapshot-signal). */
  readonly nodeFlags?: readonly string[];
  /** Added to the environment (which is the bench's without ETCD_*: the endpoints come from the flag). */
  readonly env?: Readonly<Record<string, string>>;
  /** More `run` flags, after the bench's own. */
  readonly extraArgs?: readonly string[];
}

export interface Birdwatch {
  readonly pid: number;
  /** Date.now() just before the process was spawned. */
  readonly spawnedAt: number;
  readonly lines: LogLine[];
  /** Resolves with the first line at index ≥ `from` that matches (throws after `timeoutMs` or if birdwatch exits). */
  waitFor(
    match: (line: LogLine) => boolean,
    options?: { from?: number; timeoutMs?: number; what?: string },
  ): Promise<LogLine>;
  /** Resolves once no line has arrived for `quietMs`. */
  quiet(quietMs: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM by PID (birdwatch finishes its cycle and exits 0), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export async function startBirdwatch(scope: Scope, options: BirdwatchOptions): Promise<Birdwatch> {
  const nodeArgs = [
    ...(options.nodeFlags ?? []),
    ...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : []),
  ];
  const args = [
    ...nodeArgs,
    options.main ?? BIRDWATCH_MAIN,
    'run',
    '--node',
    BENCH_NODE,
    '--etcd-endpoints',
    options.endpoint,
    '--config-dir',
    options.configDir,
    '--bird-socket',
    options.sockets.bird,
    '--bird6-socket',
    options.sockets.bird6,
    '--ipip',
    'off',
    ...(options.minReloadIntervalMs === undefined ? [] : ['--min-reload-interval', `${options.minReloadIntervalMs}ms`]),
    ...(options.maxReloadShare === undefined ? [] : ['--max-reload-share', String(options.maxReloadShare)]),
    '--log-format',
    'json',
    '--log-level',
    'info',
    ...(options.extraArgs ?? []),
  ];
  const spawnedAt = Date.now();
  const child: ResultPromise = execa(process.execPath, args, {
    env: { ...envWithout('ETCD_'), ...options.env },
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('birdwatch did not start');
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
  });
  const reader = createInterface({ input: child.stdout! });
  reader.on('line', (text) => {
    const readAt = performance.now();
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push({ readAt, time: Date.parse(String(fields['time'])), msg: String(fields['msg']), fields });
    for (const wake of waiters) wake();
  });
  const done = child.then(() => {
    exited = true;
    for (const wake of waiters) wake();
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  };
  scope.teardown(stop);

  const waitFor: Birdwatch['waitFor'] = (match, { from = 0, timeoutMs = 60_000, what = 'a log line' } = {}) =>
    new Promise<LogLine>((resolve, reject) => {
      let index = from;
      const check = (): void => {
        for (; index < lines.length; index++) {
          const line = lines[index]!;
          if (match(line)) {
            finish();
            resolve(line);
            return;
          }
        }
        if (exited) {
          finish();
          reject(
            new Error(
              `birdwatch exited while the bench waited for ${what}; stderr: ${stderr.trim()}; last lines: ${lines
                .slice(-3)
                .map((l) => JSON.stringify(l.fields))
                .join('\n')}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; last lines: ${lines
              .slice(-3)
              .map((l) => JSON.stringify(l.fields).slice(0, 400))
              .join('\n')}`,
          ),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const quiet: Birdwatch['quiet'] = async (quietMs, timeoutMs = 60_000) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const last = lines.at(-1)?.readAt ?? 0;
      const idleFor = performance.now() - last;
      if (idleFor >= quietMs) return;
      if (performance.now() > deadline) throw new Error(`birdwatch kept logging for ${timeoutMs} ms`);
      await sleep(quietMs - idleFor + 5);
    }
  };
  return { pid, spawnedAt, lines, waitFor, quiet, stop };
}

/** A cycle's log line: BIRD was (re)configured by it. */
export const isApplyLine = (line: LogLine): boolean =>
  line.fields['event'] === 'configuration-applied' || line.fields['event'] === 'reloaded';

/** The `configure` commands a cycle line reports, per daemon, and whether BIRD accepted each. */
export function reloadsOf(line: LogLine): { daemon: string; ok: boolean; text: string }[] {
  const reload = line.fields['reload'];
  if (reload === null || typeof reload !== 'object') return [];
  return Object.entries(reload as Record<string, unknown>).map(([daemon, text]) => ({
    daemon,
    ok: /^(Reconfigured|Reconfiguration in progress)/.test(String(text)),
    text: String(text),
  }));
}

export function assertReloadsAccepted(line: LogLine, what: string): void {
  for (const reload of reloadsOf(line)) {
    if (!reload.ok) throw new Error(`${what}: ${reload.daemon} did not accept the configuration: ${reload.text}`);
  }
}

/** Milliseconds BIRD took to answer `configure` for `daemon`, from the cycle line ("Reconfigured (8.1 ms)"). */
export function reloadMsOf(line: LogLine | undefined, daemon: string): number {
  const text = (line?.fields['reload'] as Record<string, string> | undefined)?.[daemon];
  const m = text === undefined ? null : /\(([\d.]+) ms\)/.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** `+Mesh_10_0_0_5` names a cycle line reports as added. */
export function addedProtocols(line: LogLine): string[] {
  const changes = line.fields['changes'];
  if (typeof changes !== 'string') return [];
  return changes.split(' ').flatMap((c) => (c.startsWith('+') ? [c.slice(1)] : []));
}

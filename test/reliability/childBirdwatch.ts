import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  envWithout,
  exitOf,
  hasExited,
  spawnLogged,
  stopChild,
  type ExitInfo,
  type TeardownRegistrar,
} from '../harness/process.js';
import { NODE, type World } from '../support/world.js';

const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** `node dist/cli/main.js run …` as a child process of the test, its JSON log lines in a file. */
export interface ChildBirdwatch {
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ExitInfo>;
  running(): boolean;
  /** Parsed JSON log lines (a line cut by a SIGKILL is skipped). */
  lines(): Record<string, unknown>[];
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<ExitInfo>;
  /** Resident set size (kB) from /proc/<pid>/status. */
  rssKb(): number;
}

function requireBuild(): void {
  if (!existsSync(DIST_MAIN))
    throw new Error(`${DIST_MAIN} is missing: run \`npm run build\` first (scripts/test and scripts/soak do)`);
}

export async function startBirdwatch(
  t: TeardownRegistrar,
  world: World,
  options: { args?: readonly string[]; logName?: string } = {},
): Promise<ChildBirdwatch> {
  requireBuild();
  const logFile = join(world.dir, options.logName ?? 'birdwatch.log');
  const args = [
    DIST_MAIN,
    'run',
    '--node',
    NODE,
    '--config-dir',
    world.configDir,
    '--etcd-endpoints',
    world.etcd.endpoints.join(','),
    '--bird-socket',
    world.sockets.bird,
    '--bird6-socket',
    world.sockets.bird6,
    '--ipip',
    'off',
    '--log-format',
    'json',
    '--log-level',
    'info',
    ...(options.args ?? []),
  ];
  const child = await spawnLogged(process.execPath, args, { logFile, env: { ...envWithout('ETCD_'), NODENAME: NODE } });
  const pid = child.pid!;
  let stopping: Promise<ExitInfo> | undefined;
  const proc: ChildBirdwatch = {
    pid,
    logFile,
    exited: exitOf(child),
    running: () => !hasExited(child),
    lines: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .flatMap((line) => {
          if (!line.startsWith('{')) return [];
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    kill: (signal) => {
      if (!hasExited(child)) child.kill(signal);
    },
    stop: () => (stopping ??= stopChild(child)),
    rssKb: () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    },
  };
  t.teardown(() => proc.stop());
  return proc;
}

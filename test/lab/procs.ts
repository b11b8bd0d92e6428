/**
 * Lab processes: started detached (they outlive `scripts/lab up`), identified by PID *and* start time
 * (so a recycled PID is never signalled), stopped by PID: SIGTERM, then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { delay } from '../harness/process.js';

/** What the state file records about one started process. */
export interface ProcessRecord {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot): with the PID, it identifies the process. */
  readonly startTime: string;
  /** e.g. `etcd m0`, `bird calico-01`, `birdwatch calico-01`. */
  readonly label: string;
  readonly argv: readonly string[];
  readonly logFile: string;
}

export interface StartedProcess {
  readonly record: ProcessRecord;
  /** Our ChildProcess handle (only in the process that started it). */
  readonly child: ChildProcess;
}

/** `/proc/PID/stat` split after the command name: [state, ppid, …]; undefined if there is no such process. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  return close < 0 ? undefined : text.slice(close + 2).trim().split(' ');
}

/** The start time of a live (non-zombie) process, or undefined. */
export function processStartTime(pid: number): string | undefined {
  const fields = statFields(pid);
  if (fields === undefined || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** True while the recorded process (same PID and start time) runs. */
export function isRunning(record: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  return processStartTime(record.pid) === record.startTime;
}

export interface SpawnDetachedOptions {
  readonly label: string;
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/**
 * Starts `argv` in its own process group with stdout/stderr appended to `logFile`, not keeping this
 * process alive (so `scripts/lab up` can exit while the lab runs).
 */
export async function spawnDetached(argv: readonly string[], options: SpawnDetachedOptions): Promise<StartedProcess> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error(`${options.label}: empty command`);
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
  } finally {
    closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`${options.label}: cannot start ${command}: ${e.message}`, { cause: e })));
  });
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.label}: started without a PID`);
  const startTime = processStartTime(pid);
  if (startTime === undefined) {
    throw new Error(`${options.label}: ${command} exited at once (see ${options.logFile})`);
  }
  return { child, record: { pid, startTime, label: options.label, argv: [...argv], logFile: options.logFile } };
}

/**
 * Stops the recorded processes that still run: SIGTERM to each PID, up to `graceMs` for all of them to
 * exit, then SIGKILL. Returns the labels of the ones that needed SIGKILL. Never signals a PID whose
 * start time differs from the record (the process is gone and the PID reused).
 */
export async function stopProcesses(records: readonly ProcessRecord[], graceMs = 3_000): Promise<string[]> {
  const signal = (r: ProcessRecord, sig: NodeJS.Signals): void => {
    if (!isRunning(r)) return;
    try {
      process.kill(r.pid, sig);
    } catch {
      // exited in between
    }
  };
  const live = records.filter(isRunning);
  for (const r of live) signal(r, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some(isRunning) && Date.now() < deadline) await delay(25);
  const stubborn = live.filter(isRunning);
  for (const r of stubborn) signal(r, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (stubborn.some(isRunning) && Date.now() < killDeadline) await delay(25);
  const still = stubborn.filter(isRunning);
  if (still.length > 0) throw new Error(`still running after SIGKILL: ${still.map((r) => `${r.label} (PID ${r.pid})`).join(', ')}`);
  return stubborn.map((r) => r.label);
}

/** Synchronous last resort for a test process that exits with the lab still up: SIGKILL by PID. */
export function killProcessesSync(records: readonly ProcessRecord[]): void {
  for (const r of records) {
    if (!isRunning(r)) continue;
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * Lab daemons that run but are not in the state file: a process the lab had just spawned when it was
 * SIGKILLed, before it could record the PID. Only the exact command shapes the lab starts, with a path
 * inside `stateDir` in the position the lab puts it, qualify (etcd `--data-dir`, bird/bird6 `-c`,
 * `birdwatch run --config-dir`), so e.g. `tail -f <stateDir>/…/bird.log` or `scripts/lab status` never do.
 */
export function unrecordedLabProcesses(stateDir: string, recorded: readonly ProcessRecord[]): ProcessRecord[] {
  const inside = (path: string | undefined): boolean => path !== undefined && path.startsWith(`${stateDir}/`);
  const known = new Set(recorded.map((r) => `${r.pid}:${r.startTime}`));
  const found: ProcessRecord[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      continue;
    }
    const after = (flag: string): string | undefined => {
      const i = argv.indexOf(flag);
      return i < 0 ? undefined : argv[i + 1];
    };
    const exe = basename(argv[0] ?? '');
    const ours =
      (exe === 'etcd' && inside(after('--data-dir'))) ||
      ((exe === 'bird' || exe === 'bird6') && argv.includes('-d') && inside(after('-c'))) ||
      (exe === 'ip' && argv[1] === 'netns' && argv[2] === 'exec' && inside(after('-c'))) ||
      (exe === 'node' && argv.includes('run') && inside(after('--config-dir')));
    if (!ours) continue;
    const startTime = processStartTime(pid);
    if (startTime === undefined || known.has(`${pid}:${startTime}`)) continue;
    found.push({ pid, startTime, label: `unrecorded ${exe}`, argv, logFile: '' });
  }
  return found;
}

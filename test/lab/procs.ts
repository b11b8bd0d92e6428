/**
 * Lab processes: started detached (they outlive `scripts/lab up`), identified by PID *and* start time
 * (so a recycled PID is never signalled), stopped by PID: SIGTERM, then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
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
  /**
   * How to stop it. A supervisor (`runsvdir`) is stopped with SIGHUP — it then sends TERM to every runsv,
   * which stops its service (bird, birdwatch, svlogd) — where SIGTERM would make it exit alone and orphan
   * them; its descendants, found when it is stopped, are then waited for and SIGKILLed if need be.
   */
  readonly stopSignal?: 'SIGHUP';
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
  return close < 0
    ? undefined
    : text
        .slice(close + 2)
        .trim()
        .split(' ');
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

/** The live descendants of `pid` (children, their children, …), each with its start time. */
export function descendants(pid: number): ProcessRecord[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields === undefined) continue;
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: ProcessRecord[] = [];
  const visit = (parent: number): void => {
    for (const child of children.get(parent) ?? []) {
      const startTime = processStartTime(child);
      if (startTime === undefined) continue;
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${child}/cmdline`, 'utf8')
          .split('\0')
          .filter((a) => a !== '');
      } catch {
        // exited meanwhile
      }
      found.push({ pid: child, startTime, label: `child of ${pid}: ${basename(argv[0] ?? '?')}`, argv, logFile: '' });
      visit(child);
    }
  };
  visit(pid);
  return found;
}

export interface SpawnDetachedOptions {
  readonly label: string;
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly stopSignal?: 'SIGHUP';
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
    child.once('error', (e) =>
      reject(new Error(`${options.label}: cannot start ${command}: ${e.message}`, { cause: e })),
    );
  });
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.label}: started without a PID`);
  const startTime = processStartTime(pid);
  if (startTime === undefined) {
    throw new Error(`${options.label}: ${command} exited at once (see ${options.logFile})`);
  }
  const record: ProcessRecord = { pid, startTime, label: options.label, argv: [...argv], logFile: options.logFile };
  return { child, record: options.stopSignal !== undefined ? { ...record, stopSignal: options.stopSignal } : record };
}

/**
 * Stops the recorded processes that still run: each gets its stop signal (SIGTERM, or SIGHUP for a
 * supervisor, whose descendants are collected first and waited for as well), up to `graceMs` for all of
 * them to exit, then SIGKILL. Returns the labels of the ones that needed SIGKILL. Never signals a PID whose
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
  const supervised = live.filter((r) => r.stopSignal !== undefined).flatMap((r) => descendants(r.pid));
  for (const r of live) signal(r, r.stopSignal ?? 'SIGTERM');
  const all = [...live, ...supervised];
  const deadline = Date.now() + graceMs + (supervised.length > 0 ? 2_000 : 0);
  while (all.some(isRunning) && Date.now() < deadline) await delay(25);
  const stubborn = all.filter(isRunning);
  for (const r of stubborn) signal(r, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (stubborn.some(isRunning) && Date.now() < killDeadline) await delay(25);
  const still = stubborn.filter(isRunning);
  if (still.length > 0)
    throw new Error(`still running after SIGKILL: ${still.map((r) => `${r.label} (PID ${r.pid})`).join(', ')}`);
  return stubborn.map((r) => r.label);
}

/** Synchronous last resort for a test process that exits with the lab still up: SIGKILL by PID. */
export function killProcessesSync(records: readonly ProcessRecord[]): void {
  const supervised = records
    .filter((r) => r.stopSignal !== undefined && isRunning(r))
    .flatMap((r) => descendants(r.pid));
  for (const r of [...records, ...supervised]) {
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
 * SIGKILLed, before it could record the PID, or the services of a runsvdir that was SIGKILLed. Only the
 * exact command shapes the lab starts, with a path inside `stateDir` in the position the lab puts it,
 * qualify (etcd `--data-dir`, bird/bird6 `-c`, `birdwatch run --config-dir`, `runsvdir -P`, the etcd
 * relay's sockets), and runit's own programs working in a host's service directory, so e.g.
 * `tail -f <stateDir>/…/current` or `scripts/lab status` never do.
 */
/** What a lab host's runsvdir runs: runsv, svlogd, the run scripts (sh), and the services they start. */
const SUPERVISED_EXES = new Set(['runsv', 'svlogd', 'sh', 'sleep', 'bird', 'bird6', 'node', 'birdwatch']);

function cwdOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

export function unrecordedLabProcesses(stateDir: string, recorded: readonly ProcessRecord[]): ProcessRecord[] {
  const inside = (path: string | undefined): boolean => path !== undefined && path.startsWith(`${stateDir}/`);
  const supervised = recorded
    .filter((r) => r.stopSignal !== undefined && isRunning(r))
    .flatMap((r) => descendants(r.pid));
  const known = new Set([...recorded, ...supervised].map((r) => `${r.pid}:${r.startTime}`));
  const found: ProcessRecord[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
    } catch {
      continue;
    }
    const after = (flag: string): string | undefined => {
      const i = argv.indexOf(flag);
      return i < 0 ? undefined : argv[i + 1];
    };
    const exe = basename(argv[0] ?? '');
    const relay = argv.some((a) => a.endsWith('etcdRelay.mjs')) && argv.some((a) => a.includes(`${stateDir}/`));
    const ours =
      (exe === 'etcd' && inside(after('--data-dir'))) ||
      ((exe === 'bird' || exe === 'bird6') && argv.includes('-d') && inside(after('-c'))) ||
      (exe === 'ip' &&
        argv[1] === 'netns' &&
        argv[2] === 'exec' &&
        (inside(after('-c')) || inside(after('-P')) || relay)) ||
      (exe === 'runsvdir' && inside(after('-P'))) ||
      (exe === 'node' && (relay || (argv.includes('run') && inside(after('--config-dir'))))) ||
      // runsv, svlogd, a run script, or a service it started, orphaned by a SIGKILLed runsvdir: runit runs
      // them in the host's service directories.
      (SUPERVISED_EXES.has(exe) && cwdOf(pid).startsWith(`${stateDir}/hosts/`));
    if (!ours) continue;
    const startTime = processStartTime(pid);
    if (startTime === undefined || known.has(`${pid}:${startTime}`)) continue;
    found.push({ pid, startTime, label: `unrecorded ${exe}`, argv, logFile: '' });
  }
  return found;
}

import { execa, type ResultPromise } from 'execa';
import type { Test } from 'tap';
import { envWithout } from '../harness/process.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface BirdwatchProcess {
  readonly pid: number | undefined;
  /** JSON log lines read from stdout so far. */
  readonly lines: Record<string, unknown>[];
  /** Everything printed so far (stdout and stderr interleaved), raw. */
  output(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ readonly code: number | undefined; readonly signal: string | undefined }>;
  /** Signals the process by PID. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * `birdwatch <args>` as a real process (node + tsx on the sources), with only the environment given (no
 * inherited ETCD_* variables); killed by PID on teardown if still running.
 */
export function spawnBirdwatch(
  t: Test,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): BirdwatchProcess {
  const child: ResultPromise = execa('node', ['--import', 'tsx', MAIN, ...args], {
    reject: false,
    env: { ...envWithout('ETCD'), ...env },
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
  });
  let all = '';
  let stderr = '';
  let pending = '';
  const lines: Record<string, unknown>[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    all += text;
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ unparsed: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    all += chunk.toString('utf8');
    stderr += chunk.toString('utf8');
  });
  const exited = child.then((result) => ({ code: result.exitCode, signal: result.signal }));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    pid: child.pid,
    lines,
    output: () => all,
    stderr: () => stderr,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** Resolves with the exit, or rejects after `timeoutMs` (the process is then killed by PID). */
export async function exitWithin(
  proc: BirdwatchProcess,
  timeoutMs: number,
): Promise<{ readonly code: number | undefined; readonly signal: string | undefined }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([proc.exited, timeout]);
  clearTimeout(timer);
  if (first !== 'timeout') return first;
  proc.kill('SIGKILL');
  throw new Error(`birdwatch did not exit within ${timeoutMs} ms; output:\n${proc.output()}`);
}

/**
 * Offline validation of a BIRD configuration file with `bird -p -c FILE` (parse only).
 *
 * BIRD exits 0 with no output when the file is valid; otherwise it exits 1 and prints one line on stderr:
 * `bird: <file>:<line>:<col> <message>` (BIRD 1.6 — both bird and bird6 say `bird:` — and 2.x), or a line without
 * a location, e.g. `bird: Unable to open configuration file X: No such file or directory`. BIRD 3 prefixes its
 * log format: `bird: 2026-12-06 23:17:00.751 [0001] <FATAL> <file>:<line>:<col> <message>` (captured from 3.1.0
 * and 3.3.2 in fixtures/bird-outputs/bird-<version>/bird-p-errors.txt). BIRD 2 and 3 word messages more
 * precisely (`syntax error, unexpected CF_SYM_UNDEFINED`).
 */
import { spawn } from 'node:child_process';
import { parseBirdConfigError, withoutPrefixes } from './configError.js';
import { BirdBinaryMissingError, BirdValidationTimeoutError } from './errors.js';

/** `bird`, `bird6`, or a path to a BIRD executable. */
export type BirdBinary = 'bird' | 'bird6' | (string & {});

export interface ValidateBirdConfigOptions {
  readonly binary: BirdBinary;
  readonly configPath: string;
  readonly signal?: AbortSignal;
  /** Kill `bird -p` after this long (ms) and throw BirdValidationTimeoutError; default 30 s. */
  readonly timeoutMs?: number;
}

/** `bird -p` takes 28 ms at 10,000 peers: 30 s only trips on a hung or starved process. */
export const DEFAULT_VALIDATE_TIMEOUT_MS = 30_000;

/** Process groups of running validations: detached, so a dying birdwatch must kill them itself. */
const runningGroups = new Set<number>();
process.on('exit', () => {
  for (const group of runningGroups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export type ValidateBirdConfigResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Undefined when BIRD's message carries no `file:line:col` (e.g. the file cannot be opened). */
      readonly file: string | undefined;
      readonly line: number | undefined;
      readonly column: number | undefined;
      /** BIRD's message without the `bird: ` prefix and location. */
      readonly message: string;
      /** Everything BIRD printed (stderr, then stdout), trimmed. */
      readonly raw: string;
      readonly exitCode: number | undefined;
    };

/** BIRD prints one line on error; a runaway output is not BIRD (kept per stream, the rest dropped). */
const MAX_OUTPUT_CHARS = 1024 * 1024;

interface ParseRun {
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** The spawn itself failed (ENOENT, EACCES): no process ran. */
  readonly spawnError: NodeJS.ErrnoException | undefined;
}

/**
 * Runs `<binary> -p -c <configPath>` (argument array, no shell). Resolves with the verdict;
 * throws BirdBinaryMissingError if the binary cannot be started, BirdValidationTimeoutError when it hangs, the
 * signal's reason on abort.
 *
 * A plain `child_process.spawn` (execa cost 2.5–4 ms a call here), with the same guarantees: its own process
 * group (detached), killed whole on abort, timeout, runaway output or our own exit; output bounded.
 */
export async function validateBirdConfig(options: ValidateBirdConfigOptions): Promise<ValidateBirdConfigResult> {
  const { binary, configPath, signal } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_VALIDATE_TIMEOUT_MS;
  signal?.throwIfAborted();
  // Its own process group, so a kill reaches a wrapper script's children too (they hold the output pipes).
  const child = spawn(binary, ['-p', '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const group = child.pid;
  if (group !== undefined) runningGroups.add(group);
  const killGroup = (): void => {
    if (group === undefined) return;
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const output = { stdout: '', stderr: '' };
  let overflow = false;
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (overflow) return;
    output[stream] += chunk.toString('utf8');
    if (output[stream].length > MAX_OUTPUT_CHARS) {
      overflow = true;
      output[stream] = output[stream].slice(0, MAX_OUTPUT_CHARS);
      killGroup();
    }
  };
  child.stdout.on('data', collect('stdout'));
  child.stderr.on('data', collect('stderr'));
  const finished = new Promise<ParseRun>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve({ exitCode: undefined, signal: undefined, stdout: '', stderr: '', spawnError: error }),
    );
    // 'close': the process exited and its output pipes are drained (as execa waited too).
    child.once('close', (code, killedBy) =>
      resolve({
        exitCode: code ?? undefined,
        signal: killedBy ?? undefined,
        stdout: output.stdout,
        stderr: output.stderr,
        spawnError: undefined,
      }),
    );
  });
  // On abort or timeout the process is killed and we return at once: a wrapper script's children could hold
  // the output pipes open long after it died, and the cycle (or SIGTERM) must not wait for them.
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      killGroup();
      reject(
        new BirdValidationTimeoutError(
          binary,
          timeoutMs,
          `${binary} -p -c ${configPath} did not finish within ${timeoutMs} ms (killed)`,
        ),
      );
    }, timeoutMs);
    onAbort = () => {
      killGroup();
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  let result: ParseRun;
  try {
    result = await Promise.race([finished, stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    stopped.catch(() => undefined);
    if (group !== undefined) runningGroups.delete(group);
  }
  const code = result.spawnError?.code;
  if (code === 'ENOENT' || code === 'EACCES') {
    throw new BirdBinaryMissingError(binary, `cannot run BIRD binary ${JSON.stringify(binary)}: ${code}`, {
      cause: result.spawnError,
    });
  }
  if (result.spawnError) throw result.spawnError;
  if (result.exitCode === 0 && !overflow) return { ok: true };

  const raw = [result.stderr, result.stdout]
    .filter((s) => s.length > 0)
    .join('\n')
    .trim();
  const firstLine = raw.split('\n', 1)[0] ?? '';
  const located = overflow ? undefined : parseBirdConfigError(firstLine);
  if (located !== undefined) {
    return { ok: false, ...located, raw, exitCode: result.exitCode };
  }
  const ended =
    result.signal !== undefined ? `was killed by ${result.signal}` : `exited with code ${String(result.exitCode)}`;
  return {
    ok: false,
    file: undefined,
    line: undefined,
    column: undefined,
    message: overflow
      ? `${binary} -p printed more than ${MAX_OUTPUT_CHARS} characters (killed): not BIRD's one-line answer`
      : raw.length > 0
        ? withoutPrefixes(firstLine)
        : `${binary} -p ${ended} and printed nothing`,
    raw,
    exitCode: result.exitCode,
  };
}

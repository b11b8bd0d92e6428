/**
 * BIRD's own safety net for a reload: `configure timeout N` applies the configuration and reverts it by itself
 * after N seconds unless `configure confirm` arrives; `configure undo` reverts at once.
 *
 * Replies seen from BIRD 1.6.8 (a real bird in a namespace, see /work/notes/h15-guard.md), the same in 2.0.12,
 * 3.1.0 and 3.3.2 (fixtures/bird-outputs/bird-<version>/socket-configure-guarded.raw.txt) except that 3.3.2 says
 * 0004 (Reconfiguration in progress) where the others say 0003:
 *   configure timeout 5   0002-Reading configuration from <file>, 0022-Undo scheduled in 5 s, 0003 Reconfigured
 *                         (8002 <file>:<line>:<col> <message> when the file does not parse: nothing applied)
 *   configure "<file>" timeout 5   the same for another file (a staged set): `undo` goes back to what ran before,
 *                         a later plain `configure` reads the startup file again
 *   after a restart       confirm: 0019 Nothing to do; undo: 0021-Undo requested, 0019 Nothing to do
 *   configure confirm     0018 Reconfiguration confirmed, or 0019 Nothing to do (no undo pending)
 *   configure undo        0021-Undo requested then 0003 Reconfigured, or 0021-Undo requested then 0019 Nothing to do
 * On expiry BIRD logs `Config timeout expired, starting undo` and reloads the previous configuration. BIRD keeps
 * exactly one previous configuration: `undo` also works after `confirm` or after a plain `configure` (once), and
 * a plain `configure` sent during the timeout cancels the timer (an implicit confirm).
 */
import { runBirdCommand, type BirdReply, type BirdReplyLine } from './controlSocket.js';
import { configureCommand } from './configure.js';
import { CONFIGURE_ACCEPTED_CODES } from './configureReply.js';
import { parseBirdConfigError, type BirdConfigErrorLocation } from './configError.js';

export const UNDO_SCHEDULED_CODE = 22;
export const CONFIRMED_CODE = 18;
export const NOTHING_TO_DO_CODE = 19;
export const UNDO_REQUESTED_CODE = 21;
/** BIRD's timer is an unsigned number of seconds; a day is far beyond any settle window. */
export const MAX_CONFIGURE_TIMEOUT_S = 86_400;

export interface GuardedCommandOptions {
  readonly signal?: AbortSignal;
  /** Time allowed for connecting and for the reply (each). */
  readonly timeoutMs?: number;
}

export type ConfigureTimeoutResult =
  | { readonly ok: true; readonly code: number; readonly message: string; readonly undoInSeconds: number | undefined }
  | {
      readonly ok: false;
      readonly code: number;
      readonly message: string;
      readonly location: BirdConfigErrorLocation | undefined;
    };

export type ConfirmResult = { readonly outcome: 'confirmed' | 'nothing-to-do' | 'refused'; readonly message: string };
export type UndoResult = { readonly outcome: 'reverted' | 'nothing-to-do' | 'refused'; readonly message: string };

const final = (lines: readonly BirdReplyLine[]): string => lines[lines.length - 1]?.text ?? '';
const coded = (code: number, text: string): string => `${String(code).padStart(4, '0')} ${text}`;

/** `configure timeout N`, or `configure "<configPath>" timeout N`. */
export function configureTimeoutCommand(seconds: number, configPath?: string): string {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_CONFIGURE_TIMEOUT_S)
    throw new RangeError(`configure timeout takes whole seconds 1-${MAX_CONFIGURE_TIMEOUT_S}, not ${seconds}`);
  return `${configureCommand({ configPath })} timeout ${seconds}`;
}

/**
 * `configure timeout N`: applies the files BIRD was started with (or `configPath`: another file, a staged set);
 * BIRD reverts by itself after N s.
 */
export async function configureWithTimeout(
  socketPath: string,
  seconds: number,
  options: GuardedCommandOptions & { readonly configPath?: string } = {},
): Promise<ConfigureTimeoutResult> {
  return classifyConfigureTimeoutReply(
    await runBirdCommand(socketPath, configureTimeoutCommand(seconds, options.configPath), options),
  );
}

/** What a reply to `configure timeout N` means. Pure. */
export function classifyConfigureTimeoutReply(reply: BirdReply): ConfigureTimeoutResult {
  const message = final(reply.lines);
  if (CONFIGURE_ACCEPTED_CODES.has(reply.code)) {
    const scheduled = reply.lines.find((l) => l.code === UNDO_SCHEDULED_CODE);
    const n = scheduled && /(\d+)\s*s/.exec(scheduled.text);
    return { ok: true, code: reply.code, message, undoInSeconds: n ? Number(n[1]) : undefined };
  }
  return {
    ok: false,
    code: reply.code,
    message: coded(reply.code, message),
    location: reply.code === 8002 ? parseBirdConfigError(message) : undefined,
  };
}

/** `configure confirm`: keeps the configuration applied with a timeout. */
export async function confirmConfigure(
  socketPath: string,
  options: GuardedCommandOptions = {},
): Promise<ConfirmResult> {
  return classifyConfirmReply(await runBirdCommand(socketPath, 'configure confirm', options));
}

/** What a reply to `configure confirm` means. Pure. */
export function classifyConfirmReply(reply: BirdReply): ConfirmResult {
  const message = coded(reply.code, final(reply.lines));
  if (reply.code === CONFIRMED_CODE) return { outcome: 'confirmed', message };
  if (reply.code === NOTHING_TO_DO_CODE) return { outcome: 'nothing-to-do', message };
  return { outcome: 'refused', message };
}

/** `configure undo`: BIRD goes back to the configuration it ran before the last `configure`. */
export async function undoConfigure(socketPath: string, options: GuardedCommandOptions = {}): Promise<UndoResult> {
  return classifyUndoReply(await runBirdCommand(socketPath, 'configure undo', options));
}

/** What a reply to `configure undo` means. Pure. */
export function classifyUndoReply(reply: BirdReply): UndoResult {
  const message = coded(reply.code, final(reply.lines));
  if (CONFIGURE_ACCEPTED_CODES.has(reply.code)) return { outcome: 'reverted', message };
  if (reply.code === NOTHING_TO_DO_CODE) return { outcome: 'nothing-to-do', message };
  return { outcome: 'refused', message };
}

/** `configure status` (BIRD 2.0.5+; birdVersion.ts `configureStatus`): where reconfiguration is, and the undo timer. */
export interface ConfigureStatus {
  readonly state: 'done' | 'in-progress' | 'queued' | 'shutting-down' | 'unknown';
  /** Seconds until BIRD reverts an unconfirmed `configure timeout`; undefined when nothing is pending. */
  readonly undoInSeconds: number | undefined;
}

const STATUS_STATES: ReadonlyMap<number, ConfigureStatus['state']> = new Map([
  [3, 'done'],
  [4, 'in-progress'],
  [5, 'queued'],
  [6, 'shutting-down'],
]);

/**
 * Parses the reply to `configure status`: `0003-Daemon is up and running`, `0022-Configuration unconfirmed, undo
 * in 29.999 s`, `0000`. Pure.
 */
export function parseConfigureStatus(reply: BirdReply): ConfigureStatus {
  const state = reply.lines.map((l) => STATUS_STATES.get(l.code)).find((s) => s !== undefined) ?? 'unknown';
  const undo = reply.lines.find((l) => l.code === UNDO_SCHEDULED_CODE);
  const seconds = undo && /([\d.]+)\s*s\b/.exec(undo.text);
  return { state, undoInSeconds: seconds ? Number(seconds[1]) : undefined };
}

/** `configure status` on a running BIRD 2 or 3 (1.6 answers 9001: the command is unknown there). */
export async function configureStatus(
  socketPath: string,
  options: GuardedCommandOptions = {},
): Promise<ConfigureStatus> {
  return parseConfigureStatus(await runBirdCommand(socketPath, 'configure status', options));
}

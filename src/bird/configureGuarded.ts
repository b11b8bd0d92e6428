/**
 * BIRD's own safety net for a reload: `configure timeout N` applies the configuration and reverts it by itself
 * after N seconds unless `configure confirm` arrives; `configure undo` reverts at once.
 *
 * Replies seen from BIRD 1.6.8 (a real bird in a namespace, see /work/notes/h15-guard.md):
 *   configure timeout 5   0002-Reading configuration from <file>, 0022-Undo scheduled in 5 s, 0003 Reconfigured
 *                         (8002 <file>:<line>:<col> <message> when the file does not parse: nothing applied)
 *   configure confirm     0018 Reconfiguration confirmed, or 0019 Nothing to do (no undo pending)
 *   configure undo        0021-Undo requested then 0003 Reconfigured, or 0021-Undo requested then 0019 Nothing to do
 * On expiry BIRD logs `Config timeout expired, starting undo` and reloads the previous configuration. BIRD keeps
 * exactly one previous configuration: `undo` also works after `confirm` or after a plain `configure` (once), and
 * a plain `configure` sent during the timeout cancels the timer (an implicit confirm).
 */
import { runBirdCommand } from './controlSocket.js';
import type { BirdReplyLine } from './replyDecoder.js';
import { CONFIGURE_ACCEPTED_CODES } from './configure.js';
import { parseBirdConfigError, type BirdConfigErrorLocation } from './validateConfig.js';

const UNDO_SCHEDULED_CODE = 22;
const CONFIRMED_CODE = 18;
const NOTHING_TO_DO_CODE = 19;
/** BIRD's timer is an unsigned number of seconds; a day is far beyond any settle window. */
const MAX_CONFIGURE_TIMEOUT_S = 86_400;

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

function configureTimeoutCommand(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_CONFIGURE_TIMEOUT_S)
    throw new RangeError(`configure timeout takes whole seconds 1-${MAX_CONFIGURE_TIMEOUT_S}, not ${seconds}`);
  return `configure timeout ${seconds}`;
}

/** `configure timeout N`: applies the files BIRD was started with; BIRD reverts by itself after N s. */
export async function configureWithTimeout(
  socketPath: string,
  seconds: number,
  options: GuardedCommandOptions = {},
): Promise<ConfigureTimeoutResult> {
  const reply = await runBirdCommand(socketPath, configureTimeoutCommand(seconds), options);
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
  const reply = await runBirdCommand(socketPath, 'configure confirm', options);
  const message = coded(reply.code, final(reply.lines));
  if (reply.code === CONFIRMED_CODE) return { outcome: 'confirmed', message };
  if (reply.code === NOTHING_TO_DO_CODE) return { outcome: 'nothing-to-do', message };
  return { outcome: 'refused', message };
}

/** `configure undo`: BIRD goes back to the configuration it ran before the last `configure`. */
export async function undoConfigure(socketPath: string, options: GuardedCommandOptions = {}): Promise<UndoResult> {
  const reply = await runBirdCommand(socketPath, 'configure undo', options);
  const message = coded(reply.code, final(reply.lines));
  if (CONFIGURE_ACCEPTED_CODES.has(reply.code)) return { outcome: 'reverted', message };
  if (reply.code === NOTHING_TO_DO_CODE) return { outcome: 'nothing-to-do', message };
  return { outcome: 'refused', message };
}

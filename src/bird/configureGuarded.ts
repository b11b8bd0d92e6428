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
import { runBirdCommand } from './controlSocket.js';
import { configureCommand } from './configure.js';
import {
  classifyConfigureTimeoutReply,
  classifyConfirmReply,
  classifyUndoReply,
  type ConfigureTimeoutResult,
  type ConfirmResult,
  type UndoResult,
} from './configureGuardedReply.js';

/** BIRD's timer is an unsigned number of seconds; a day is far beyond any settle window. */
const MAX_CONFIGURE_TIMEOUT_S = 86_400;

export interface GuardedCommandOptions {
  readonly signal?: AbortSignal;
  /** Time allowed for connecting and for the reply (each). */
  readonly timeoutMs?: number;
}

/** `configure timeout N`, or `configure "<configPath>" timeout N`. */
function configureTimeoutCommand(seconds: number, configPath?: string): string {
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

/** `configure confirm`: keeps the configuration applied with a timeout. */
export async function confirmConfigure(
  socketPath: string,
  options: GuardedCommandOptions = {},
): Promise<ConfirmResult> {
  return classifyConfirmReply(await runBirdCommand(socketPath, 'configure confirm', options));
}

/** `configure undo`: BIRD goes back to the configuration it ran before the last `configure`. */
export async function undoConfigure(socketPath: string, options: GuardedCommandOptions = {}): Promise<UndoResult> {
  return classifyUndoReply(await runBirdCommand(socketPath, 'configure undo', options));
}

import { configureBird } from '../bird/configure.js';
import { isBirdProtocolError, isBirdTimeoutError, isBirdUnreachableError } from '../bird/errors.js';
import type { Daemon } from '../model/daemon.js';

export type ReloadOutcome =
  | { readonly kind: 'applied'; readonly daemon: Daemon; readonly message: string; readonly ms: number }
  | { readonly kind: 'unreachable'; readonly daemon: Daemon; readonly message: string }
  /** BIRD answered with a refusal: it keeps running its previous configuration. */
  | { readonly kind: 'rejected'; readonly daemon: Daemon; readonly message: string }
  /** Something answered on the socket that is not BIRD's reply framing: whether it applied is unknown. */
  | { readonly kind: 'garbled'; readonly daemon: Daemon; readonly message: string };

/** Time allowed for connecting and for `configure`'s reply: 69 ms at 10,000 peers, so 30 s means hung. */
export const RELOAD_TIMEOUT_MS = 30_000;

/**
 * Sends `configure` on BIRD's control socket — the command birdc sends — and reads BIRD's reply: only
 * `Reconfigured` / `Reconfiguration in progress` count as applied (birdc itself exits 0 on a rejection).
 * `configPath`: `configure "<file>"` — BIRD reads that file (a staged set) once, instead of the one it started
 * with; a plain `configure` afterwards reads its own file again.
 * Never throws for what the socket does; the outcome says it.
 */
export async function reloadBird(
  daemon: Daemon,
  socketPath: string,
  options: Readonly<{ signal?: AbortSignal; configPath?: string; onSent?: () => void }> = {},
): Promise<ReloadOutcome> {
  const started = performance.now();
  try {
    const reply = await configureBird(socketPath, { ...options, timeoutMs: RELOAD_TIMEOUT_MS });
    const ms = performance.now() - started;
    if (reply.ok) return { kind: 'applied', daemon, message: reply.message, ms };
    return { kind: 'rejected', daemon, message: `${String(reply.code).padStart(4, '0')} ${reply.message}` };
  } catch (error) {
    if (isBirdUnreachableError(error) || isBirdTimeoutError(error)) {
      return { kind: 'unreachable', daemon, message: `${daemon} control socket ${socketPath}: ${error.message}` };
    }
    if (isBirdProtocolError(error))
      return { kind: 'garbled', daemon, message: `${daemon} control socket ${socketPath}: ${error.message}` };
    throw error;
  }
}

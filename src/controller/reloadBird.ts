import { configureBird } from '../bird/configure.js';
import { isBirdTimeoutError, isBirdUnreachableError } from '../bird/errors.js';
import type { Daemon } from '../observe/runStatus.js';

export type ReloadOutcome =
  | { readonly kind: 'applied'; readonly daemon: Daemon; readonly message: string; readonly ms: number }
  | { readonly kind: 'unreachable'; readonly daemon: Daemon; readonly message: string }
  | { readonly kind: 'rejected'; readonly daemon: Daemon; readonly message: string };

/**
 * Sends `configure` on BIRD's control socket — the command birdc sends — and reads BIRD's reply: only
 * `Reconfigured` / `Reconfiguration in progress` count as applied (birdc itself exits 0 on a rejection).
 */
export async function reloadBird(daemon: Daemon, socketPath: string, signal?: AbortSignal): Promise<ReloadOutcome> {
  const started = performance.now();
  try {
    const reply = await configureBird(socketPath, { signal, timeoutMs: 30_000 });
    const ms = performance.now() - started;
    if (reply.ok) return { kind: 'applied', daemon, message: reply.message, ms };
    return { kind: 'rejected', daemon, message: `${String(reply.code).padStart(4, '0')} ${reply.message}` };
  } catch (error) {
    if (isBirdUnreachableError(error) || isBirdTimeoutError(error)) {
      return { kind: 'unreachable', daemon, message: `${daemon} control socket ${socketPath}: ${(error as Error).message}` };
    }
    throw error;
  }
}

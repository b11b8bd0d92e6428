/**
 * Bounded shutdown (README "Reliability"): at SIGTERM the cycle winds up — bird -p is killed at once, a settle
 * window is cut short and undone, a swap finishes (it is a few renames) — and what it still says to BIRD (a
 * `configure`, an undo) gets this long before it is given up, so a BIRD that does not answer costs seconds, not
 * the 30 s reply timeout.
 */
export const SHUTDOWN_GRACE_MS = 2_000;

/** The process ends by then, whatever still runs (etcd unreachable, a disk that hangs): the backstop. */
export const SHUTDOWN_DEADLINE_MS = 5_000;

/**
 * A signal that aborts `ms` after `signal` aborts (at once when it already has), on AbortSignal.timeout, whose
 * timer does not keep the process alive. Its listeners are `once`: they go when they fire.
 */
export function abortAfter(signal: AbortSignal, ms: number): AbortSignal {
  const controller = new AbortController();
  const start = (): void => {
    const timeout = AbortSignal.timeout(ms);
    timeout.addEventListener('abort', () => controller.abort(timeout.reason), { once: true });
  };
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  return controller.signal;
}

import type { Clock } from './clock.js';
import { DEFAULT_MAX_RELOAD_SHARE, reloadGapMs } from './reloadPacer.js';

export interface CycleOutcome {
  /** The cycle reloaded BIRD (the pacing gap counts from its end). */
  readonly reloaded: boolean;
  /** How long BIRD took to answer the reload (the longest of both daemons); 0 or absent when unknown. */
  readonly reloadMs?: number;
}

export interface CoalescerOptions {
  readonly clock: Clock;
  /** Explicit minimum time from the end of a cycle that reloaded BIRD to the start of the next cycle. */
  readonly minReloadIntervalMs: number;
  /** Largest share of time BIRD may spend reconfiguring (reloadPacer.ts); default 0.25. */
  readonly maxReloadShare?: number;
  readonly runCycle: (signal: AbortSignal) => Promise<CycleOutcome>;
  readonly signal: AbortSignal;
}

/**
 * Turns a stream of "something changed" notifications into cycles: a change when idle starts a cycle at
 * once; changes during a cycle (or while waiting out the pacing gap after a reload) merge into exactly one
 * follow-up cycle. Only one cycle ever runs at a time.
 */
export class CycleCoalescer {
  #pending = false;
  #running: Promise<void> | undefined;
  /** When the next cycle may start: the end of the last reloading cycle plus its pacing gap. */
  #nextAllowedAt = Number.NEGATIVE_INFINITY;
  #cycles = 0;

  constructor(private readonly options: CoalescerOptions) {}

  get cycles(): number {
    return this.#cycles;
  }

  /** A cycle runs, or one is queued (waiting out the pacing gap). */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Notes a change; returns the promise of the loop that will handle it. */
  trigger(): Promise<void> {
    this.#pending = true;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Resolves when no cycle is running or pending. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    const { clock, signal } = this.options;
    while (this.#pending && !signal.aborted) {
      const wait = this.#nextAllowedAt - clock.now();
      if (wait > 0) await clock.sleep(wait, signal);
      if (signal.aborted) return;
      this.#pending = false;
      this.#cycles++;
      const outcome = await this.options.runCycle(signal);
      // Counted from the end of the cycle, so a slow cycle cannot eat into the gap.
      if (outcome.reloaded)
        this.#nextAllowedAt =
          clock.now() +
          reloadGapMs(outcome.reloadMs ?? 0, {
            maxReloadShare: this.options.maxReloadShare ?? DEFAULT_MAX_RELOAD_SHARE,
            minReloadIntervalMs: this.options.minReloadIntervalMs,
          });
    }
  }
}

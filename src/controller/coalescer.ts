import type { Clock } from './clock.js';

export interface CycleOutcome {
  /** The cycle reloaded BIRD (the minimum gap counts from here). */
  readonly reloaded: boolean;
}

export interface CoalescerOptions {
  readonly clock: Clock;
  /** Minimum time from the end of a cycle that reloaded BIRD to the start of the next cycle. */
  readonly minReloadIntervalMs: number;
  readonly runCycle: (signal: AbortSignal) => Promise<CycleOutcome>;
  readonly signal: AbortSignal;
}

/**
 * Turns a stream of "something changed" notifications into cycles: a change when idle starts a cycle at
 * once; changes during a cycle (or while waiting out the minimum reload gap) merge into exactly one
 * follow-up cycle. Only one cycle ever runs at a time.
 */
export class CycleCoalescer {
  #pending = false;
  #running: Promise<void> | undefined;
  #lastReloadAt = Number.NEGATIVE_INFINITY;
  #cycles = 0;

  constructor(private readonly options: CoalescerOptions) {}

  get cycles(): number {
    return this.#cycles;
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
      const wait = this.#lastReloadAt + this.options.minReloadIntervalMs - clock.now();
      if (wait > 0) await clock.sleep(wait, signal);
      if (signal.aborted) return;
      this.#pending = false;
      this.#cycles++;
      const outcome = await this.options.runCycle(signal);
      // Counted from the end of the cycle, so a slow cycle cannot eat into the gap.
      if (outcome.reloaded) this.#lastReloadAt = clock.now();
    }
  }
}

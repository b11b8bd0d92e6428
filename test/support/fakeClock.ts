import type { Clock } from '../../src/controller/clock.js';

/** Lets every promise chain queued so far run (a fake-time step's consequences happen before the next step). */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** A clock that only moves when the test says so: sleepers wake in time order as `advance` passes them. */
export class FakeClock implements Clock {
  time = 0;
  #sleepers: { until: number; resolve: () => void }[] = [];
  now = (): number => this.time;
  /** Wakes at `advance` past `ms`, or at once on abort (leaving the queue); its abort listener goes either way. */
  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper = {
        until: this.time + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        sleeper.resolve();
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  /** Sleeps waiting now, as offsets from now (ms), soonest first. */
  get pending(): number[] {
    return this.#sleepers.map((s) => s.until - this.time).sort((a, b) => a - b);
  }

  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const next = this.#sleepers.filter((s) => s.until <= end).sort((a, b) => a.until - b.until)[0];
      if (!next) break;
      this.time = next.until;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      next.resolve();
      await flush();
    }
    this.time = end;
    await flush();
  }
}

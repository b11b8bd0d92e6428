import type { Daemon } from '../../model/daemon.js';
import { errorMessage } from '../../errorMessage.js';
import { systemClock, type Clock } from '../clock.js';
import type { GuardEdges } from '../edges.js';
import { configureTimeoutS, type ApplyGuardSettings } from './settings.js';
import { settleVerdict, watchedSessions, type GuardSnapshot, type SettleVerdict } from './settleVerdict.js';

export type SettleOutcome =
  | { readonly kind: 'verdict'; readonly verdict: SettleVerdict; readonly settleMs: number }
  /** The window was cut short (SIGTERM): no verdict; the caller undoes, and the next start applies again. */
  | { readonly kind: 'interrupted'; readonly settleMs: number };

export interface SettleInput {
  readonly daemon: Daemon;
  readonly before: GuardSnapshot;
  /** Sessions the change removes: not expected back. */
  readonly removed: ReadonlySet<string>;
  readonly signal?: AbortSignal;
  /** Called every tick of the window (the run loop's liveness heartbeat). */
  readonly tick?: () => void;
}

/**
 * The settle window of one guarded apply: the sessions before, `windowMs` of waiting (ticking the heartbeat), the
 * sessions after, the verdict. Stateless between applies; the apply guard (applyGuard.ts) drives it.
 */
export class SettleWindow {
  readonly settings: ApplyGuardSettings;
  readonly #edges: Pick<GuardEdges, 'snapshot'>;
  readonly #clock: Clock;

  constructor(settings: ApplyGuardSettings, edges: Pick<GuardEdges, 'snapshot'>, clock: Clock = systemClock) {
    this.settings = settings;
    this.#edges = edges;
    this.#clock = clock;
  }

  /** BIRD's own timeout: the window plus a margin for the verdict, in whole seconds. */
  get timeoutS(): number {
    return configureTimeoutS(this.settings);
  }

  /**
   * The daemon's sessions before the apply, or undefined when there is nothing to protect (no session
   * Established, or BIRD does not answer): such an apply takes the fast path.
   */
  async before(daemon: Daemon): Promise<GuardSnapshot | undefined> {
    try {
      const snapshot = await this.#edges.snapshot(daemon);
      return watchedSessions(snapshot, new Set()).length > 0 ? snapshot : undefined;
    } catch {
      return undefined;
    }
  }

  async settle(input: SettleInput): Promise<SettleOutcome> {
    const started = this.#clock.now();
    // The change removes every session that was Established (a later change in the same cycle, say): nothing is
    // left to watch, so it is judged at once rather than holding every other change back for the window.
    const watching = watchedSessions(input.before, input.removed).length > 0;
    const end = watching ? started + this.settings.windowMs : started;
    for (;;) {
      const left = end - this.#clock.now();
      if (left <= 0) break;
      await this.#clock.sleep(Math.min(this.settings.tickMs, left), input.signal);
      input.tick?.();
      if (input.signal?.aborted) return { kind: 'interrupted', settleMs: this.#clock.now() - started };
    }
    let after: GuardSnapshot;
    try {
      after = await this.#edges.snapshot(input.daemon);
    } catch (error) {
      const verdict: SettleVerdict = {
        ok: false,
        down: [],
        exportedBefore: 0,
        exportedAfter: 0,
        summary: `${input.daemon} did not answer at the end of the settle window: ${errorMessage(error)}`,
      };
      return { kind: 'verdict', verdict, settleMs: this.#clock.now() - started };
    }
    const verdict = settleVerdict(input.before, after, input.removed, this.settings);
    return { kind: 'verdict', verdict, settleMs: this.#clock.now() - started };
  }
}

import {
  configureWithTimeout,
  confirmConfigure,
  undoConfigure,
  type ConfirmResult,
  type UndoResult,
} from '../bird/configureGuarded.js';
import { isBirdProtocolError, isBirdTimeoutError, isBirdUnreachableError } from '../bird/errors.js';
import { showProtocolStats } from '../bird/protocolStats.js';
import type { Daemon } from '../model/daemon.js';
import { systemClock, type Clock } from './clock.js';
import { RELOAD_TIMEOUT_MS, type ReloadOutcome } from './reloadBird.js';
import { settleVerdict, snapshotOf, watchedSessions, type GuardSnapshot, type SettleVerdict } from './settleVerdict.js';

/** The operator's knobs (`run --guard …`), validated at the CLI boundary. */
export interface ApplyGuardSettings {
  readonly enabled: boolean;
  /** How long an apply is watched before the verdict. */
  readonly windowMs: number;
  /** Revert when the watched sessions' exported routes fall by more than this (percent). */
  readonly maxExportDropPercent: number;
  /** Seconds BIRD waits beyond the window before it reverts by itself (birdwatch gone mid-window). */
  readonly marginS: number;
  /** How often the window ticks (liveness heartbeat). */
  readonly tickMs: number;
}

export const DEFAULT_GUARD_SETTINGS: ApplyGuardSettings = {
  enabled: true,
  windowMs: 30_000,
  maxExportDropPercent: 50,
  marginS: 15,
  tickMs: 1_000,
};

/** What the guard does to BIRD, injectable so the window and verdicts are tested with fakes and fake time. */
export interface GuardEdges {
  snapshot(daemon: Daemon): Promise<GuardSnapshot>;
  configureTimeout(daemon: Daemon, seconds: number): Promise<ReloadOutcome>;
  confirm(daemon: Daemon): Promise<ConfirmResult>;
  undo(daemon: Daemon): Promise<UndoResult>;
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function realGuardEdges(sockets: Readonly<Record<Daemon, string>>): GuardEdges {
  const options = { timeoutMs: RELOAD_TIMEOUT_MS };
  return {
    snapshot: async (daemon) => snapshotOf(await showProtocolStats(sockets[daemon], { timeoutMs: 10_000 })),
    configureTimeout: async (daemon, seconds) => {
      const started = performance.now();
      try {
        const reply = await configureWithTimeout(sockets[daemon], seconds, options);
        if (reply.ok) return { kind: 'applied', daemon, message: reply.message, ms: performance.now() - started };
        return { kind: 'rejected', daemon, message: reply.message };
      } catch (error) {
        const message = `${daemon} control socket ${sockets[daemon]}: ${describe(error)}`;
        if (isBirdUnreachableError(error) || isBirdTimeoutError(error)) return { kind: 'unreachable', daemon, message };
        if (isBirdProtocolError(error)) return { kind: 'garbled', daemon, message };
        throw error;
      }
    },
    confirm: (daemon) => confirmConfigure(sockets[daemon], options),
    undo: (daemon) => undoConfigure(sockets[daemon], options),
  };
}

export type SettleOutcome =
  | { readonly kind: 'verdict'; readonly verdict: SettleVerdict; readonly heldMs: number }
  /** The window was cut short (SIGTERM): no verdict; the caller undoes, and the next start applies again. */
  | { readonly kind: 'interrupted'; readonly heldMs: number };

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
 * The guard of one run: takes the snapshot before, sends `configure timeout`, waits the settle window and judges.
 * Stateless between applies; ConfigApplier keeps what was held back.
 */
export class ApplyGuard {
  readonly settings: ApplyGuardSettings;
  readonly edges: GuardEdges;
  readonly #clock: Clock;

  constructor(settings: ApplyGuardSettings, edges: GuardEdges, clock: Clock = systemClock) {
    this.settings = settings;
    this.edges = edges;
    this.#clock = clock;
  }

  /** BIRD's own timeout: the window plus a margin for the verdict, in whole seconds. */
  get timeoutS(): number {
    return Math.ceil(this.settings.windowMs / 1000) + this.settings.marginS;
  }

  /**
   * The daemon's sessions before the apply, or undefined when there is nothing to protect (no session
   * Established, or BIRD does not answer): such an apply takes the fast path.
   */
  async before(daemon: Daemon): Promise<GuardSnapshot | undefined> {
    try {
      const snapshot = await this.edges.snapshot(daemon);
      return watchedSessions(snapshot, new Set()).length > 0 ? snapshot : undefined;
    } catch {
      return undefined;
    }
  }

  async settle(input: SettleInput): Promise<SettleOutcome> {
    const started = this.#clock.now();
    const end = started + this.settings.windowMs;
    for (;;) {
      const left = end - this.#clock.now();
      if (left <= 0) break;
      await this.#clock.sleep(Math.min(this.settings.tickMs, left), input.signal);
      input.tick?.();
      if (input.signal?.aborted) return { kind: 'interrupted', heldMs: this.#clock.now() - started };
    }
    let after: GuardSnapshot;
    try {
      after = await this.edges.snapshot(input.daemon);
    } catch (error) {
      const verdict: SettleVerdict = {
        ok: false,
        down: [],
        exportedBefore: 0,
        exportedAfter: 0,
        summary: `${input.daemon} did not answer at the end of the settle window: ${describe(error)}`,
      };
      return { kind: 'verdict', verdict, heldMs: this.#clock.now() - started };
    }
    const verdict = settleVerdict(input.before, after, input.removed, this.settings);
    return { kind: 'verdict', verdict, heldMs: this.#clock.now() - started };
  }
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CycleReport } from './cycleReport.js';
import type { Daemon } from '../model/daemon.js';
import type { RunStatusView } from './runStatus.js';

const VERDICTS = ['confirmed', 'reverted', 'interrupted'] as const;

/** The apply guard's metrics (README "The apply guard"), registered beside BirdwatchMetrics' own. */
export class GuardMetrics {
  readonly #applies: Counter<'daemon' | 'verdict'>;
  readonly #hold: Histogram;
  readonly #held: Gauge;

  constructor(registry: Registry, daemons: readonly Daemon[]) {
    const registers = [registry];
    this.#applies = new Counter({
      name: 'birdwatch_guarded_applies_total',
      help: 'applies sent as configure timeout and watched for a settle window, by verdict (confirmed, reverted, interrupted)',
      labelNames: ['daemon', 'verdict'],
      registers,
    });
    this.#hold = new Histogram({
      name: 'birdwatch_guard_hold_seconds',
      help: 'how long a guarded apply held the change before its verdict (the settle window)',
      buckets: [1, 5, 10, 20, 30, 45, 60, 120, 300],
      registers,
    });
    this.#held = new Gauge({
      name: 'birdwatch_guard_held_entries',
      help: 'entries (or templates, or a rendering) held back because the apply guard reverted them, until they change',
      registers,
    });
    for (const daemon of daemons) for (const verdict of VERDICTS) this.#applies.inc({ daemon, verdict }, 0);
  }

  cycleEnded(report: CycleReport, status: RunStatusView): void {
    for (const g of report.guarded ?? []) {
      this.#applies.inc({ daemon: g.daemon, verdict: g.verdict });
      this.#hold.observe(g.settleMs / 1000);
    }
    this.#held.set(status.guardHolds.length);
  }
}

import type { Daemon } from '../model/daemon.js';
import type { Logger } from '../observe/logger.js';
import type { DriftCause } from '../observe/runStatus.js';
import { errorMessage } from '../errorMessage.js';
import type { Clock } from './clock.js';
import { reconfiguredSince, restartedSince } from './birdRunState.js';
import type { BirdRunState, BirdStatusEdges } from './edges.js';
import type { LogEvent } from '../observe/logEvents.js';

/**
 * How often the run loop asks each BIRD `show status` and stats the live files (README "Reliability": a restarted
 * BIRD or drifted files are put right within this plus one cycle).
 * @internal the BIRD restart test bounds its waits by it.
 */
export const DEFAULT_BIRD_WATCH_INTERVAL_MS = 2_000;

export interface BirdDrift {
  readonly cause: DriftCause;
  /** What BIRD runs and why it differs, in words (`/readyz`, the log line). */
  readonly reason: string;
}

export interface BirdWatcherOptions {
  readonly daemons: readonly Daemon[];
  readonly edges: BirdStatusEdges;
  readonly clock: Clock;
  /** Default DEFAULT_BIRD_WATCH_INTERVAL_MS. */
  readonly intervalMs?: number;
  /** The live files changed on disk since the cycle last saw them, by daemon. */
  readonly filesChanged: () => Promise<ReadonlyMap<Daemon, readonly string[]>>;
  /** A cycle runs or waits to: it looks at the files itself, and the watcher takes BIRD's state again after it. */
  readonly busy: () => boolean;
  readonly onDrift: (daemon: Daemon, drift: BirdDrift) => void;
  readonly log: Logger;
}

/** What the watcher last saw of one BIRD: its run state, or that it did not answer. */
type Seen = BirdRunState | 'silent';

const describeFiles = (files: readonly string[]): string =>
  `${files.join(', ')} changed on disk behind birdwatch's back`;

/**
 * The run loop's BIRD watcher (README "Reliability"): between cycles, every interval, one `show status` per
 * daemon and a stat of each live file. A BIRD that restarted (a new start time or control socket), was
 * reconfigured by someone else (a new reconfiguration time), or whose files changed is reported to `onDrift`,
 * which makes the next cycle put it right — without waiting for an etcd change. What BIRD runs after a cycle is
 * the reference: the watcher takes it again after each cycle (`cycleEnded`) and never judges while one runs.
 */
export class BirdWatcher {
  readonly #seen = new Map<Daemon, Seen>();
  /** Moves when a cycle ends: a look begun before it is stale (BIRD's state then was the cycle's doing). */
  #epoch = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: BirdWatcherOptions) {}

  get intervalMs(): number {
    return this.options.intervalMs ?? DEFAULT_BIRD_WATCH_INTERVAL_MS;
  }

  /** Looks every interval until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.options;
    while (!signal.aborted) {
      await clock.sleep(this.intervalMs, signal);
      if (signal.aborted) break;
      await this.#serially(() => this.check());
    }
    await this.#queue;
  }

  /**
   * A cycle ended: what each BIRD runs now is what birdwatch gave it — the reference for the next looks — unless
   * it is another BIRD than the one last seen: restarted while the cycle ran, it may have missed what the cycle
   * told the one before it (its reconfiguration time moved with the cycle's own reloads: not judged here).
   */
  cycleEnded(): Promise<void> {
    this.#epoch++;
    return this.#serially(async () => {
      const epoch = this.#epoch;
      const states = await this.#states();
      if (epoch !== this.#epoch) return;
      for (const [daemon, now] of states) {
        const seen = this.#seen.get(daemon);
        if (now !== 'silent' || seen === undefined) this.#seen.set(daemon, now);
        if (now !== 'silent' && seen !== undefined && seen !== 'silent' && restartedSince(seen, now))
          this.options.onDrift(daemon, {
            cause: 'restarted',
            reason: `${daemon} restarted at ${now.startedAt} while birdwatch was applying a change, and loaded the files on disk: reloading it with what etcd says`,
          });
      }
    });
  }

  /** One look (the loop's; tests call it directly). */
  async check(): Promise<void> {
    const { busy, filesChanged, onDrift } = this.options;
    if (busy()) return;
    const epoch = this.#epoch;
    const states = await this.#states();
    const files = await filesChanged();
    if (busy() || epoch !== this.#epoch) return;
    for (const [daemon, now] of states) {
      const drift = this.#compare(daemon, this.#seen.get(daemon), now, files.get(daemon) ?? []);
      // Not answering says nothing about what BIRD will run when it answers: the last state seen stays the reference.
      if (now !== 'silent' || !this.#seen.has(daemon)) this.#seen.set(daemon, now);
      if (drift) onDrift(daemon, drift);
    }
  }

  #compare(daemon: Daemon, seen: Seen | undefined, now: Seen, files: readonly string[]): BirdDrift | undefined {
    const changed = files.length > 0 ? ` (${describeFiles(files)})` : '';
    if (now !== 'silent' && seen !== undefined) {
      if (seen === 'silent')
        return {
          cause: 'restarted',
          reason: `${daemon} answers again (started at ${now.startedAt}) and runs what it loaded from disk${changed}: reloading it with what etcd says`,
        };
      if (restartedSince(seen, now))
        return {
          cause: 'restarted',
          reason: `${daemon} restarted at ${now.startedAt} and loaded the files on disk${changed}: reloading it with what etcd says`,
        };
      if (reconfiguredSince(seen, now))
        return {
          cause: 'reconfigured',
          reason: `${daemon} was reconfigured at ${now.reconfiguredAt} by something other than birdwatch${changed}: reloading it with what etcd says`,
        };
    }
    if (files.length > 0) return { cause: 'files', reason: `${describeFiles(files)}: restoring them` };
    return undefined;
  }

  async #states(): Promise<Map<Daemon, Seen>> {
    const { daemons, edges } = this.options;
    const states = await Promise.all(daemons.map((daemon) => edges.status(daemon).catch((): Seen => 'silent')));
    return new Map(daemons.map((daemon, i) => [daemon, states[i]!]));
  }

  /** One look at a time (a look and the reference taken after a cycle never interleave). Never rejects. */
  #serially(step: () => Promise<void>): Promise<void> {
    const next = this.#queue
      .then(step)
      .catch((error: unknown) =>
        this.options.log.error(
          { component: 'bird', event: 'bird-watch-failed' satisfies LogEvent, err: error },
          `the BIRD watcher failed: ${errorMessage(error)}; it looks again in ${this.intervalMs} ms`,
        ),
      );
    this.#queue = next;
    return next;
  }
}

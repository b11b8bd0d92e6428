import type { Clock } from '../controller/clock.js';
import type { FeedWatch, WatchEvent } from './keyspaceFeed.js';

/** Events that are now whole, in revision order, and the revision the keyspace stands at once they are applied. */
export interface Release {
  readonly events: readonly WatchEvent[];
  readonly revision: bigint;
}

/**
 * Progress rounds per release. One answer suffices from etcd 3.4.25 / 3.5.8 on, where a progress answer queues
 * behind every event of the revisions it covers; older members (Debian's 3.4.23 among them) send it from another
 * queue, ahead of events still waiting, and a second request sent once the first answer is back lets those go
 * first (README "The datastore": one revision per change, with what was measured).
 */
const ROUNDS = 2;
/**
 * A progress request unanswered this long is sent again: etcd ≥ 3.5.8 ignores one while a watch catches up (its
 * catch-up runs every 100 ms), or drops it when the stream's queue is full. An answer normally takes one round trip.
 */
const PROGRESS_RETRY_MS = 100;

export interface RevisionGateOptions {
  /** The revision the keyspace stands at: events up to it are already in it (a watch may repeat some). */
  readonly revision: bigint;
  /** One range: nothing to wait for. */
  readonly wholeOnArrival: boolean;
  /** The stream asked for progress answers. */
  readonly watch: Pick<FeedWatch, 'requestProgress' | 'progressOutstanding'>;
  /** Whole revisions, ready to apply. */
  readonly release: (release: Release) => void;
  /** An event of a revision already released: etcd answered a progress request too early. */
  readonly late: (event: WatchEvent, released: bigint) => void;
  readonly clock: Clock;
  /** The mirror's lifetime: ends the overdue check's wait. */
  readonly signal: AbortSignal;
}

/**
 * Holds one stream's watch events until every watch is known to have passed their revision, then lets them go
 * together: a transaction that touched several watched ranges reaches the keyspace as one change. etcd sends each
 * watch's part of a revision as its own response, and a quiet watch sends nothing, so only a progress answer (one
 * for the whole stream, at etcd's revision) says that no part is still to come. Events are released up to the
 * highest revision held when the progress request went out: a later revision may have parts still queued.
 *
 * With a single range nothing is held: etcd never splits a revision within one watch. One gate per stream: what a
 * lost stream held is sent again by the next.
 */
export class RevisionGate {
  #held: WatchEvent[] = [];
  /** Events up to here are in the keyspace already (its revision when the stream opened, or a read since). */
  #base: bigint;
  #released: bigint;
  #highest: bigint;
  /** Progress answers still wanted for the current request (0: none out). */
  #roundsLeft = 0;
  #target = 0n;
  /**
   * Answers still to come before one can be this round's: those to requests sent before it (a probe's, a round
   * before) come first on the stream, and may have been made before the round's events were queued.
   */
  #answersAhead = 0;
  #sentAt = 0;
  #checking = false;
  #closed = false;
  /** Nothing is released before the keyspace is known to be current up to where the watches start. */
  #based = false;

  constructor(private readonly options: RevisionGateOptions) {
    this.#base = this.#released = this.#highest = options.revision;
  }

  /**
   * The keyspace stands at `revision` and the watches send everything after it: what is held up to it is in the
   * keyspace already; the rest goes on through progress rounds.
   */
  rebase(revision: bigint): void {
    this.#based = true;
    this.#held = this.#held.filter((e) => e.modRevision > revision);
    // Possibly lower than before: etcd restored from an older copy counts from there.
    this.#base = this.#released = revision;
    this.#highest = this.#held.reduce((high, e) => (e.modRevision > high ? e.modRevision : high), revision);
    this.#next();
  }

  /** One watch response's events: released at once for a single range, else held until etcd says they are whole. */
  receive(events: readonly WatchEvent[]): void {
    for (const event of events) {
      if (event.modRevision <= this.#base) continue; // already in the keyspace
      if (event.modRevision <= this.#released) {
        this.options.late(event, this.#released);
        continue;
      }
      if (event.modRevision > this.#highest) this.#highest = event.modRevision;
      this.#held.push(event);
    }
    this.#next();
  }

  /**
   * etcd's progress answer at `revision`. One below the target was made before etcd counted the target as its own
   * revision (etcd 3.4 queues a revision's events a moment before): asked again at once. The last round's answer
   * releases everything up to the target.
   */
  answer(revision: bigint): void {
    if (this.#roundsLeft === 0) return;
    if (this.#answersAhead > 0) {
      this.#answersAhead--;
      return;
    }
    if (revision < this.#target) {
      this.#send();
      return;
    }
    if (this.#roundsLeft > 1) {
      this.#ask(this.#roundsLeft - 1);
      return;
    }
    this.#roundsLeft = 0;
    const release = this.#release(this.#target);
    this.#next(); // later revisions: their own request
    this.options.release(release);
  }

  /** The stream is gone: no more requests. */
  close(): void {
    this.#closed = true;
  }

  /** What held events need now: nothing before the base is known; else released (one range) or a request. */
  #next(): void {
    if (!this.#based || this.#held.length === 0) return;
    if (this.options.wholeOnArrival) this.options.release(this.#release(this.#highest));
    else if (this.#roundsLeft === 0) this.#ask(ROUNDS);
  }

  #ask(rounds: number): void {
    if (rounds === ROUNDS) this.#target = this.#highest;
    this.#roundsLeft = rounds;
    this.#send();
  }

  #send(): void {
    this.#answersAhead = this.options.watch.progressOutstanding ?? 0;
    this.options.watch.requestProgress();
    this.#sentAt = this.options.clock.now();
    if (!this.#checking) {
      this.#checking = true;
      this.#checkOverdue().catch(() => undefined); // sleep never rejects
    }
  }

  /** One timer at a time: a request whose answer is overdue is sent again. */
  async #checkOverdue(): Promise<void> {
    const { clock, signal, watch } = this.options;
    for (;;) {
      await clock.sleep(PROGRESS_RETRY_MS, signal);
      if (this.#closed || this.#roundsLeft === 0 || signal.aborted) break;
      if (clock.now() - this.#sentAt < PROGRESS_RETRY_MS) continue;
      watch.requestProgress();
      this.#sentAt = clock.now();
    }
    this.#checking = false;
  }

  #release(upTo: bigint): Release {
    const ready = this.#held.filter((e) => e.modRevision <= upTo);
    this.#held = this.#held.filter((e) => e.modRevision > upTo);
    // Stable: one watch's events keep their order; a revision's keys are distinct across watches.
    ready.sort((a, b) => (a.modRevision < b.modRevision ? -1 : a.modRevision > b.modRevision ? 1 : 0));
    if (upTo > this.#released) this.#released = upTo;
    return { events: ready, revision: this.#released };
  }
}

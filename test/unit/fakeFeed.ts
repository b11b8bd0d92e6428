import { DatastoreError } from '../../src/datastore/errors.js';
import type {
  FeedWatch,
  FeedWatchHandlers,
  FeedWatchOptions,
  KeyspaceFeed,
  StreamEnd,
  WatchEvent,
} from '../../src/datastore/keyspaceFeed.js';
import type { EtcdHeader, ScopedSnapshot } from '../../src/datastore/snapshot.js';
import type { KeyScope } from '../../src/model/keyScope.js';
import { flush } from '../support/fakeClock.js';

/**
 * A KeyspaceFeed over a map with revisions, driven by the test: writes are transactions (one revision each),
 * reads see the map, and each opened watch (`watches`) delivers only what the test tells it to — creation,
 * responses, progress answers, its end — so a test can hold, split and reorder what etcd would send.
 */
export class FakeFeed implements KeyspaceFeed {
  readonly store = new Map<string, string>();
  revision = 1n;
  clusterId = 'cluster-1';
  readonly watches: FakeWatch[] = [];
  reads = 0;
  headerReads = 0;
  /** Errors the next reads reject with, in order. */
  readonly readFailures: DatastoreError[] = [];
  /** The revision `readHeader` answers (default: the store's). */
  headerRevision: bigint | undefined;

  get lastWatch(): FakeWatch {
    const watch = this.watches.at(-1);
    if (!watch) throw new Error('no watch was opened');
    return watch;
  }

  header(revision = this.revision): EtcdHeader {
    return { revision, clusterId: this.clusterId, memberId: 'member-1' };
  }

  /** One etcd transaction: every write at one new revision. Returns the events, to be delivered by the test. */
  txn(writes: Iterable<readonly [string, string | undefined]>): WatchEvent[] {
    this.revision++;
    const events: WatchEvent[] = [];
    for (const [key, value] of writes) {
      if (value === undefined) this.store.delete(key);
      else this.store.set(key, value);
      events.push({ key, value, modRevision: this.revision });
    }
    return events;
  }

  async read(scope: KeyScope, signal: AbortSignal): Promise<ScopedSnapshot> {
    this.reads++;
    await Promise.resolve();
    signal.throwIfAborted();
    const failure = this.readFailures.shift();
    if (failure) throw failure;
    const entries = new Map<string, string>();
    let plan = scope.plan((key) => entries.get(key));
    for (let pass = 0; pass < 2; pass++) {
      entries.clear();
      for (const [key, value] of this.store)
        if (plan.ranges.some((r) => key >= r.start && key < r.end) && plan.keep(key)) entries.set(key, value);
      plan = scope.plan((key) => entries.get(key));
    }
    return { revision: this.revision, entries, plan, header: this.header(), keysRead: entries.size, bytesRead: 0 };
  }

  async readHeader(signal: AbortSignal): Promise<EtcdHeader> {
    this.headerReads++;
    await Promise.resolve();
    signal.throwIfAborted();
    return this.header(this.headerRevision ?? this.revision);
  }

  watch(options: FeedWatchOptions, handlers: FeedWatchHandlers): FeedWatch {
    const watch = new FakeWatch(this, options, handlers, `member-${this.watches.length + 1}:2379`);
    this.watches.push(watch);
    return watch;
  }
}

export class FakeWatch implements FeedWatch {
  closed = false;
  progressRequests = 0;
  progressAnswers = 0;

  constructor(
    private readonly feed: FakeFeed,
    readonly options: FeedWatchOptions,
    private readonly handlers: FeedWatchHandlers,
    readonly endpoint: string,
  ) {}

  /** Each range's start revision, by range start. (Calls on a closed watch still reach the mirror: a late answer.) */
  get from(): Record<string, bigint> {
    return Object.fromEntries(this.options.ranges.map((r) => [r.start, r.fromRevision]));
  }

  /** The index of the range holding `key`. */
  rangeOf(key: string): number {
    const index = this.options.ranges.findIndex((r) => key >= r.start && key < r.end);
    if (index < 0) throw new Error(`${key} is in no watched range`);
    return index;
  }

  requestProgress(): void {
    if (!this.closed) this.progressRequests++;
  }

  close(): void {
    this.closed = true;
  }

  /** Every watch created at the store's revision; `steady` false: a write landed meanwhile. */
  async created(steady = true): Promise<void> {
    this.handlers.onHeader(this.feed.header());
    this.handlers.onCreated(this.feed.header(), steady);
    await flush();
  }

  /** One watch response: `events` (all in one range) with a header at `revision` (default: their revision). */
  async respond(events: readonly WatchEvent[], revision = events.at(-1)?.modRevision ?? this.feed.revision) {
    const header = this.feed.header(revision);
    this.handlers.onHeader(header);
    this.handlers.onEvents(this.rangeOf(events[0]!.key), events, header);
    await flush();
  }

  /** What etcd sends for one transaction's events: one response per range, in range order. */
  async deliver(events: readonly WatchEvent[]): Promise<void> {
    const byRange = new Map<number, WatchEvent[]>();
    for (const event of events)
      byRange.set(this.rangeOf(event.key), [...(byRange.get(this.rangeOf(event.key)) ?? []), event]);
    for (const index of [...byRange.keys()].sort((a, b) => a - b)) await this.respond(byRange.get(index)!);
  }

  /** A progress answer at `revision` (default: the store's): to one of the mirror's requests, or not (a probe's). */
  async progress(revision = this.feed.revision, toRequest = true): Promise<void> {
    if (toRequest) this.progressAnswers++;
    const header = this.feed.header(revision);
    this.handlers.onHeader(header);
    this.handlers.onProgress?.(header);
    await flush();
  }

  /** Answers every progress request not yet answered, until the mirror asks no more. */
  async settle(): Promise<void> {
    while (this.progressRequests > this.progressAnswers) await this.progress();
  }

  /** One transaction's events as etcd delivers them when nothing interferes: the responses, then the answers. */
  async commit(events: readonly WatchEvent[]): Promise<void> {
    await this.deliver(events);
    await this.settle();
  }

  async end(end: StreamEnd): Promise<void> {
    this.closed = true;
    this.handlers.onEnd(end);
    await flush();
  }
}

export const unreachable = (what = 'connection refused'): DatastoreError =>
  new DatastoreError(`etcd unreachable: ${what}`, 'unreachable');

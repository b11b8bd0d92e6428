import { setTimeout as sleep } from 'node:timers/promises';
import { decorrelatedJitterGenerator, ExponentialBackoff, type IBackoff } from 'cockatiel';
import type { Clock } from '../controller/clock.js';
import { errorMessage } from '../errorMessage.js';
import type { KeyScope, ScopePlan } from '../model/keyScope.js';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import { DatastoreError } from './errors.js';
import type { FeedWatch, KeyspaceFeed, StreamEnd, WatchEvent } from './keyspaceFeed.js';
import type { EtcdHeader, ScopedSnapshot } from './snapshot.js';

export interface KeyspaceMirrorOptions {
  /** Where the keyspace comes from: `etcdFeed` (etcdFeed.ts), or a fake in unit tests. */
  readonly feed: KeyspaceFeed;
  /** What to read and watch; re-planned after every change (the mesh switch re-scopes). */
  readonly scope: KeyScope;
  /** Called after each batch of changes is applied to `entries` (and after every full re-read). */
  readonly onChange: (changedKeys: readonly string[]) => void;
  readonly onStateChange?: (state: DatastoreState, info: DatastoreStateInfo) => void;
  /** A read or watch failed and will be retried (called once per failure, not per retry attempt). */
  readonly onRetry?: (error: DatastoreError, attempt: number) => void;
  /** A full re-read starts for a reason other than SIGHUP (logged once per occurrence). */
  readonly onResync?: (reason: string) => void;
  readonly initialRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Sleeps between attempts (default: real time); its `now` is not used for the wall-clock times reported. */
  readonly clock?: Clock;
  /** Wall clock (ms): the `since` of each state, when members may be tried again. */
  readonly now?: () => number;
  /**
   * Which endpoint the watch tries first (index into the client's endpoints; default: one picked at random per
   * process, so a cluster's nodes spread their watches — etcd's fan-out work — over the members).
   */
  readonly firstEndpoint?: number;
}

/** Documented default of --etcd-stale-after: a frozen member is left at most 1.25 × this after its last answer. */
export const DEFAULT_STALE_AFTER_MS = 5_000;
/** A member found stale is tried last for this long. */
const AVOID_STALE_MEMBER_MS = 60_000;
/** A member whose stream failed (down, refusing) is tried last for this long: the next attempt goes elsewhere. */
const AVOID_FAILED_MEMBER_MS = 10_000;
/** Reconnects of a failing watch before a full re-read (with backoff: about 3 s). */
const MAX_RECONNECTS_BEFORE_RESYNC = 5;

/** Real time. Sleeps are ref'd: between two watch attempts one may be all that keeps the daemon's loop alive. */
const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};

/**
 * Where the watch connection stands, in the manner of etcd3's WatchManager: every move goes through `#enter`,
 * which refuses a move this table does not list (a late callback of a stream already given up, say).
 * idle → reading (the full read, retried; back to idle if refused) → connecting (stream opened) → watching (every
 * watch created) → waiting (backoff after a lost stream) → connecting …; a rollback, compaction or re-scope goes
 * back to reading.
 */
type Phase = 'idle' | 'reading' | 'connecting' | 'watching' | 'waiting' | 'closed';
const MOVES: Readonly<Record<Phase, readonly Phase[]>> = {
  idle: ['reading', 'closed'],
  reading: ['connecting', 'idle', 'closed'],
  connecting: ['watching', 'waiting', 'reading', 'closed'],
  watching: ['waiting', 'reading', 'closed'],
  waiting: ['connecting', 'reading', 'closed'],
  closed: [],
};

const asDatastoreError = (error: unknown): DatastoreError =>
  error instanceof DatastoreError
    ? error
    : new DatastoreError(`etcd unreachable: ${errorMessage(error)}`, 'unreachable', { cause: error });

/**
 * An in-memory copy of what the role needs from etcd, kept current by one watch stream. It reads the scope's
 * ranges page by page at one revision, keeps only what the plan keeps, then watches every range from revision + 1
 * on one stream, so nothing between the read and the watch is missed. Every answer's header is checked: a new
 * cluster id, or a revision below what the mirror has seen (confirmed by a linearizable read), means etcd was
 * restored or replaced, and everything is read again. A lost stream resumes each range from its last event after
 * a jittered backoff; a compacted one, or a change of plan (the mesh switched), leads to a full re-read. It moves
 * strings and knows nothing of their meaning beyond the scope it is given.
 */
export class KeyspaceMirror {
  readonly entries = new Map<string, string>();
  #phase: Phase = 'idle';
  #revision = 0n;
  #plan: ScopePlan | undefined;
  #next: bigint[] = [];
  #clusterId: string | undefined;
  #watch: FeedWatch | undefined;
  #state: DatastoreState = 'syncing';
  #reading: Promise<void> | undefined;
  #everSynced = false;
  #reconnects = 0;
  #lostSince: number | undefined;
  #confirming = false;
  #eventsReceived = 0;
  readonly #avoid = new Map<string, number>();
  readonly #closing = new AbortController();
  /** The mirror's lifetime: aborted by close() or by the signal given to start(). */
  #signal: AbortSignal = this.#closing.signal;
  readonly #readBackoff: ExponentialBackoff<[number, number]>;
  readonly #watchBackoff: ExponentialBackoff<[number, number]>;
  /** The next reconnect's wait; a fresh backoff once every watch is created again. */
  #reconnectBackoff: IBackoff<unknown>;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #firstEndpoint: number;

  constructor(private readonly options: KeyspaceMirrorOptions) {
    this.#clock = options.clock ?? realClock;
    this.#now = options.now ?? Date.now;
    this.#firstEndpoint = options.firstEndpoint ?? Math.floor(Math.random() * 1_000_000);
    const initialDelay = options.initialRetryDelayMs ?? 100;
    // Decorrelated jitter: a fleet that lost etcd at the same instant does not come back to it in step.
    this.#readBackoff = new ExponentialBackoff({
      generator: decorrelatedJitterGenerator,
      initialDelay,
      maxDelay: options.maxRetryDelayMs ?? 5_000,
    });
    this.#watchBackoff = new ExponentialBackoff({
      generator: decorrelatedJitterGenerator,
      initialDelay,
      maxDelay: options.maxRetryDelayMs ?? 1_000,
    });
    this.#reconnectBackoff = this.#watchBackoff.next();
  }

  get revision(): bigint {
    return this.#revision;
  }

  get state(): DatastoreState {
    return this.#state;
  }

  /** The plan's label ('mesh on', 'mesh off', …), once read. */
  get scopeLabel(): string | undefined {
    return this.#plan?.label;
  }

  /** Watch events etcd has sent since start (kept or not): what this node costs etcd. */
  get eventsReceived(): number {
    return this.#eventsReceived;
  }

  /** The member the watch talks to (host:port), once known. */
  get watchEndpoint(): string | undefined {
    return this.#watch?.endpoint;
  }

  /**
   * Reads everything (retrying with backoff until etcd answers or `signal` aborts), then starts watching. If etcd
   * refuses the credentials or the TLS handshake before the first sync, that cannot fix itself: it throws the
   * DatastoreError (kind auth/tls) at once instead of retrying forever.
   */
  start(signal?: AbortSignal): Promise<void> {
    if (signal) this.#signal = AbortSignal.any([signal, this.#closing.signal]);
    return this.#read();
  }

  close(): Promise<void> {
    this.#enter('closed');
    this.#closing.abort();
    this.#closeWatch();
    return Promise.resolve();
  }

  /** Re-reads everything and re-watches (SIGHUP, rollback, compaction, re-scope). */
  resync(reason?: string): Promise<void> {
    return this.#read(reason);
  }

  /** Moves to `next` if the table allows it from the current phase; false (and no move) otherwise. */
  #enter(next: Phase): boolean {
    if (!MOVES[this.#phase].includes(next)) return false;
    this.#phase = next;
    return true;
  }

  #setState(state: DatastoreState, info: Omit<DatastoreStateInfo, 'since'> & { since?: number } = {}): void {
    if (this.#state === state) return;
    this.#state = state;
    this.options.onStateChange?.(state, { since: info.since ?? this.#now(), reason: info.reason, error: info.error });
  }

  /** One full read at a time: a re-read asked for while one runs joins it. */
  #read(reason?: string): Promise<void> {
    if (this.#reading) return this.#reading;
    if (!this.#enter('reading')) return Promise.resolve();
    this.#closeWatch();
    if (reason !== undefined && this.#everSynced) this.#setState('resyncing', { reason });
    this.#reading = this.#readUntilDone()
      .catch((error: unknown) => {
        this.#enter('idle'); // refused before the first sync: a later start() may try again
        throw error;
      })
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }

  async #readUntilDone(): Promise<void> {
    const snapshot = await this.#readWithRetry();
    // Closed before the first sync: the caller must not go on as if synced.
    if (!this.#everSynced) this.#signal.throwIfAborted();
    if (!snapshot || this.#phase !== 'reading') return;
    const changed: string[] = [];
    for (const [key, value] of snapshot.entries) if (this.entries.get(key) !== value) changed.push(key);
    for (const key of this.entries.keys()) if (!snapshot.entries.has(key)) changed.push(key);
    this.entries.clear();
    for (const [key, value] of snapshot.entries) this.entries.set(key, value);
    this.#revision = snapshot.revision;
    this.#clusterId = snapshot.header.clusterId;
    this.#plan = snapshot.plan;
    this.#next = snapshot.plan.ranges.map(() => snapshot.revision + 1n);
    this.#everSynced = true;
    this.#lostSince = undefined;
    this.#reconnects = 0;
    this.#connect();
    this.#setState('synced');
    this.options.onChange(changed);
  }

  /**
   * The scope at one revision, retried with backoff until it comes or the mirror closes (undefined then). Before
   * the first sync, refused credentials or TLS cannot fix themselves: that error is thrown at once; after it,
   * every failure is retried (the live configuration stays; etcd may come back fixed).
   */
  async #readWithRetry(): Promise<ScopedSnapshot | undefined> {
    let backoff = this.#readBackoff.next();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.feed.read(this.options.scope, this.#signal);
      } catch (error) {
        if (this.#signal.aborted) return undefined;
        const failure = asDatastoreError(error);
        if (!this.#everSynced && (failure.kind === 'auth' || failure.kind === 'tls')) throw failure;
        if (attempt === 1) this.options.onRetry?.(failure, attempt);
        this.#setState('disconnected', { error: failure, reason: failure.message });
      }
      await this.#clock.sleep(backoff.duration, this.#signal);
      backoff = backoff.next(undefined);
    }
  }

  #connect(): void {
    const plan = this.#plan;
    if (!plan || !this.#enter('connecting')) return;
    const now = this.#now();
    for (const [endpoint, until] of this.#avoid) if (until <= now) this.#avoid.delete(endpoint);
    const watch: FeedWatch = this.options.feed.watch(
      {
        ranges: plan.ranges.map((range, i) => ({ ...range, fromRevision: this.#next[i]! })),
        avoid: new Set(this.#avoid.keys()),
        firstEndpoint: this.#firstEndpoint,
      },
      {
        onHeader: (header) => {
          if (watch === this.#watch) this.#checkHeader(header);
        },
        onCreated: () => {
          if (watch === this.#watch) this.#onCreated();
        },
        onEvents: (index, events) => {
          if (watch === this.#watch) this.#apply(index, events);
        },
        onProgress: () => undefined,
        onEnd: (end) => {
          if (watch === this.#watch) this.#onStreamEnd(end, watch);
        },
      },
    );
    this.#watch = watch;
  }

  #closeWatch(): void {
    const watch = this.#watch;
    this.#watch = undefined;
    watch?.close();
  }

  #onCreated(): void {
    if (!this.#enter('watching')) return;
    this.#reconnects = 0;
    this.#reconnectBackoff = this.#watchBackoff.next();
    this.#lostSince = undefined;
    this.#setState('synced');
  }

  #apply(index: number, events: readonly WatchEvent[]): void {
    const plan = this.#plan!;
    this.#eventsReceived += events.length;
    const changed: string[] = [];
    for (const event of events) {
      if (event.modRevision >= this.#next[index]!) this.#next[index] = event.modRevision + 1n;
      if (event.modRevision > this.#revision) this.#revision = event.modRevision;
      if (!plan.keep(event.key)) continue;
      if (event.value === undefined) {
        if (!this.entries.delete(event.key)) continue;
      } else {
        if (this.entries.get(event.key) === event.value) continue;
        this.entries.set(event.key, event.value);
      }
      changed.push(event.key);
    }
    if (changed.length > 0) this.options.onChange(changed);
    const replanned = this.options.scope.plan((key) => this.entries.get(key));
    if (replanned.label !== plan.label) this.#startResync(`re-scoping the watch: ${plan.label} → ${replanned.label}`);
  }

  /** A new cluster id, or (confirmed by a linearizable read) a revision below the mirror's: read everything again. */
  #checkHeader(header: EtcdHeader): void {
    if (this.#clusterId !== undefined && header.clusterId !== this.#clusterId) {
      this.#startResync(
        `etcd cluster id changed from ${this.#clusterId} to ${header.clusterId} (member ${header.memberId}): etcd was replaced or restored`,
      );
      return;
    }
    if (header.revision >= this.#revision || this.#confirming) return;
    // A follower may lag a moment behind what another member sent; a linearizable read tells lag from rollback.
    this.#confirming = true;
    const watch = this.#watch;
    this.options.feed
      .readHeader(this.#signal)
      .then((cluster) => {
        if (watch !== this.#watch) return;
        if (cluster.clusterId !== this.#clusterId) {
          this.#startResync(
            `etcd cluster id changed from ${this.#clusterId ?? '?'} to ${cluster.clusterId}: etcd was replaced or restored`,
          );
        } else if (cluster.revision < this.#revision) {
          this.#startResync(
            `etcd revision went backwards: the mirror is at ${this.#revision}, etcd answers at ${cluster.revision} (member ${header.memberId}): etcd was restored from an older copy`,
          );
        }
      })
      .finally(() => {
        this.#confirming = false;
      })
      .catch(() => undefined); // the stream's own failure handling takes over
  }

  #startResync(reason: string): void {
    if (this.#reading || this.#phase === 'closed') return;
    this.options.onResync?.(reason);
    this.#read(reason).catch((error: unknown) => {
      // Only the first sync throws (auth/tls); reported as a lost connection if it ever reaches here.
      if (this.#phase !== 'closed') this.#setState('disconnected', { error: asDatastoreError(error) });
    });
  }

  #onStreamEnd(end: StreamEnd, watch: FeedWatch): void {
    this.#watch = undefined;
    if (end.kind === 'compacted') {
      this.#startResync(`etcd compacted the history past the watch (compacted at revision ${end.compactRevision})`);
      return;
    }
    if (end.kind === 'canceled') {
      this.#startResync(`etcd canceled the watch (${end.reason})`);
      return;
    }
    if (end.kind === 'stale') {
      if (watch.endpoint) this.#avoid.set(watch.endpoint, this.#now() + AVOID_STALE_MEMBER_MS);
      this.#lostSince ??= end.lastHeardAt;
      const quiet = this.#now() - end.lastHeardAt;
      this.#setState('stale', {
        since: this.#lostSince,
        reason: `etcd member ${watch.endpoint ?? '?'} did not answer for ${quiet} ms; watching through another member`,
      });
      this.#reconnectAfter(0);
      return;
    }
    if (watch.endpoint) this.#avoid.set(watch.endpoint, this.#now() + AVOID_FAILED_MEMBER_MS);
    this.#lostSince ??= this.#now();
    if (this.#reconnects === 0) this.options.onRetry?.(end.error, 1);
    if (this.#reconnects >= MAX_RECONNECTS_BEFORE_RESYNC) {
      // Whatever keeps the stream failing, a full read (unary calls, with the client's own failover) and a new
      // stream start from a clean slate; readiness says so meanwhile.
      this.#startResync(
        `the watch failed ${MAX_RECONNECTS_BEFORE_RESYNC + 1} times in a row (last: ${end.error.message})`,
      );
      return;
    }
    this.#setState('disconnected', { since: this.#lostSince, error: end.error, reason: end.error.message });
    const wait = this.#reconnectBackoff.duration;
    this.#reconnectBackoff = this.#reconnectBackoff.next(undefined);
    this.#reconnectAfter(wait);
  }

  #reconnectAfter(waitMs: number): void {
    if (!this.#enter('waiting')) return;
    this.#reconnects++;
    this.#clock
      .sleep(waitMs, this.#signal)
      .then(() => {
        if (this.#phase === 'waiting') this.#connect();
      })
      .catch(() => undefined); // sleep never rejects; #connect does not throw
  }
}

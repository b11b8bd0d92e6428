import { setTimeout as sleep } from 'node:timers/promises';
import { decorrelatedJitterGenerator, ExponentialBackoff, type IBackoff } from 'cockatiel';
import type { Clock } from '../controller/clock.js';
import type { KeyspaceMirrorOptions } from './mirrorOptions.js';
import { ChangeTrackedMap } from '../model/keyspaceChanges.js';
import type { ScopePlan } from '../model/keyScope.js';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import { asDatastoreError, DatastoreError } from './errors.js';
import type { FeedWatch, StreamEnd } from './keyspaceFeed.js';
import { AvoidedMembers } from './avoidedMembers.js';
import { MirrorPhase } from './mirrorPhase.js';
import { RevisionGate, type Release } from './revisionGate.js';
import { RollbackCheck } from './rollbackCheck.js';
import type { EtcdHeader, ScopedSnapshot } from './snapshot.js';

/**
 * Streams opened again at once because a write landed while their watches were created; then the last one is kept
 * (with etcd before 3.4.25 / 3.5.8 a late event may then lead to a full re-read; README "The datastore").
 */
const MAX_UNSTEADY_OPENS = 5;

/** Real time. Sleeps are ref'd: between two watch attempts one may be all that keeps the daemon's loop alive. */
const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};

/**
 * An in-memory copy of what the role needs from etcd, kept current by one watch stream; `entries` always holds the
 * scope at one etcd revision. The first read takes the scope page by page at one revision and keeps only what the
 * plan keeps. Every stream then watches each range from etcd's revision at its creation; if etcd moved past the
 * keyspace meanwhile (a write during the read, an outage), the scope is read once more, so no event is missed and
 * none depends on a watch still catching up with history. A watch response is held (RevisionGate) until etcd says
 * every range has passed its revision; the events of every range up to it are applied together, with one
 * `onChange`. Every answer's header is checked: a new cluster id, or a revision below the mirror's (confirmed by a
 * linearizable read), means etcd was restored or replaced, and everything is read again. A lost stream comes back
 * after a jittered backoff. It moves strings and knows nothing of their meaning beyond the scope it is given.
 */
export class KeyspaceMirror {
  /** Tracks its writes: a renderer asks what changed since its last look (keyspaceChanges.ts). */
  readonly entries = new ChangeTrackedMap();
  readonly #phase = new MirrorPhase();
  #revision = 0n;
  #plan: ScopePlan | undefined;
  #clusterId: string | undefined;
  #watch: FeedWatch | undefined;
  #gate: RevisionGate | undefined;
  /** A full read is owed (SIGHUP, rollback, late events) whatever revision the next stream starts at. */
  #readOwed = false;
  /** Callers of resync() (and start()), answered once the mirror watches again. */
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #state: DatastoreState = 'syncing';
  #everSynced = false;
  #failing = false;
  #lostSince: number | undefined;
  #eventsReceived = 0;
  #lateEvents = 0;
  #unsteadyOpens = 0;
  #waits = 0;
  readonly #avoid: AvoidedMembers;
  readonly #progressByReads = new Set<string | undefined>();
  readonly #rollback: RollbackCheck;
  readonly #closing = new AbortController();
  /** The mirror's lifetime: aborted by close() or by the signal given to start(). */
  #signal: AbortSignal = this.#closing.signal;
  readonly #backoffs: ExponentialBackoff<[number, number]>;
  /** The next wait after a failure; a fresh backoff once the mirror watches again. */
  #backoff: IBackoff<unknown>;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #firstEndpoint: number;

  constructor(private readonly options: KeyspaceMirrorOptions) {
    this.#clock = options.clock ?? realClock;
    this.#now = options.now ?? Date.now;
    this.#firstEndpoint = options.firstEndpoint ?? Math.floor(Math.random() * 1_000_000);
    // Decorrelated jitter: a fleet that lost etcd at the same instant does not come back to it in step.
    this.#backoffs = new ExponentialBackoff({
      generator: decorrelatedJitterGenerator,
      initialDelay: options.initialRetryDelayMs ?? 100,
      maxDelay: options.maxRetryDelayMs ?? 1_000,
    });
    this.#backoff = this.#backoffs.next();
    this.#rollback = new RollbackCheck(options.feed, (reason) => this.#startResync(reason));
    this.#avoid = new AvoidedMembers(this.#now);
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

  /**
   * Events etcd sent after answering that their revision was complete (each one leads to a full re-read): an etcd
   * before 3.4.25 / 3.5.8 under load (README "The datastore"). 0 with a current etcd.
   */
  get lateEvents(): number {
    return this.#lateEvents;
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
  async start(signal?: AbortSignal): Promise<void> {
    if (signal) this.#signal = AbortSignal.any([signal, this.#closing.signal]);
    this.#signal.throwIfAborted(); // closed or stopped before starting: the caller must not go on as if synced
    if (!this.#phase.enter('reading')) return;
    try {
      const snapshot = await this.#readWithRetry();
      this.#signal.throwIfAborted(); // closed first: the caller must not go on as if synced
      if (!snapshot || !this.#phase.enter('connecting')) return;
      this.#replace(snapshot);
      this.#everSynced = true;
      this.#setState('synced');
      this.#open();
    } catch (error) {
      this.#phase.enter('idle'); // refused: a later start() may try again
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
      throw error;
    }
  }

  close(): Promise<void> {
    this.#phase.enter('closed');
    this.#closing.abort();
    this.#closeWatch();
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    return Promise.resolve();
  }

  /** Reads everything again on a fresh stream (SIGHUP); resolves once the mirror watches again. */
  resync(reason?: string): Promise<void> {
    if (this.#phase.current === 'closed') return Promise.resolve();
    if (this.#phase.current === 'idle') return this.start();
    const done = this.#untilWatching();
    if (!this.#everSynced) return done; // the first sync is on its way
    this.#readOwed = true;
    if (reason !== undefined) this.#setState('resyncing', { reason });
    // A fresh stream: after a restore the old watches would wait for revisions etcd no longer reaches.
    if (this.#phase.enter('connecting')) this.#open();
    return done;
  }

  /**
   * A caller's wait until the mirror watches again. Stopping (the lifetime aborts) closes the mirror, which settles
   * it: a re-read in flight must not hold up the shutdown (README "Reliability"). The abort listener lives only as
   * long as the wait.
   */
  #untilWatching(): Promise<void> {
    const signal = this.#signal;
    return new Promise<void>((resolve, reject) => {
      const stop = (): void => {
        this.close().catch(() => undefined); // close never rejects; it resolves this waiter
      };
      const settled = (): void => signal.removeEventListener('abort', stop);
      this.#waiters.push({
        resolve: () => {
          settled();
          resolve();
        },
        reject: (error) => {
          settled();
          reject(error);
        },
      });
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }

  #setState(state: DatastoreState, info: Omit<DatastoreStateInfo, 'since'> & { since?: number } = {}): void {
    if (this.#state === state) return;
    this.#state = state;
    this.options.onStateChange?.(state, { since: info.since ?? this.#now(), reason: info.reason, error: info.error });
  }

  /**
   * The first read, retried with backoff until it comes or the mirror closes (undefined then). Refused credentials
   * or TLS cannot fix themselves: that error is thrown at once.
   */
  async #readWithRetry(): Promise<ScopedSnapshot | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.feed.read(this.options.scope, this.#signal);
      } catch (error) {
        if (this.#signal.aborted) return undefined;
        const failure = asDatastoreError(error);
        if (failure.kind === 'auth' || failure.kind === 'tls') throw failure;
        this.#failed(failure);
      }
      await this.#clock.sleep(this.#nextWait(), this.#signal);
    }
  }

  /** A failure to report (once per outage) and to wait out. */
  #failed(error: DatastoreError): void {
    if (!this.#failing) this.options.onRetry?.(error, 1);
    this.#failing = true;
    this.#lostSince ??= this.#now();
    this.#setState('disconnected', { since: this.#lostSince, error, reason: error.message });
  }

  #nextWait(): number {
    const wait = this.#backoff.duration;
    this.#backoff = this.#backoff.next(undefined);
    return wait;
  }

  /** Everything at the snapshot's revision, at once; one `onChange` with what differs (always after the first). */
  #replace(snapshot: ScopedSnapshot): void {
    const changed: string[] = [];
    for (const [key, value] of snapshot.entries) if (this.entries.get(key) !== value) changed.push(key);
    for (const key of this.entries.keys()) if (!snapshot.entries.has(key)) changed.push(key);
    // Only what differs is written: the entries' change log then says exactly what a re-read changed.
    for (const key of changed) {
      const value = snapshot.entries.get(key);
      if (value === undefined) this.entries.delete(key);
      else this.entries.set(key, value);
    }
    this.#revision = snapshot.revision;
    this.#clusterId = snapshot.header.clusterId;
    this.#plan = snapshot.plan;
    if (changed.length > 0 || !this.#everSynced) this.options.onChange(changed);
  }

  /** A stream with one watch per range of the plan, each from etcd's revision at its creation. */
  #open(): void {
    this.#closeWatch();
    const plan = this.#plan!;
    const current = (): boolean => watch === this.#watch;
    const watch: FeedWatch = this.options.feed.watch(
      {
        ranges: plan.ranges.map((range) => ({ ...range, fromRevision: 0n })),
        avoid: this.#avoid.current(),
        firstEndpoint: this.#firstEndpoint,
      },
      {
        onHeader: (header) => {
          const held = () => ({ revision: this.#revision, clusterId: this.#clusterId });
          if (current()) this.#rollback.check(header, held, current, this.#signal);
        },
        onCreated: (header, steady) => {
          if (!current()) return;
          if (steady || this.#unsteadyOpens >= MAX_UNSTEADY_OPENS) this.#onCreated(header, watch);
          else if (this.#phase.enter('connecting')) {
            this.#unsteadyOpens++;
            this.#open();
          }
        },
        onEvents: (_index, events) => {
          if (!current()) return;
          this.#eventsReceived += events.length;
          this.#gate?.receive(events);
        },
        onProgress: (header) => {
          if (current()) this.#gate?.answer(header.revision);
        },
        onProgressByReads: (endpoint) => {
          if (!current() || this.#progressByReads.has(endpoint)) return;
          this.#progressByReads.add(endpoint);
          this.options.onProgressByReads?.(endpoint);
        },
        onEnd: (end) => {
          if (current()) this.#onStreamEnd(end, watch);
        },
      },
    );
    this.#watch = watch;
    this.#gate = new RevisionGate({
      revision: this.#revision,
      wholeOnArrival: plan.ranges.length === 1,
      watch,
      release: (release) => {
        if (current()) this.#apply(release);
      },
      late: (event, released) => {
        if (!current()) return;
        this.#lateEvents++;
        this.#startResync(
          `etcd sent an event of revision ${event.modRevision} after answering that revision ${released} was complete (etcd before 3.4.25 / 3.5.8 answers progress requests ahead of its watch queue)`,
        );
      },
      clock: this.#clock,
      signal: this.#signal,
    });
  }

  #closeWatch(): void {
    const watch = this.#watch;
    this.#watch = undefined;
    this.#gate?.close();
    this.#gate = undefined;
    watch?.close();
  }

  /**
   * Every watch is created: each sends what comes after the revision of its creation answer. Up to the highest of
   * those the keyspace must already be current — else (etcd moved, or a read is owed) it is read once more.
   */
  #onCreated(created: EtcdHeader, watch: FeedWatch): void {
    if (!this.#readOwed && created.revision <= this.#revision) {
      this.#watching();
      this.#gate!.rebase(this.#revision);
      return;
    }
    if (!this.#phase.enter('catching-up')) return;
    this.options.feed
      .read(this.options.scope, this.#signal, watch)
      .then((snapshot) => {
        if (watch !== this.#watch || this.#phase.current !== 'catching-up') return;
        if (snapshot.plan.label !== this.#plan!.label) {
          this.#plan = snapshot.plan; // the mesh switched meanwhile: watch the new plan's ranges, then read again
          this.#phase.enter('connecting');
          this.#open();
          return;
        }
        this.#readOwed = false;
        this.#replace(snapshot);
        this.#watching();
        this.#gate!.rebase(snapshot.revision);
      })
      .catch((error: unknown) => {
        if (watch !== this.#watch || this.#signal.aborted) return;
        this.#closeWatch();
        this.#failed(asDatastoreError(error));
        this.#reconnectAfter(this.#nextWait());
      });
  }

  #watching(): void {
    if (!this.#phase.enter('watching')) return;
    this.#unsteadyOpens = 0;
    this.#backoff = this.#backoffs.next();
    this.#failing = false;
    this.#lostSince = undefined;
    this.#setState('synced');
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  /**
   * Whole revisions, applied together: one `onChange` with the keys whose value differs from before. Revisions that
   * change the plan (the mesh switched) are not applied under the old one: the re-read replaces everything at once.
   */
  #apply(release: Release): void {
    const plan = this.#plan!;
    const next = new Map<string, string | undefined>();
    for (const event of release.events) if (plan.keep(event.key)) next.set(event.key, event.value);
    const replanned = this.options.scope.plan((key) => (next.has(key) ? next.get(key) : this.entries.get(key)));
    if (replanned.label !== plan.label) {
      this.#plan = replanned;
      this.#startResync(`re-scoping the watch: ${plan.label} → ${replanned.label}`);
      return;
    }
    const changed: string[] = [];
    for (const [key, value] of next) {
      if (this.entries.get(key) === value) continue;
      if (value === undefined) this.entries.delete(key);
      else this.entries.set(key, value);
      changed.push(key);
    }
    this.#revision = release.revision;
    if (changed.length > 0) this.options.onChange(changed);
  }

  /** A re-read for a reason found here (rollback, re-scope, late events): reported once, unless one is owed. */
  #startResync(reason: string): void {
    if (this.#phase.current === 'closed' || !this.#everSynced || (this.#readOwed && this.#phase.current !== 'watching'))
      return;
    this.options.onResync?.(reason);
    this.resync(reason).catch(() => undefined); // resolves once watching again; nothing to report here
  }

  #onStreamEnd(end: StreamEnd, watch: FeedWatch): void {
    this.#closeWatch();
    if (end.kind === 'compacted' || end.kind === 'canceled') {
      // Not a watch from now: etcd refused this one (permissions, a restore). Read again, once it watches again.
      this.#readOwed = true;
      const reason =
        end.kind === 'compacted'
          ? `etcd compacted the history past the watch (compacted at revision ${end.compactRevision})`
          : `etcd canceled the watch (${end.reason})`;
      this.#failed(new DatastoreError(reason, end.kind === 'compacted' ? 'compacted' : 'unreachable'));
      this.#reconnectAfter(this.#nextWait());
      return;
    }
    if (end.kind === 'stale') {
      this.#avoid.add(watch.endpoint, 'stale');
      this.#lostSince ??= end.lastHeardAt;
      const quiet = this.#now() - end.lastHeardAt;
      this.#setState('stale', {
        since: this.#lostSince,
        reason: `etcd member ${watch.endpoint ?? '?'} did not answer for ${quiet} ms; watching through another member`,
      });
      this.#reconnectAfter(0);
      return;
    }
    this.#avoid.add(watch.endpoint, 'failed');
    this.#failed(end.error);
    this.#reconnectAfter(this.#nextWait());
  }

  #reconnectAfter(waitMs: number): void {
    if (!this.#phase.enter('waiting')) return;
    const wait = ++this.#waits;
    const reconnect = async (): Promise<void> => {
      await this.#clock.sleep(waitMs, this.#signal);
      // Only the wait still current: a re-read may have connected meanwhile, and failed into a wait of its own.
      if (wait === this.#waits && this.#phase.current === 'waiting' && this.#phase.enter('connecting')) this.#open();
    };
    reconnect().catch(() => undefined); // sleep never rejects; #open does not throw
  }
}

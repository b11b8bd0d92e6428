import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import type { Etcd3 } from 'etcd3';
import type { KeyScope, ScopePlan } from '../model/keyScope.js';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import { classifyEtcdError } from './etcdErrors.js';
import { readHeader, readScopedSnapshot, type EtcdHeader } from './etcdSource.js';
import { DatastoreError } from './errors.js';
import { EtcdWatchStream, type StreamEnd, type WatchEvent } from './watchStream.js';

export interface KeyspaceMirrorOptions {
  readonly client: Etcd3;
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
  /** A watch silent this long is given up for another member (default DEFAULT_STALE_AFTER_MS). */
  readonly staleAfterMs?: number;
  /** Wall clock (ms). */
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

/** Not unref'd: between two watch attempts this timer may be all that keeps the daemon's event loop alive. */
const delay = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * An in-memory copy of what the role needs from etcd, kept current by one watch stream. It reads the scope's
 * ranges page by page at one revision, keeps only what the plan keeps, then watches every range from revision + 1
 * on one stream, so nothing between the read and the watch is missed. Every answer's header is checked: a new
 * cluster id, or a revision below what the mirror has seen (confirmed by a linearizable read), means etcd was
 * restored or replaced, and everything is read again. A lost stream resumes each range from its last event; a
 * compacted one, or a change of plan (the mesh switched), leads to a full re-read. It moves strings and knows
 * nothing of their meaning beyond the scope it is given.
 */
export class KeyspaceMirror {
  readonly entries = new Map<string, string>();
  #revision = 0n;
  #plan: ScopePlan | undefined;
  #next: bigint[] = [];
  #clusterId: string | undefined;
  #stream: EtcdWatchStream | undefined;
  #generation = 0;
  #state: DatastoreState = 'syncing';
  #resyncing: Promise<void> | undefined;
  #closed = false;
  #everSynced = false;
  #reconnects = 0;
  #lostSince: number | undefined;
  #confirming = false;
  #eventsReceived = 0;
  readonly #avoid = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #now: () => number;
  readonly #firstEndpoint: number;

  constructor(private readonly options: KeyspaceMirrorOptions) {
    this.#now = options.now ?? Date.now;
    this.#firstEndpoint = options.firstEndpoint ?? Math.floor(Math.random() * 1_000_000);
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
    return this.#stream?.endpoint;
  }

  /**
   * Reads everything (retrying with backoff until etcd answers or `signal` aborts), then starts watching. If etcd
   * refuses the credentials or the TLS handshake before the first sync, that cannot fix itself: it throws the
   * DatastoreError (kind auth/tls) at once instead of retrying forever.
   */
  async start(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener('abort', () => this.#abort.abort(), { once: true });
    await this.#sync();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#closeStream();
    return Promise.resolve();
  }

  /** Re-reads everything and re-watches (SIGHUP, rollback, compaction, re-scope). */
  resync(reason?: string): Promise<void> {
    this.#resyncing ??= this.#sync(reason).finally(() => {
      this.#resyncing = undefined;
    });
    return this.#resyncing;
  }

  #setState(state: DatastoreState, info: Omit<DatastoreStateInfo, 'since'> & { since?: number } = {}): void {
    if (this.#state === state) return;
    this.#state = state;
    this.options.onStateChange?.(state, { since: info.since ?? this.#now(), reason: info.reason, error: info.error });
  }

  async #sync(reason?: string): Promise<void> {
    this.#closeStream();
    if (reason !== undefined && this.#everSynced) this.#setState('resyncing', { reason });
    // After the first sync every failure is retried (the live configuration stays; etcd may come back fixed).
    const fatal = (error: unknown): boolean =>
      !this.#everSynced && error instanceof DatastoreError && (error.kind === 'auth' || error.kind === 'tls');
    const policy = retry(
      handleWhen((error) => !fatal(error)),
      {
        backoff: new ExponentialBackoff({
          initialDelay: this.options.initialRetryDelayMs ?? 100,
          maxDelay: this.options.maxRetryDelayMs ?? 5000,
        }),
      },
    );
    let attempt = 0;
    const snapshot = await policy.execute(async () => {
      try {
        return await readScopedSnapshot(this.options.client, this.options.scope, { signal: this.#abort.signal });
      } catch (error) {
        const failure = classifyEtcdError(error);
        if (fatal(failure) || this.#abort.signal.aborted) throw failure;
        attempt++;
        if (attempt === 1) this.options.onRetry?.(failure, attempt);
        this.#setState('disconnected', { error: failure, reason: failure.message });
        throw failure;
      }
    }, this.#abort.signal);
    if (this.#closed) return;
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
    this.#openStream();
    this.#setState('synced');
    this.options.onChange(changed);
  }

  #openStream(): void {
    const plan = this.#plan;
    if (!plan || this.#closed) return;
    const generation = ++this.#generation;
    const now = this.#now();
    for (const [endpoint, until] of this.#avoid) if (until <= now) this.#avoid.delete(endpoint);
    const current = (): boolean => generation === this.#generation && !this.#closed;
    const stream = new EtcdWatchStream(
      {
        client: this.options.client,
        ranges: plan.ranges.map((range, i) => ({ ...range, fromRevision: this.#next[i]! })),
        staleAfterMs: this.options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
        avoid: new Set(this.#avoid.keys()),
        firstEndpoint: this.#firstEndpoint,
        now: this.#now,
      },
      {
        onHeader: (header) => {
          if (current()) this.#checkHeader(header);
        },
        onCreated: () => {
          if (!current()) return;
          this.#reconnects = 0;
          this.#lostSince = undefined;
          this.#setState('synced');
        },
        onEvents: (index, events) => {
          if (current()) this.#apply(index, events);
        },
        onEnd: (end) => {
          if (current()) this.#onStreamEnd(end, stream);
        },
      },
    );
    this.#stream = stream;
    stream.open();
  }

  #closeStream(): void {
    this.#generation++;
    this.#stream?.close();
    this.#stream = undefined;
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
    const generation = this.#generation;
    readHeader(this.options.client, this.#abort.signal)
      .then((cluster) => {
        if (generation !== this.#generation || this.#closed) return;
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
      .catch(() => undefined); // unreachable now: the stream's own failure handling takes over
  }

  #startResync(reason: string): void {
    if (this.#closed || this.#resyncing) return;
    this.options.onResync?.(reason);
    this.resync(reason).catch((error: unknown) => {
      // Only an abort ends the retry loop: closing. Anything else is reported as a lost connection.
      if (!this.#closed) this.#setState('disconnected', { error: classifyEtcdError(error) });
    });
  }

  #onStreamEnd(end: StreamEnd, stream: EtcdWatchStream): void {
    this.#stream = undefined;
    if (end.kind === 'compacted') {
      this.#startResync(`etcd compacted the history past the watch (compacted at revision ${end.compactRevision})`);
      return;
    }
    if (end.kind === 'canceled') {
      this.#startResync(`etcd canceled the watch (${end.reason})`);
      return;
    }
    if (end.kind === 'stale') {
      if (stream.endpoint) this.#avoid.set(stream.endpoint, this.#now() + AVOID_STALE_MEMBER_MS);
      this.#lostSince ??= end.lastHeardAt;
      const quiet = this.#now() - end.lastHeardAt;
      this.#setState('stale', {
        since: this.#lostSince,
        reason: `etcd member ${stream.endpoint ?? '?'} did not answer for ${quiet} ms; watching through another member`,
      });
      this.#reconnect(0);
      return;
    }
    if (stream.endpoint) this.#avoid.set(stream.endpoint, this.#now() + AVOID_FAILED_MEMBER_MS);
    this.#lostSince ??= this.#now();
    if (this.#reconnects === 0) this.options.onRetry?.(end.error, 1);
    if (this.#reconnects >= MAX_RECONNECTS_BEFORE_RESYNC) {
      // Whatever keeps the stream failing, a full read (unary calls, with the client's own failover) and a new
      // stream start from a clean slate; readiness says so meanwhile.
      this.#reconnects = 0;
      this.#startResync(
        `the watch failed ${MAX_RECONNECTS_BEFORE_RESYNC + 1} times in a row (last: ${end.error.message})`,
      );
      return;
    }
    this.#setState('disconnected', { since: this.#lostSince, error: end.error, reason: end.error.message });
    const initial = this.options.initialRetryDelayMs ?? 100;
    const wait = Math.min(this.options.maxRetryDelayMs ?? 1000, initial * 2 ** Math.min(this.#reconnects, 10));
    this.#reconnect(wait);
  }

  #reconnect(waitMs: number): void {
    this.#reconnects++;
    const generation = this.#generation;
    delay(waitMs, this.#abort.signal)
      .then(() => {
        if (generation === this.#generation && !this.#closed && !this.#resyncing) this.#openStream();
      })
      .catch(() => undefined);
  }
}

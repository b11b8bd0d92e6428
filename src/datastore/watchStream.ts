import type { Etcd3, IRangeRequest, IRangeResponse, KVClient } from 'etcd3';
import { classifyEtcdError } from './etcdErrors.js';
import { headerOf } from './etcdSource.js';
import type { FeedWatch, FeedWatchHandlers, FeedWatchOptions, StreamEnd } from './keyspaceFeed.js';
import type { EtcdHeader } from './snapshot.js';

export interface WatchStreamOptions extends FeedWatchOptions {
  readonly client: Etcd3;
  /** A stream silent this long (a progress request is sent after a quarter of it) is given up. */
  readonly staleAfterMs: number;
  readonly now?: () => number;
}

// The parts of etcd3's connection pool and grpc-js's stream this file uses. etcd3's own Watcher multiplexes
// watches through a manager that throws "Failed to find watcher" on a response for a watcher it already dropped
// (a crash of the whole process) and exposes neither headers nor progress requests; the raw Watch RPC does.
interface HostLike {
  readonly host: string;
  /** Drops the host's gRPC clients: the next call dials afresh instead of waiting out grpc's reconnect backoff. */
  resetAllServices(): void;
}
interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}
interface RawResponse {
  header: { revision: string; cluster_id: string; member_id: string };
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  events: { type: string; kv: { key: Buffer; value: Buffer; mod_revision: string } }[];
}
interface RawStream {
  write(request: unknown): boolean;
  cancel(): void;
  on(event: 'data', listener: (response: RawResponse) => void): RawStream;
  on(event: 'error', listener: (error: Error) => void): RawStream;
  on(event: 'end', listener: () => void): RawStream;
}
type RangeCallback = (error: Error | null, response: IRangeResponse) => void;
interface PoolLike {
  readonly hosts: readonly HostLike[];
  withConnection<T>(
    service: string,
    fn: (connection: {
      resource: HostLike;
      client: {
        watch(metadata: GrpcMetadata, options: object): RawStream;
        range(request: IRangeRequest, metadata: GrpcMetadata, options: object, callback: RangeCallback): void;
      };
      metadata: GrpcMetadata;
    }) => T | Promise<T>,
    hosts: Generator<HostLike>,
  ): Promise<T>;
}

const poolOf = (client: Etcd3): PoolLike => (client as unknown as { pool: PoolLike }).pool;

/** The one host, again and again: the pool tries it as often as it has hosts, and never another. */
function* onlyHost(host: HostLike): Generator<HostLike> {
  for (;;) yield host;
}

/**
 * Endpoints from `first` on in the order given (wrapping), the avoided ones last, endlessly (what the pool asks for).
 */
function* preferredHosts(pool: PoolLike, avoid: ReadonlySet<string>, first: number): Generator<HostLike> {
  const start = pool.hosts.length === 0 ? 0 : first % pool.hosts.length;
  const rotated = [...pool.hosts.slice(start), ...pool.hosts.slice(0, start)];
  const ordered = [...rotated.filter((h) => !avoid.has(h.host)), ...rotated.filter((h) => avoid.has(h.host))];
  for (;;) yield* ordered;
}

/**
 * Range reads sent to `endpoint` (host:port) first, the other members after it: the member a watch stream was just
 * created on has answered a moment ago, where the client's own choice may fall on a frozen one.
 */
export function memberFirstKv(client: Etcd3, endpoint: string, timeoutMs: number): Pick<KVClient, 'range'> {
  const pool = poolOf(client);
  const first = Math.max(
    0,
    pool.hosts.findIndex((h) => h.host === endpoint),
  );
  return {
    range: (request) =>
      pool.withConnection(
        'KV',
        ({ client: kv, metadata }) =>
          new Promise<IRangeResponse>((resolve, reject) => {
            kv.range(request, metadata, { deadline: Date.now() + timeoutMs }, (error, response) =>
              error ? reject(error) : resolve(response),
            );
          }),
        preferredHosts(pool, new Set(), first),
      ),
  };
}

/** A progress request unanswered this long is taken as dropped when counting those still to be answered. */
const PROGRESS_DROPPED_MS = 1_000;

/** A progress request unanswered this long after the watches were created: asked of the server by a read. */
const PROGRESS_DETECT_MS = 500;

/** What answers for the stream: progress answers (etcd), reads (a server that ignores progress requests). */
type ProgressSource = 'unknown' | 'progress' | 'reads';

/**
 * One etcd Watch stream holding one watch per range, opened on the first endpoint (from `firstEndpoint` on, in
 * the given order) that is not avoided. It asks for `hasleader` (etcd closes the stream when its member loses the
 * leader), and sends a progress request once it has been quiet for a quarter of staleAfterMs: a member that does not
 * answer within staleAfterMs (frozen, black-holed) ends the stream as `stale`, at most 1.25 × staleAfterMs after its
 * last answer.
 * Through etcd's gRPC proxy (`etcd grpc-proxy start`), which numbers the watches itself (from 0, in the order asked:
 * the ids asked for here are the same) and answers no progress request: once one goes unanswered while a read from
 * the same server answers, the stream's liveness is a serializable read of the fence key (the proxy answers it from
 * its cache: nothing reaches etcd) and each progress round of the revision gate a linearizable read (etcd's revision
 * once it answers). The proxy forwards each watch from its own goroutine, so one watch's part of a revision can
 * come after a read sent once another's part arrived (measured: with one round, a partial revision now and then
 * under load); the gate's two rounds, the second sent once the first answers, are kept.
 * docs/scale.md "Behind etcd's gRPC proxy".
 * Needs etcd ≥ 3.4 (explicit watch ids, progress requests).
 */
export class EtcdWatchStream implements FeedWatch {
  #stream: RawStream | undefined;
  #ended = false;
  #created = 0;
  #createdAt: EtcdHeader | undefined;
  #steady = true;
  #lastHeardAt: number;
  #timer: NodeJS.Timeout | undefined;
  #detectTimer: NodeJS.Timeout | undefined;
  #progressSource: ProgressSource = 'unknown';
  #progressAskedAt: number | undefined;
  /** A liveness read (serializable) is out. */
  #reading = false;
  /** A progress read (linearizable) is out. */
  #progressReading = false;
  /** When each progress request (or progress read) not answered yet was sent, oldest first. */
  #progressSent: number[] = [];
  readonly #fragments = new Map<string, RawResponse['events']>();
  readonly #now: () => number;
  /** host:port of the member this stream talks to, once known. */
  endpoint: string | undefined;
  #host: HostLike | undefined;

  constructor(
    private readonly options: WatchStreamOptions,
    private readonly handlers: FeedWatchHandlers,
  ) {
    this.#now = options.now ?? Date.now;
    this.#lastHeardAt = this.#now();
  }

  get lastHeardAt(): number {
    return this.#lastHeardAt;
  }

  open(): void {
    // Checked every quarter of stale-after, a request sent once a quarter has passed in silence: it leaves by half
    // of stale-after at the latest, so a live member always has half of it to answer. (Checking every half and
    // sending after a half sent it only at stale-after itself: a healthy idle member was found stale, by jitter.)
    const probeMs = Math.max(25, Math.floor(this.options.staleAfterMs / 4));
    this.#timer = setInterval(() => this.#probe(probeMs), probeMs);
    this.#timer.unref();
    const pool = poolOf(this.options.client);
    pool
      .withConnection(
        'Watch',
        ({ resource, client, metadata }) => {
          this.endpoint = resource.host;
          this.#host = resource;
          const withLeader = metadata.clone();
          withLeader.set('hasleader', 'true');
          // Listeners go on at once: grpc may report a refused connection before the pool's promise settles,
          // and an 'error' without a listener would end the process.
          this.#attach(client.watch(withLeader, {}));
        },
        preferredHosts(pool, this.options.avoid, this.options.firstEndpoint ?? 0),
      )
      .catch((error: unknown) => this.#end({ kind: 'error', error: classifyEtcdError(error) }));
  }

  close(): void {
    this.#ended = true;
    this.#shutdown();
  }

  requestProgress(): void {
    if (this.#ended) return;
    if (this.#progressSource === 'reads') this.#progressByRead();
    else this.#askProgress();
  }

  /**
   * Progress requests (or, through a proxy, progress reads) sent and not answered yet: answers come in order. One
   * unanswered for a second is taken as dropped (etcd ≥ 3.5.8 ignores one while a watch catches up), so a dropped
   * request cannot hold every later round back.
   */
  get progressOutstanding(): number {
    const now = this.#now();
    while (this.#progressSent.length > 0 && now - this.#progressSent[0]! > PROGRESS_DROPPED_MS)
      this.#progressSent.shift();
    return this.#progressSent.length;
  }

  #progressAnswered(): void {
    this.#progressSent.shift();
  }

  #askProgress(): void {
    if (!this.#stream) return;
    this.#stream.write({ progress_request: {} });
    this.#progressSent.push(this.#now());
    this.#progressAskedAt ??= this.#now();
  }

  /** A key inside the first range that nobody writes: the fence watch's key, and what the reads ask for. */
  #fenceKey(): Buffer | undefined {
    const first = this.options.ranges[0];
    return first ? Buffer.from(`${first.start}\u0000birdwatch-fence`) : undefined;
  }

  /**
   * One read of the fence key from the stream's own server, never another (an answer from elsewhere would keep a
   * frozen server looking alive); its answer counts as hearing from it. Undefined: unanswered (the stale check
   * decides).
   */
  #read(serializable: boolean): Promise<IRangeResponse | undefined> {
    const key = this.#fenceKey();
    const host = this.#host;
    if (!key || !host) return Promise.resolve(undefined);
    const deadline = Date.now() + this.options.staleAfterMs;
    return poolOf(this.options.client)
      .withConnection(
        'KV',
        ({ client: kv, metadata }) =>
          new Promise<IRangeResponse>((resolve, reject) => {
            kv.range({ key, serializable, count_only: true }, metadata, { deadline }, (error, response) =>
              error ? reject(error) : resolve(response),
            );
          }),
        onlyHost(host),
      )
      .then(
        (response) => {
          if (this.#ended) return undefined;
          this.#lastHeardAt = this.#now();
          return response;
        },
        () => undefined,
      );
  }

  /**
   * The gate's progress round through a server without progress answers: etcd's revision, linearizably. One at a
   * time: the gate asks again every 100 ms while an answer is overdue (an etcd that does not answer would pile
   * reads up in the proxy).
   */
  #progressByRead(): void {
    if (this.#progressReading) return;
    this.#progressReading = true;
    this.#progressSent.push(this.#now());
    this.#read(false)
      .then((response) => {
        this.#progressReading = false;
        this.#progressAnswered();
        if (response && !this.#ended) this.handlers.onProgress?.(headerOf(response.header));
      })
      .catch(() => undefined);
  }

  /**
   * A progress request still unanswered: if a read through the same connection is answered, the server ignores
   * progress requests (etcd's gRPC proxy); reads answer for it from then on.
   */
  #detect(): void {
    if (this.#ended || this.#progressSource !== 'unknown' || this.#progressAskedAt === undefined) return;
    this.#read(false)
      .then((response) => {
        if (!response || this.#ended || this.#progressSource !== 'unknown') return;
        this.#progressSource = 'reads';
        this.#progressAskedAt = undefined;
        this.handlers.onProgressByReads?.(this.endpoint);
      })
      .catch(() => undefined);
  }

  #attach(stream: RawStream): void {
    if (this.#ended) {
      stream.on('error', () => undefined);
      stream.cancel();
      return;
    }
    this.#stream = stream;
    stream
      .on('data', (response) => this.#onResponse(response))
      .on('error', (error) => this.#end({ kind: 'error', error: classifyEtcdError(error) }))
      .on('end', () =>
        this.#end({ kind: 'error', error: classifyEtcdError(new Error('etcd closed the watch stream')) }),
      );
    this.options.ranges.forEach((range, index) => {
      stream.write({
        create_request: {
          key: Buffer.from(range.start),
          range_end: Buffer.from(range.end),
          start_revision: String(range.fromRevision),
          watch_id: String(index),
          fragment: true,
        },
      });
    });
    // The fence: a key inside the first range nobody writes. Its creation answer, after all the others, closes the
    // window in which a write could land while the last range's watch was created.
    const fence = this.#fenceKey();
    if (fence)
      stream.write({
        create_request: { key: fence, start_revision: '0', watch_id: String(this.options.ranges.length) },
      });
  }

  #onResponse(response: RawResponse): void {
    if (this.#ended) return;
    this.#lastHeardAt = this.#now();
    const header = headerOf(response.header);
    if (response.canceled) {
      const compact = BigInt(response.compact_revision || '0');
      this.#end(
        compact > 0n
          ? { kind: 'compacted', compactRevision: compact }
          : { kind: 'canceled', reason: response.cancel_reason || 'canceled by etcd' },
      );
      return;
    }
    // etcd's gRPC proxy makes up the creation answer of a watch it joins to one it already has: no cluster id
    // (0), a revision of its own. Only etcd's headers are checked against the mirror's.
    if (response.header.cluster_id !== '0') this.handlers.onHeader(header);
    if (this.#ended) return;
    if (response.created) {
      this.#created++;
      if (this.#createdAt && header.revision !== this.#createdAt.revision) this.#steady = false;
      if (!this.#createdAt || header.revision > this.#createdAt.revision) this.#createdAt = header;
      if (this.#created === this.options.ranges.length + 1) {
        this.handlers.onCreated(this.#createdAt, this.#steady);
        // Whether this server answers progress requests at all (etcd's gRPC proxy does not): asked now, once.
        if (this.#progressSource === 'unknown' && !this.#ended) {
          this.#askProgress();
          this.#detectTimer = setTimeout(() => this.#detect(), PROGRESS_DETECT_MS);
          this.#detectTimer.unref();
        }
      }
      return;
    }
    // A progress answer names no watch (-1): it speaks for the whole stream.
    if (response.watch_id === '-1' && response.events.length === 0) {
      // An answer at all: this server answers progress requests (a slow first one may have been taken for none).
      this.#progressSource = 'progress';
      this.#progressAskedAt = undefined;
      this.#progressAnswered();
      this.handlers.onProgress?.(header);
      return;
    }
    // Watch ids are asked from 0 (etcd gives the first one 0 itself; its gRPC proxy numbers them 0, 1, … in order).
    const index = Number(response.watch_id);
    if (index < 0 || index >= this.options.ranges.length || response.events.length === 0) return;
    let events = response.events;
    if (response.fragment) {
      this.#fragments.set(response.watch_id, [...(this.#fragments.get(response.watch_id) ?? []), ...events]);
      return;
    }
    const pending = this.#fragments.get(response.watch_id);
    if (pending) {
      events = [...pending, ...events];
      this.#fragments.delete(response.watch_id);
    }
    this.handlers.onEvents(
      index,
      events.map((e) => ({
        key: e.kv.key.toString('utf8'),
        value: e.type === 'Delete' ? undefined : e.kv.value.toString('utf8'),
        modRevision: BigInt(e.kv.mod_revision),
      })),
      header,
    );
  }

  #probe(probeMs: number): void {
    if (this.#ended) return;
    const quiet = this.#now() - this.#lastHeardAt;
    if (quiet >= this.options.staleAfterMs) {
      this.#end({ kind: 'stale', lastHeardAt: this.#lastHeardAt });
      return;
    }
    if (quiet < probeMs || !this.#stream) return;
    if (this.#progressSource === 'reads') {
      // Liveness only: a serializable read, which the proxy answers from its cache (nothing reaches etcd).
      if (this.#reading) return;
      this.#reading = true;
      this.#read(true)
        .finally(() => (this.#reading = false))
        .catch(() => undefined);
      return;
    }
    this.#askProgress();
    // Still unknown a whole probe later: ask the server by a read (a proxy started after the stream, say).
    if (
      this.#progressSource === 'unknown' &&
      this.#progressAskedAt !== undefined &&
      this.#now() - this.#progressAskedAt >= probeMs
    )
      this.#detect();
  }

  #end(end: StreamEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#shutdown();
    // What etcd3 does for its own calls on a failure: the member's channel is rebuilt on next use.
    try {
      this.#host?.resetAllServices();
    } catch {
      // a closed client: nothing to reset
    }
    this.handlers.onEnd(end);
  }

  #shutdown(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#detectTimer);
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream) {
      stream.on('error', () => undefined); // cancel() reports CANCELLED as an error: expected here
      stream.cancel();
    }
  }
}

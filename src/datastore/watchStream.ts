import type { Etcd3 } from 'etcd3';
import type { KeyRange } from '../model/keyScope.js';
import { classifyEtcdError } from './etcdErrors.js';
import { headerOf, type EtcdHeader } from './etcdSource.js';
import type { DatastoreError } from './errors.js';

interface WatchedRange extends KeyRange {
  readonly fromRevision: bigint;
}

/** One change: `value` undefined means deleted. */
export interface WatchEvent {
  readonly key: string;
  readonly value: string | undefined;
  readonly modRevision: bigint;
}

export type StreamEnd =
  | { readonly kind: 'error'; readonly error: DatastoreError }
  /** Nothing came back for staleAfterMs, not even the answer to a progress request: a frozen member. */
  | { readonly kind: 'stale'; readonly lastHeardAt: number }
  | { readonly kind: 'compacted'; readonly compactRevision: bigint }
  | { readonly kind: 'canceled'; readonly reason: string };

export interface WatchStreamHandlers {
  /** Every watch of the stream was created; `header` is etcd's answer to the last one. */
  onCreated(header: EtcdHeader): void;
  onEvents(rangeIndex: number, events: readonly WatchEvent[], header: EtcdHeader): void;
  /** Every answer's header (events, progress, creation): the mirror checks revision and cluster id. */
  onHeader(header: EtcdHeader): void;
  /** Called once; the stream is closed by then. */
  onEnd(end: StreamEnd): void;
}

export interface WatchStreamOptions {
  readonly client: Etcd3;
  readonly ranges: readonly WatchedRange[];
  /** A stream silent this long (a progress request is sent after a quarter of it) is given up. */
  readonly staleAfterMs: number;
  /** Endpoints (host:port) tried last: recently found stale. */
  readonly avoid: ReadonlySet<string>;
  /** Index of the endpoint to try first (then the next ones, wrapping): spreads nodes' watches over members. */
  readonly firstEndpoint?: number;
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
interface PoolLike {
  readonly hosts: readonly HostLike[];
  withConnection<T>(
    service: string,
    fn: (connection: {
      resource: HostLike;
      client: { watch(metadata: GrpcMetadata, options: object): RawStream };
      metadata: GrpcMetadata;
    }) => T | Promise<T>,
    hosts: Generator<HostLike>,
  ): Promise<T>;
}

const poolOf = (client: Etcd3): PoolLike => (client as unknown as { pool: PoolLike }).pool;

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
 * One etcd Watch stream holding one watch per range, opened on the first endpoint (from `firstEndpoint` on, in
 * the given order) that is not avoided. It asks for `hasleader` (etcd closes the stream when its member loses the
 * leader), and sends a progress request once it has been quiet for a quarter of staleAfterMs: a member that does not
 * answer within staleAfterMs (frozen, black-holed) ends the stream as `stale`, at most 1.25 × staleAfterMs after its
 * last answer.
 * Needs etcd ≥ 3.4 (explicit watch ids, progress requests).
 */
export class EtcdWatchStream {
  #stream: RawStream | undefined;
  #ended = false;
  #created = 0;
  #lastHeardAt: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #fragments = new Map<string, RawResponse['events']>();
  readonly #now: () => number;
  /** host:port of the member this stream talks to, once known. */
  endpoint: string | undefined;
  #host: HostLike | undefined;

  constructor(
    private readonly options: WatchStreamOptions,
    private readonly handlers: WatchStreamHandlers,
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
          watch_id: String(index + 1),
          fragment: true,
        },
      });
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
    this.handlers.onHeader(header);
    if (this.#ended) return;
    if (response.created) {
      this.#created++;
      if (this.#created === this.options.ranges.length) this.handlers.onCreated(header);
      return;
    }
    const index = Number(response.watch_id) - 1;
    if (index < 0 || index >= this.options.ranges.length || response.events.length === 0) return; // progress answer
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
    if (quiet >= probeMs && this.#stream) this.#stream.write({ progress_request: {} });
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
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream) {
      stream.on('error', () => undefined); // cancel() reports CANCELLED as an error: expected here
      stream.cancel();
    }
  }
}

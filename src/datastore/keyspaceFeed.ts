import type { KeyRange, KeyScope } from '../model/keyScope.js';
import type { DatastoreError } from './errors.js';
import type { EtcdHeader, ScopedSnapshot } from './snapshot.js';

/**
 * What `KeyspaceMirror` needs from etcd — a consistent read of a scope, a linearizable header, one watch stream —
 * as a seam: `etcdFeed` (etcdFeed.ts) is the real one; the unit tests drive the mirror through a fake.
 */
export interface KeyspaceFeed {
  /**
   * Every key of `scope` at one revision, from the member `near` talks to if given (then the others). Rejects with
   * a DatastoreError (or an abort).
   */
  read(scope: KeyScope, signal: AbortSignal, near?: FeedWatch): Promise<ScopedSnapshot>;
  /** The cluster's current header by a linearizable read: tells a member lagging behind from a rollback. */
  readHeader(signal: AbortSignal): Promise<EtcdHeader>;
  /** Opens one watch stream. Its handlers are never called before `watch` returns, and not after `onEnd`. */
  watch(options: FeedWatchOptions, handlers: FeedWatchHandlers): FeedWatch;
}

interface WatchedRange extends KeyRange {
  /** The first revision to send; 0: from now on (the watch starts after etcd's revision at its creation). */
  readonly fromRevision: bigint;
}

export interface FeedWatchOptions {
  /** One watch per range, each from its own revision. */
  readonly ranges: readonly WatchedRange[];
  /** Endpoints (host:port) tried last: recently failed or found stale. */
  readonly avoid: ReadonlySet<string>;
  /** Index of the endpoint to try first (then the next ones, wrapping; default 0): spreads the fleet's watches. */
  readonly firstEndpoint?: number;
}

/** One change: `value` undefined means deleted. */
export interface WatchEvent {
  readonly key: string;
  readonly value: string | undefined;
  readonly modRevision: bigint;
}

export type StreamEnd =
  | { readonly kind: 'error'; readonly error: DatastoreError }
  /** Nothing came back for the stale-after time, not even the answer to a progress request: a frozen member. */
  | { readonly kind: 'stale'; readonly lastHeardAt: number }
  | { readonly kind: 'compacted'; readonly compactRevision: bigint }
  | { readonly kind: 'canceled'; readonly reason: string };

export interface FeedWatchHandlers {
  /**
   * Every watch of the stream was created; `header` is the creation answer with the highest revision. A watch from
   * now (fromRevision 0) sends every revision above the revision of its creation answer. `steady`: every creation
   * answer (and a last one after them) carried the same revision — no write landed while the watches were created,
   * so none of them has history to catch up with (an etcd before 3.4.25 / 3.5.8 would answer progress requests
   * for such a watch before it has caught up).
   */
  onCreated(header: EtcdHeader, steady: boolean): void;
  /** The events of one watch response (whole revisions: etcd never splits one revision within a watch). */
  onEvents(rangeIndex: number, events: readonly WatchEvent[], header: EtcdHeader): void;
  /**
   * etcd's answer to a progress request: the stream's revision, for every watch at once. Through a server that
   * answers no progress requests (etcd's gRPC proxy), a linearizable read's header through the same server.
   */
  onProgress?(header: EtcdHeader): void;
  /**
   * The stream's server answers reads but no progress requests (etcd's gRPC proxy): from here on its liveness is
   * a read's answer and its progress a linearizable read's (called once per stream).
   */
  onProgressByReads?(endpoint: string | undefined): void;
  /** Every answer's header (events, progress, creation): the mirror checks revision and cluster id. */
  onHeader(header: EtcdHeader): void;
  /** Called once; the stream is closed by then. */
  onEnd(end: StreamEnd): void;
}

export interface FeedWatch {
  /** host:port of the member the stream talks to, once known. */
  readonly endpoint: string | undefined;
  /** Asks etcd for a progress answer (`onProgress`); ignored while the stream is not open. */
  requestProgress(): void;
  /**
   * Progress requests sent on this stream and not answered yet, whoever sent them (the gate, the stale probe). A
   * stream answers them in order, so a round of the gate counts only the answer to a request sent once it began.
   */
  readonly progressOutstanding?: number;
  close(): void;
}

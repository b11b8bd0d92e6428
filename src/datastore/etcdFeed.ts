import type { Etcd3 } from 'etcd3';
import { classifyEtcdError } from './etcdErrors.js';
import { readHeader, readScopedSnapshot } from './etcdSource.js';
import type { KeyspaceFeed } from './keyspaceFeed.js';
import { EtcdWatchStream, memberFirstKv } from './watchStream.js';

/** A read near the watch waits this long for its member (the client's default deadline for unary calls). */
const CALL_TIMEOUT_MS = 5_000;

export interface EtcdFeedOptions {
  readonly client: Etcd3;
  /** A watch silent this long is given up for another member (`--etcd-stale-after`). */
  readonly staleAfterMs: number;
  /** Wall clock (ms): when the stream last heard from etcd. */
  readonly now?: () => number;
}

/** The mirror's feed from a real etcd: the paged scoped read, a linearizable header read, the raw watch stream. */
export function etcdFeed(options: EtcdFeedOptions): KeyspaceFeed {
  return {
    read: async (scope, signal, near) => {
      const kv = near?.endpoint ? memberFirstKv(options.client, near.endpoint, CALL_TIMEOUT_MS) : undefined;
      try {
        return await readScopedSnapshot(options.client, scope, { signal, kv });
      } catch (error) {
        if (signal.aborted) throw error;
        throw classifyEtcdError(error);
      }
    },
    readHeader: (signal) => readHeader(options.client, signal),
    watch: (watchOptions, handlers) => {
      const stream = new EtcdWatchStream(
        { ...watchOptions, client: options.client, staleAfterMs: options.staleAfterMs, now: options.now },
        handlers,
      );
      stream.open();
      return stream;
    },
  };
}

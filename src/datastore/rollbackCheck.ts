import type { KeyspaceFeed } from './keyspaceFeed.js';
import type { EtcdHeader } from './snapshot.js';

/** What the mirror holds: the revision of its keyspace and the cluster it was read from. */
interface Held {
  readonly revision: bigint;
  readonly clusterId: string | undefined;
}

/**
 * Checks every answer's header against what the mirror holds: a new cluster id means etcd was replaced or
 * restored; a revision below the mirror's may be a member lagging a moment behind what another member sent, or a
 * restore from an older copy — a linearizable read of the cluster's header tells which. `found` gets the reason
 * to read everything again; nothing is called for a lagging member.
 */
export class RollbackCheck {
  #confirming = false;

  constructor(
    private readonly feed: Pick<KeyspaceFeed, 'readHeader'>,
    private readonly found: (reason: string) => void,
  ) {}

  /** `held` is asked again once the linearizable read answers; `current` false then: the answer is dropped. */
  check(header: EtcdHeader, held: () => Held, current: () => boolean, signal: AbortSignal): void {
    const { revision, clusterId } = held();
    if (clusterId !== undefined && header.clusterId !== clusterId) {
      this.found(
        `etcd cluster id changed from ${clusterId} to ${header.clusterId} (member ${header.memberId}): etcd was replaced or restored`,
      );
      return;
    }
    if (header.revision >= revision || this.#confirming) return;
    this.#confirming = true;
    this.feed
      .readHeader(signal)
      .then((cluster) => {
        if (!current()) return;
        const now = held();
        if (cluster.clusterId !== now.clusterId) {
          this.found(
            `etcd cluster id changed from ${now.clusterId ?? '?'} to ${cluster.clusterId}: etcd was replaced or restored`,
          );
        } else if (cluster.revision < now.revision) {
          this.found(
            `etcd revision went backwards: the mirror is at ${now.revision}, etcd answers at ${cluster.revision} (member ${header.memberId}): etcd was restored from an older copy`,
          );
        }
      })
      .finally(() => {
        this.#confirming = false;
      })
      .catch(() => undefined); // the stream's own failure handling takes over
  }
}

import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import type { Etcd3, Watcher } from 'etcd3';
import { classifyEtcdError } from './etcdErrors.js';
import { readEtcdSnapshot } from './etcdSource.js';
import { isDatastoreError, type DatastoreError } from './errors.js';

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The smallest key range [start, end) containing every key under every prefix. */
export function coveringRange(prefixes: readonly string[]): { start: string; end: string } {
  const sorted = [...prefixes].sort();
  const last = sorted[sorted.length - 1]!;
  const end = last.slice(0, -1) + String.fromCharCode(last.charCodeAt(last.length - 1) + 1);
  return { start: sorted[0]!, end };
}

export type MirrorState = 'syncing' | 'synced' | 'disconnected';

export interface KeyspaceMirrorOptions {
  readonly client: Etcd3;
  readonly prefixes: readonly string[];
  /** Called after each batch of changes is applied to `entries` (and after every full re-read). */
  readonly onChange: (changedKeys: readonly string[]) => void;
  readonly onStateChange?: (state: MirrorState, error?: DatastoreError) => void;
  /** A read or watch failed and will be retried (called once per failure, not per retry attempt). */
  readonly onRetry?: (error: DatastoreError, attempt: number) => void;
  readonly initialRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
}

/**
 * An in-memory copy of the keys under `prefixes`, kept current by etcd watches. It reads everything at one
 * revision, then watches from revision + 1, so no change between the read and the watch is missed. A lost
 * connection is resumed from the last revision by the etcd3 watch manager; a compacted revision (the watch
 * was cancelled) leads to a full re-read and new watches. It moves strings and knows nothing of their meaning.
 */
export class KeyspaceMirror {
  readonly entries = new Map<string, string>();
  #revision = 0n;
  #watchers: Watcher[] = [];
  #state: MirrorState = 'syncing';
  #resyncing: Promise<void> | undefined;
  #closed = false;
  #everSynced = false;
  #abort = new AbortController();

  constructor(private readonly options: KeyspaceMirrorOptions) {}

  get revision(): bigint {
    return this.#revision;
  }

  get state(): MirrorState {
    return this.#state;
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

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.#cancelWatchers();
  }

  /** Re-reads everything and re-watches (SIGHUP, or after a compaction). */
  resync(): Promise<void> {
    this.#resyncing ??= this.#sync().finally(() => {
      this.#resyncing = undefined;
    });
    return this.#resyncing;
  }

  #setState(state: MirrorState, error?: DatastoreError): void {
    if (this.#state === state) return;
    this.#state = state;
    this.options.onStateChange?.(state, error);
  }

  async #sync(): Promise<void> {
    await this.#cancelWatchers();
    // After the first sync every failure is retried (the live configuration stays; etcd may come back fixed).
    const fatal = (error: unknown): boolean => !this.#everSynced && isDatastoreError(error) && (error.kind === 'auth' || error.kind === 'tls');
    const policy = retry(handleWhen((error) => !fatal(error)), {
      backoff: new ExponentialBackoff({ initialDelay: this.options.initialRetryDelayMs ?? 100, maxDelay: this.options.maxRetryDelayMs ?? 5000 }),
    });
    let attempt = 0;
    const snapshot = await policy.execute(async () => {
      try {
        return await readEtcdSnapshot(this.options.client, this.options.prefixes);
      } catch (error) {
        const failure = classifyEtcdError(error);
        if (fatal(failure)) throw failure;
        attempt++;
        if (attempt === 1) this.options.onRetry?.(failure, attempt);
        this.#setState('disconnected', failure);
        throw failure;
      }
    }, this.#abort.signal);
    if (this.#closed) return;
    const changed = new Set<string>([...this.entries.keys(), ...snapshot.entries.keys()]);
    this.entries.clear();
    for (const [key, value] of snapshot.entries) this.entries.set(key, value);
    this.#revision = snapshot.revision;
    this.#everSynced = true;
    await this.#watch(snapshot.revision + 1n);
    this.#setState('synced');
    this.options.onChange([...changed]);
  }

  /**
   * One watcher over a key range that covers every prefix: a single watch stream has no ordering or
   * bookkeeping races between watchers (etcd3's manager can throw on a response for a watcher it already
   * dropped). Keys outside the prefixes inside that range are ignored.
   */
  async #watch(fromRevision: bigint): Promise<void> {
    const watcher = await this.options.client
      .watch()
      .inRange(coveringRange(this.options.prefixes))
      .startRevision(String(fromRevision))
      .create();
    watcher.on('data', (response) => {
      const changed: string[] = [];
      for (const event of response.events) {
        const revision = BigInt(event.kv.mod_revision);
        if (revision > this.#revision) this.#revision = revision;
        const key = event.kv.key.toString('utf8');
        if (!this.#covers(key)) continue;
        if (event.type === 'Delete') this.entries.delete(key);
        else this.entries.set(key, event.kv.value.toString('utf8'));
        changed.push(key);
      }
      if (changed.length > 0) this.options.onChange(changed);
    });
    watcher.on('disconnected', (error) => this.#setState('disconnected', classifyEtcdError(error)));
    watcher.on('connected', () => this.#setState('synced'));
    // A cancelled watch (compaction, lost permission) cannot resume: read everything again.
    watcher.on('error', (error) => {
      this.#watchers = this.#watchers.filter((w) => w !== watcher); // etcd3 already dropped it: never cancel it
      if (this.#closed) return;
      this.options.onRetry?.(classifyEtcdError(error), 1);
      void this.resync().catch(() => undefined);
    });
    this.#watchers.push(watcher);
  }

  #covers(key: string): boolean {
    return this.options.prefixes.some((prefix) => key.startsWith(prefix));
  }

  async #cancelWatchers(): Promise<void> {
    const watchers = this.#watchers;
    this.#watchers = [];
    // etcd3's cancel waits for etcd's answer; a lost connection must not hold a resync or a shutdown forever.
    await Promise.all(watchers.map((w) => Promise.race([w.cancel().catch(() => undefined), delay(2000)])));
  }
}

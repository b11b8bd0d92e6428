import { ChangeTrackedMap } from '../model/keyspaceChanges.js';
import type { KeyScope } from '../model/keyScope.js';
import { readKeyspaceFile } from './fileSource.js';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import type { KeyspaceListener, KeyspaceSource, LiveKeyspace } from './keyspaceSource.js';

/** What `start` and `resync` read: the whole keyspace, every time (a file, or the source's own map). */
type Loader = (signal: AbortSignal | undefined) => Promise<ReadonlyMap<string, string>>;

/**
 * A keyspace held in memory: `put`/`delete` act as etcd writes (each one a revision, sent to every open copy
 * whose scope keeps the key), `setState` as etcd misbehaving. Used by unit tests of the run loop, and, loaded from
 * a file, by `fileKeyspaceSource`.
 */
export class MemoryKeyspaceSource implements KeyspaceSource {
  readonly #entries: Map<string, string>;
  readonly #copies = new Set<MemoryCopy>();
  readonly #load: Loader | undefined;
  #revision = 1n;

  constructor(initial: Iterable<readonly [string, string]> = [], load?: Loader) {
    this.#entries = new Map(initial);
    this.#load = load;
  }

  get revision(): bigint {
    return this.#revision;
  }

  get entries(): ReadonlyMap<string, string> {
    return this.#entries;
  }

  open(scope: KeyScope, listener: KeyspaceListener): LiveKeyspace {
    const copy = new MemoryCopy(this, scope, listener);
    this.#copies.add(copy);
    return copy;
  }

  put(key: string, value: string): void {
    this.transaction([[key, value]]);
  }

  delete(key: string): void {
    this.transaction([[key, undefined]]);
  }

  /** Several writes as one revision, seen by readers at once (an etcd transaction); undefined deletes. */
  transaction(writes: Iterable<readonly [string, string | undefined]>): void {
    for (const [key, value] of writes) {
      if (value === undefined) this.#entries.delete(key);
      else this.#entries.set(key, value);
    }
    this.#changed();
  }

  /** Every open copy goes to `state` (stale, disconnected, …) as a KeyspaceMirror would report it. */
  setState(state: DatastoreState, info: Partial<DatastoreStateInfo> = {}): void {
    for (const copy of this.#copies) copy.setState(state, info);
  }

  /** @internal A full read: the loader's answer replaces the held entries. */
  async read(signal: AbortSignal | undefined): Promise<ReadonlyMap<string, string>> {
    if (this.#load) {
      const loaded = await this.#load(signal);
      this.#entries.clear();
      for (const [key, value] of loaded) this.#entries.set(key, value);
      this.#revision++;
    }
    return this.#entries;
  }

  /** @internal */
  forget(copy: MemoryCopy): void {
    this.#copies.delete(copy);
  }

  #changed(): void {
    this.#revision++;
    for (const copy of this.#copies) copy.refresh(this.#entries, this.#revision);
  }
}

/** The keys of `all` that `scope` reads and keeps (planned on `all` itself, as the mesh switch re-scopes). */
function scoped(all: ReadonlyMap<string, string>, scope: KeyScope): { entries: Map<string, string>; label: string } {
  const plan = scope.plan((key) => all.get(key));
  const entries = new Map<string, string>();
  for (const [key, value] of all)
    if (plan.ranges.some((r) => key >= r.start && key < r.end) && plan.keep(key)) entries.set(key, value);
  return { entries, label: plan.label };
}

class MemoryCopy implements LiveKeyspace {
  readonly entries = new ChangeTrackedMap();
  #revision = 0n;
  #state: DatastoreState = 'syncing';
  #label: string | undefined;
  #started = false;
  #closed = false;

  constructor(
    private readonly source: MemoryKeyspaceSource,
    private readonly scope: KeyScope,
    private readonly listener: KeyspaceListener,
  ) {}

  get revision(): bigint {
    return this.#revision;
  }

  get state(): DatastoreState {
    return this.#state;
  }

  get scopeLabel(): string | undefined {
    return this.#label;
  }

  async start(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const all = await this.source.read(signal);
    this.#started = true;
    this.refresh(all, this.source.revision, true);
  }

  async resync(reason?: string): Promise<void> {
    if (reason !== undefined) this.setState('resyncing', { reason });
    await this.start();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.source.forget(this);
    return Promise.resolve();
  }

  setState(state: DatastoreState, info: Partial<DatastoreStateInfo>): void {
    if (this.#state === state || this.#closed) return;
    this.#state = state;
    this.listener.onStateChange?.(state, { since: info.since ?? Date.now(), reason: info.reason, error: info.error });
  }

  refresh(all: ReadonlyMap<string, string>, revision: bigint, fullRead = false): void {
    if (!this.#started || this.#closed) return;
    const next = scoped(all, this.scope);
    const changed = [...next.entries].filter(([key, value]) => this.entries.get(key) !== value).map(([key]) => key);
    for (const key of this.entries.keys()) if (!next.entries.has(key)) changed.push(key);
    for (const key of changed) {
      const value = next.entries.get(key);
      if (value === undefined) this.entries.delete(key);
      else this.entries.set(key, value);
    }
    this.#revision = revision;
    this.#label = next.label;
    if (fullRead) this.setState('synced', {});
    // A full read always reports (as the mirror does); a write only when this scope keeps what changed.
    if (fullRead || changed.length > 0) this.listener.onChange(changed);
  }
}

/**
 * A keyspace read from a fixture-format JSON file (key → string value), whole, at start and again on every
 * resync (SIGHUP); it has no watch: a file does not say when it changed.
 */
export function fileKeyspaceSource(path: string): KeyspaceSource {
  return new MemoryKeyspaceSource([], async (signal) => (await readKeyspaceFile(path, { signal })).entries);
}

import type { Diagnostic } from './diagnostics.js';
import { classifyKey } from './keys.js';
import {
  applyHostChange,
  indexKeyspace,
  isHostField,
  type HostEntries,
  type Keyspace,
  type KeyspaceIndex,
} from './keyspaceIndex.js';
import type { OtherNode } from './nodeModel.js';

/** What one host contributes to the node list: its node (or none) and the diagnostics it costs. */
export interface HostNode {
  readonly globalAsNumber: number;
  readonly node: OtherNode | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * What a long-lived caller (`run`) keeps from one model build to the next, so a change to one host costs work
 * for that host: the keyspace index (updated in place for host address/AS/log level/network changes, found by
 * comparing with the keyspace of the last build), the sorted host names, and each host's validated node — an
 * unchanged host keeps its OtherNode and IpAddress objects, so the peers and views made from them are reused
 * too, and the renderer reuses their text. Every result is the same as a build from nothing (a property test
 * compares them after random changes).
 */
export class ModelMemo {
  #seen = new Map<string, string>();
  #index: KeyspaceIndex | undefined;
  #hostNames: string[] = [];
  readonly #sorted = new Map<string, readonly object[]>();
  /** Keyed by the host's entries object, which is replaced (never changed) when one of its keys changes. */
  #hostNodes = new WeakMap<HostEntries, HostNode>();

  /** The index of `keyspace`, updated from the last one when only host fields changed. */
  index(keyspace: Keyspace): KeyspaceIndex {
    const changed = this.#changes(keyspace);
    if (this.#index && changed !== undefined) {
      const hosts = this.#index.hosts;
      let namesChanged = false;
      for (const key of changed) {
        const meaning = classifyKey(key);
        if (!isHostField(meaning)) throw new Error(`not a host field: ${key}`); // #changes lets only those through
        const had = hosts.has(meaning.host);
        applyHostChange(this.#index, meaning, key, keyspace.get(key));
        if (had !== hosts.has(meaning.host)) namesChanged = true;
      }
      if (namesChanged) this.#hostNames = [...hosts.keys()].sort();
      return this.#index;
    }
    this.#index = indexKeyspace(keyspace);
    this.#hostNames = [...this.#index.hosts.keys()].sort();
    return this.#index;
  }

  /** The index's host names, sorted. */
  get hostNames(): readonly string[] {
    return this.#hostNames;
  }

  /**
   * `items` sorted by `compare` (a strict order of immutable objects), from the order the last call for `slot`
   * gave: the items still there keep it, new ones are sorted and merged in — linear for a one-item change.
   */
  sorted<T extends object>(slot: string, items: readonly T[], compare: (a: T, b: T) => number): T[] {
    const current = new Set<object>(items);
    const kept = ((this.#sorted.get(slot) ?? []) as T[]).filter((item) => current.has(item));
    let result: T[];
    if (kept.length === items.length) result = kept;
    else {
      const known = new Set<object>(kept);
      const added = items.filter((item) => !known.has(item)).sort(compare);
      result = [];
      let a = 0;
      let b = 0;
      while (a < kept.length && b < added.length)
        result.push(compare(kept[a]!, added[b]!) <= 0 ? kept[a++]! : added[b++]!);
      while (a < kept.length) result.push(kept[a++]!);
      while (b < added.length) result.push(added[b++]!);
    }
    this.#sorted.set(slot, result);
    return result;
  }

  hostNode(host: HostEntries, globalAsNumber: number, compute: () => HostNode): HostNode {
    const known = this.#hostNodes.get(host);
    if (known?.globalAsNumber === globalAsNumber) return known;
    const made = compute();
    this.#hostNodes.set(host, made);
    return made;
  }

  /**
   * The keys that differ from the last build's keyspace, when all of them are host fields (and few); undefined
   * when everything must be indexed again. The copy shares the keyspace's strings.
   */
  #changes(keyspace: Keyspace): string[] | undefined {
    const seen = this.#seen;
    const changed: string[] = [];
    let present = 0;
    keyspace.forEach((value, key) => {
      const before = seen.get(key);
      if (before !== undefined) present++;
      if (before !== value) changed.push(key);
    });
    if (present < seen.size) for (const key of seen.keys()) if (!keyspace.has(key)) changed.push(key);
    for (const key of changed) {
      const value = keyspace.get(key);
      if (value === undefined) seen.delete(key);
      else seen.set(key, value);
    }
    if (changed.length > Math.max(16, keyspace.size / 8)) return undefined;
    return changed.every((key) => isHostField(classifyKey(key))) ? changed : undefined;
  }
}

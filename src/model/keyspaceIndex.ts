import { classifyKey } from './keys.js';

/** The flat key → value map a datastore delivers. */
export type Keyspace = ReadonlyMap<string, string>;

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface HostEntries {
  readonly name: string;
  address: { 4?: KeyValue; 6?: KeyValue };
  asNumber?: KeyValue;
  logLevel?: KeyValue;
  network?: KeyValue;
  readonly peers: ReadonlyPerFamily<KeyValue & { ip: string }>;
  readonly blocks: ReadonlyPerFamily<KeyValue & { cidr: string }>;
}

type PerFamily<T> = { readonly 4: T[]; readonly 6: T[] };
type ReadonlyPerFamily<T> = { readonly 4: readonly T[]; readonly 6: readonly T[] };
const perFamily = <T>(): PerFamily<T> => ({ 4: [], 6: [] });
/** Most hosts have no node-specific peers and no blocks: they share this (frozen) empty pair of lists. */
const NONE: ReadonlyPerFamily<never> = Object.freeze({ 4: Object.freeze([]), 6: Object.freeze([]) });

/** HostEntries while the index is built: the lists are made on first use. */
interface MutableHostEntries extends HostEntries {
  peers: ReadonlyPerFamily<KeyValue & { ip: string }>;
  blocks: ReadonlyPerFamily<KeyValue & { cidr: string }>;
}

/** One pass over the keyspace, grouping the entries birdwatch understands by what their key means. */
export interface KeyspaceIndex {
  globalAsNumber?: KeyValue;
  nodeMesh?: KeyValue;
  globalLogLevel?: KeyValue;
  readonly globalPeers: PerFamily<KeyValue & { ip: string }>;
  readonly customFilters: PerFamily<KeyValue & { name: string }>;
  readonly routeReflectors: PerFamily<KeyValue & { ip: string }>;
  readonly pools: PerFamily<KeyValue & { cidr: string }>;
  readonly hosts: Map<string, HostEntries>;
  readonly malformed: (KeyValue & { reason: string })[];
}

export function indexKeyspace(keyspace: Keyspace): KeyspaceIndex {
  const index: KeyspaceIndex = {
    globalPeers: perFamily(),
    customFilters: perFamily(),
    routeReflectors: perFamily(),
    pools: perFamily(),
    hosts: new Map(),
    malformed: [],
  };
  const hosts = index.hosts as Map<string, MutableHostEntries>;
  // Keys come sorted, so a host's keys are consecutive: remember the last host instead of looking it up again.
  let last: MutableHostEntries | undefined;
  const host = (name: string): MutableHostEntries => {
    if (last?.name === name) return last;
    let entries = hosts.get(name);
    if (!entries) {
      // Both address slots up front: V8 then stores them in place instead of growing the object's elements.
      entries = { name, address: { 4: undefined, 6: undefined }, peers: NONE, blocks: NONE };
      hosts.set(name, entries);
    }
    return (last = entries);
  };
  const peersOf = (entries: MutableHostEntries): PerFamily<KeyValue & { ip: string }> =>
    (entries.peers === NONE ? (entries.peers = perFamily()) : entries.peers) as PerFamily<KeyValue & { ip: string }>;
  const blocksOf = (entries: MutableHostEntries): PerFamily<KeyValue & { cidr: string }> =>
    (entries.blocks === NONE ? (entries.blocks = perFamily()) : entries.blocks) as PerFamily<
      KeyValue & { cidr: string }
    >;
  // Sorted keys make every later list (and every diagnostic) come out in the same order.
  for (const key of [...keyspace.keys()].sort()) {
    const value = keyspace.get(key)!;
    const meaning = classifyKey(key);
    const kv = { key, value };
    switch (meaning.kind) {
      case 'globalAsNumber':
        index.globalAsNumber = kv;
        break;
      case 'nodeMesh':
        index.nodeMesh = kv;
        break;
      case 'globalLogLevel':
        index.globalLogLevel = kv;
        break;
      case 'globalPeer':
        index.globalPeers[meaning.family].push({ ...kv, ip: meaning.ip });
        break;
      case 'customFilter':
        index.customFilters[meaning.family].push({ ...kv, name: meaning.name });
        break;
      case 'routeReflector':
        index.routeReflectors[meaning.family].push({ ...kv, ip: meaning.ip });
        break;
      case 'pool':
        index.pools[meaning.family].push({ ...kv, cidr: meaning.cidr });
        break;
      case 'hostAddress':
        host(meaning.host).address[meaning.family] = kv;
        break;
      case 'hostAsNumber':
        host(meaning.host).asNumber = kv;
        break;
      case 'hostLogLevel':
        host(meaning.host).logLevel = kv;
        break;
      case 'hostNetwork':
        host(meaning.host).network = kv;
        break;
      case 'hostPeer':
        peersOf(host(meaning.host))[meaning.family].push({ ...kv, ip: meaning.ip });
        break;
      case 'block':
        blocksOf(host(meaning.host))[meaning.family].push({ ...kv, cidr: meaning.cidr });
        break;
      case 'malformed':
        index.malformed.push({ ...kv, reason: meaning.reason });
        break;
      case 'unknown':
        break;
    }
  }
  return index;
}

/** The position of `key` in a list kept in key order (indexKeyspace sorts the keys): found, or where it goes. */
function keyPosition(list: readonly KeyValue[], key: string): { readonly at: number; readonly found: boolean } {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (list[mid]!.key < key) low = mid + 1;
    else high = mid;
  }
  return { at: low, found: low < list.length && list[low]!.key === key };
}

/** `list` with `key` set to `entry` (undefined: removed), in key order; a new array, the old one unchanged. */
function withEntry<T extends KeyValue>(list: readonly T[], key: string, entry: T | undefined): T[] {
  const { at, found } = keyPosition(list, key);
  const next = list.slice();
  if (entry === undefined) {
    if (found) next.splice(at, 1);
  } else next.splice(at, found ? 1 : 0, entry);
  return next;
}

/** In place, for the index's own lists (nobody else holds them between builds). */
function setEntry<T extends KeyValue>(list: T[], key: string, entry: T | undefined): void {
  const { at, found } = keyPosition(list, key);
  if (entry === undefined) {
    if (found) list.splice(at, 1);
  } else list.splice(at, found ? 1 : 0, entry);
}

const hostIsEmpty = (host: HostEntries): boolean =>
  !host.address[4] &&
  !host.address[6] &&
  !host.asNumber &&
  !host.logLevel &&
  !host.network &&
  [host.peers[4], host.peers[6], host.blocks[4], host.blocks[6]].every((list) => list.length === 0);

/**
 * One key set to `value` (undefined: removed) in an index, giving what indexKeyspace would give for the changed
 * keyspace: the same entries in the same (key) order. A host's entries object is replaced by a changed copy,
 * never changed in place, so whoever kept a result worked out from the old object sees that it changed.
 */
export function applyKeyChange(index: KeyspaceIndex, key: string, value: string | undefined): void {
  const meaning = classifyKey(key);
  const kv = value === undefined ? undefined : { key, value };
  const host = (name: string, change: (entries: MutableHostEntries) => void): void => {
    const old = index.hosts.get(name);
    const entries: MutableHostEntries = old
      ? { ...old, address: { ...old.address } }
      : { name, address: { 4: undefined, 6: undefined }, peers: NONE, blocks: NONE };
    change(entries);
    if (hostIsEmpty(entries)) index.hosts.delete(name);
    else index.hosts.set(name, entries);
  };
  const family = <T>(pair: ReadonlyPerFamily<T>, f: 4 | 6, list: T[]): ReadonlyPerFamily<T> =>
    f === 4 ? { 4: list, 6: pair[6] } : { 4: pair[4], 6: list };
  switch (meaning.kind) {
    case 'globalAsNumber':
      index.globalAsNumber = kv;
      return;
    case 'nodeMesh':
      index.nodeMesh = kv;
      return;
    case 'globalLogLevel':
      index.globalLogLevel = kv;
      return;
    case 'globalPeer':
      return setEntry(index.globalPeers[meaning.family], key, kv && { ...kv, ip: meaning.ip });
    case 'customFilter':
      return setEntry(index.customFilters[meaning.family], key, kv && { ...kv, name: meaning.name });
    case 'routeReflector':
      return setEntry(index.routeReflectors[meaning.family], key, kv && { ...kv, ip: meaning.ip });
    case 'pool':
      return setEntry(index.pools[meaning.family], key, kv && { ...kv, cidr: meaning.cidr });
    case 'malformed':
      return setEntry(index.malformed, key, kv && { ...kv, reason: meaning.reason });
    case 'hostAddress':
      return host(meaning.host, (h) => (h.address[meaning.family] = kv));
    case 'hostAsNumber':
      return host(meaning.host, (h) => (h.asNumber = kv));
    case 'hostLogLevel':
      return host(meaning.host, (h) => (h.logLevel = kv));
    case 'hostNetwork':
      return host(meaning.host, (h) => (h.network = kv));
    case 'hostPeer':
      return host(meaning.host, (h) => {
        const list = withEntry(h.peers[meaning.family], key, kv && { ...kv, ip: meaning.ip });
        h.peers = family(h.peers, meaning.family, list);
      });
    case 'block':
      return host(meaning.host, (h) => {
        const list = withEntry(h.blocks[meaning.family], key, kv && { ...kv, cidr: meaning.cidr });
        h.blocks = family(h.blocks, meaning.family, list);
      });
    case 'unknown':
      return;
  }
}

import { classifyKey, type KeyMeaning } from './keys.js';

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

/** A key that sets one field of a host's entries (not a list: peers and blocks keep key order). */
export type HostFieldMeaning = Extract<
  KeyMeaning,
  { readonly kind: 'hostAddress' | 'hostAsNumber' | 'hostLogLevel' | 'hostNetwork' }
>;

export const isHostField = (meaning: KeyMeaning): meaning is HostFieldMeaning =>
  meaning.kind === 'hostAddress' ||
  meaning.kind === 'hostAsNumber' ||
  meaning.kind === 'hostLogLevel' ||
  meaning.kind === 'hostNetwork';

/**
 * One host field set (`value`) or removed (undefined) in an index, giving what indexKeyspace would give for the
 * changed keyspace. The host's entries object is replaced by a changed copy, never changed in place: whoever
 * keyed a result on the old object (ModelMemo) sees the change.
 */
export function applyHostChange(
  index: KeyspaceIndex,
  meaning: HostFieldMeaning,
  key: string,
  value: string | undefined,
): void {
  const old = index.hosts.get(meaning.host);
  const host: MutableHostEntries = old
    ? { ...old, address: { ...old.address } }
    : { name: meaning.host, address: { 4: undefined, 6: undefined }, peers: NONE, blocks: NONE };
  const kv = value === undefined ? undefined : { key, value };
  switch (meaning.kind) {
    case 'hostAddress':
      host.address[meaning.family] = kv;
      break;
    case 'hostAsNumber':
      host.asNumber = kv;
      break;
    case 'hostLogLevel':
      host.logLevel = kv;
      break;
    case 'hostNetwork':
      host.network = kv;
      break;
  }
  const empty =
    !host.address[4] &&
    !host.address[6] &&
    !host.asNumber &&
    !host.logLevel &&
    !host.network &&
    [host.peers[4], host.peers[6], host.blocks[4], host.blocks[6]].every((list) => list.length === 0);
  if (empty) index.hosts.delete(meaning.host);
  else index.hosts.set(meaning.host, host);
}

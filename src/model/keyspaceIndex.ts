import type { AddressFamily } from './address.js';
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
  readonly peers: { readonly 4: (KeyValue & { ip: string })[]; readonly 6: (KeyValue & { ip: string })[] };
  readonly blocks: { readonly 4: (KeyValue & { cidr: string })[]; readonly 6: (KeyValue & { cidr: string })[] };
}

type PerFamily<T> = { readonly 4: T[]; readonly 6: T[] };
const perFamily = <T>(): PerFamily<T> => ({ 4: [], 6: [] });

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
  const host = (name: string): HostEntries => {
    let entries = index.hosts.get(name);
    if (!entries) {
      entries = { name, address: {}, peers: perFamily(), blocks: perFamily() };
      index.hosts.set(name, entries);
    }
    return entries;
  };
  // Sorted keys make every later list (and every diagnostic) come out in the same order.
  for (const key of [...keyspace.keys()].sort()) {
    const value = keyspace.get(key)!;
    const meaning = classifyKey(key);
    const kv = { key, value };
    switch (meaning.kind) {
      case 'globalAsNumber': index.globalAsNumber = kv; break;
      case 'nodeMesh': index.nodeMesh = kv; break;
      case 'globalLogLevel': index.globalLogLevel = kv; break;
      case 'globalPeer': index.globalPeers[meaning.family].push({ ...kv, ip: meaning.ip }); break;
      case 'customFilter': index.customFilters[meaning.family].push({ ...kv, name: meaning.name }); break;
      case 'routeReflector': index.routeReflectors[meaning.family].push({ ...kv, ip: meaning.ip }); break;
      case 'pool': index.pools[meaning.family].push({ ...kv, cidr: meaning.cidr }); break;
      case 'hostAddress': host(meaning.host).address[meaning.family as AddressFamily] = kv; break;
      case 'hostAsNumber': host(meaning.host).asNumber = kv; break;
      case 'hostLogLevel': host(meaning.host).logLevel = kv; break;
      case 'hostNetwork': host(meaning.host).network = kv; break;
      case 'hostPeer': host(meaning.host).peers[meaning.family].push({ ...kv, ip: meaning.ip }); break;
      case 'block': host(meaning.host).blocks[meaning.family].push({ ...kv, cidr: meaning.cidr }); break;
      case 'malformed': index.malformed.push({ ...kv, reason: meaning.reason }); break;
      case 'unknown': break;
    }
  }
  return index;
}

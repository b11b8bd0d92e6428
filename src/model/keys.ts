import type { AddressFamily } from './address.js';

/**
 * The Calico v1 keyspace: every key path birdwatch reads, and the writers use, is spelled here once.
 * A pool or block key encodes its CIDR with '/' replaced by '-'.
 */
export const BGP_PREFIX = '/calico/bgp/v1/';
export const GLOBAL_PREFIX = '/calico/bgp/v1/global/';
export const HOST_PREFIX = '/calico/bgp/v1/host/';
export const POOL_PREFIX = '/calico/v1/ipam/';
export const IPAM_HOST_PREFIX = '/calico/ipam/v2/host/';
const CONFIG_PREFIX = '/calico/v1/config/';

/**
 * Every prefix any role reads (operator commands, test oracles); the daemon reads its role's scope (keyScope.ts).
 * @internal the test world and the benchmarks read or watch every prefix.
 */
export const WATCHED_PREFIXES: readonly string[] = [BGP_PREFIX, POOL_PREFIX, IPAM_HOST_PREFIX];

const encodeCidrSegment = (cidr: string): string => cidr.replace('/', '-');
/** @internal the model unit test round-trips CIDR segments. */
export const decodeCidrSegment = (segment: string): string => {
  const dash = segment.lastIndexOf('-');
  return dash < 0 ? segment : `${segment.slice(0, dash)}/${segment.slice(dash + 1)}`;
};

const v = (family: AddressFamily): string => `v${family}`;

export const keys = {
  globalAsNumber: `${GLOBAL_PREFIX}as_num`,
  nodeMesh: `${GLOBAL_PREFIX}node_mesh`,
  globalLogLevel: `${GLOBAL_PREFIX}loglevel`,
  ipInIpEnabled: `${CONFIG_PREFIX}IpInIpEnabled`,
  globalPeer: (family: AddressFamily, ip: string) => `${GLOBAL_PREFIX}peer_${v(family)}/${ip}`,
  globalPeerDir: (family: AddressFamily) => `${GLOBAL_PREFIX}peer_${v(family)}/`,
  customFilter: (family: AddressFamily, name: string) => `${GLOBAL_PREFIX}custom_filters/${v(family)}/${name}`,
  hostDir: (host: string) => `${HOST_PREFIX}${host}/`,
  hostAddress: (host: string, family: AddressFamily) => `${HOST_PREFIX}${host}/ip_addr_${v(family)}`,
  hostAsNumber: (host: string) => `${HOST_PREFIX}${host}/as_num`,
  hostLogLevel: (host: string) => `${HOST_PREFIX}${host}/loglevel`,
  hostNetwork: (host: string) => `${HOST_PREFIX}${host}/network_v4`,
  hostPeer: (host: string, family: AddressFamily, ip: string) => `${HOST_PREFIX}${host}/peer_${v(family)}/${ip}`,
  hostPeerDir: (host: string, family: AddressFamily) => `${HOST_PREFIX}${host}/peer_${v(family)}/`,
  routeReflector: (family: AddressFamily, ip: string) => `${BGP_PREFIX}rr_${v(family)}/${ip}`,
  routeReflectorDir: (family: AddressFamily) => `${BGP_PREFIX}rr_${v(family)}/`,
  pool: (family: AddressFamily, cidr: string) => `${POOL_PREFIX}${v(family)}/pool/${encodeCidrSegment(cidr)}`,
  poolDir: (family: AddressFamily) => `${POOL_PREFIX}${v(family)}/pool/`,
  block: (host: string, family: AddressFamily, cidr: string) =>
    `${IPAM_HOST_PREFIX}${host}/ipv${family}/block/${encodeCidrSegment(cidr)}`,
} as const;

/** What one key means, recognised from its path alone (values are interpreted by the model builder). */
export type KeyMeaning =
  | { readonly kind: 'globalAsNumber' | 'nodeMesh' | 'globalLogLevel' }
  | { readonly kind: 'globalPeer'; readonly family: AddressFamily; readonly ip: string }
  | { readonly kind: 'customFilter'; readonly family: AddressFamily; readonly name: string }
  | { readonly kind: 'hostAddress'; readonly host: string; readonly family: AddressFamily }
  | { readonly kind: 'hostAsNumber' | 'hostLogLevel' | 'hostNetwork'; readonly host: string }
  | { readonly kind: 'hostPeer'; readonly host: string; readonly family: AddressFamily; readonly ip: string }
  | { readonly kind: 'routeReflector'; readonly family: AddressFamily; readonly ip: string }
  | { readonly kind: 'pool'; readonly family: AddressFamily; readonly cidr: string }
  | { readonly kind: 'block'; readonly host: string; readonly family: AddressFamily; readonly cidr: string }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'unknown' };

const family = (text: string | undefined): AddressFamily | undefined =>
  text === 'v4' ? 4 : text === 'v6' ? 6 : undefined;

const UNKNOWN: KeyMeaning = { kind: 'unknown' };
/** A key inside a directory birdwatch owns, but of a shape no writer produces (e.g. a '/' inside an address). */
const malformed = (what: string): KeyMeaning => ({
  kind: 'malformed',
  reason: `not a valid ${what} key (unexpected path segments)`,
});

export function classifyKey(key: string): KeyMeaning {
  if (key.startsWith(GLOBAL_PREFIX)) return classifyGlobal(key.slice(GLOBAL_PREFIX.length).split('/'));
  if (key.startsWith(HOST_PREFIX)) return classifyHost(key);
  if (key.startsWith(BGP_PREFIX)) {
    const [dir, ip, ...rest] = key.slice(BGP_PREFIX.length).split('/');
    const fam = /^rr_v[46]$/.test(dir ?? '') ? family(dir!.slice(3)) : undefined;
    if (!fam) return UNKNOWN;
    return ip !== undefined && rest.length === 0
      ? { kind: 'routeReflector', family: fam, ip }
      : malformed('route reflector');
  }
  if (key.startsWith(POOL_PREFIX)) {
    const [fam, pool, segment, ...rest] = key.slice(POOL_PREFIX.length).split('/');
    const f = family(fam);
    if (!f || pool !== 'pool') return UNKNOWN;
    return segment !== undefined && rest.length === 0
      ? { kind: 'pool', family: f, cidr: decodeCidrSegment(segment) }
      : malformed('pool');
  }
  if (key.startsWith(IPAM_HOST_PREFIX)) {
    const [host, ipv, block, segment, ...rest] = key.slice(IPAM_HOST_PREFIX.length).split('/');
    const f = /^ipv[46]$/.test(ipv ?? '') ? family(`v${ipv!.slice(3)}`) : undefined;
    if (host !== undefined && f && block === 'block' && segment !== undefined && rest.length === 0) {
      return { kind: 'block', host, family: f, cidr: decodeCidrSegment(segment) };
    }
    return key.includes('/block/') ? malformed('IPAM block') : UNKNOWN;
  }
  return UNKNOWN;
}

function classifyGlobal(parts: string[]): KeyMeaning {
  const [first, second, third, ...rest] = parts;
  if (parts.length === 1) {
    if (first === 'as_num') return { kind: 'globalAsNumber' };
    if (first === 'node_mesh') return { kind: 'nodeMesh' };
    if (first === 'loglevel') return { kind: 'globalLogLevel' };
    return UNKNOWN;
  }
  if (/^peer_v[46]$/.test(first ?? '')) {
    return parts.length === 2
      ? { kind: 'globalPeer', family: family(first!.slice(5))!, ip: second! }
      : malformed('global peer');
  }
  const fam = family(second);
  if (first === 'custom_filters') {
    return fam && third !== undefined && rest.length === 0
      ? { kind: 'customFilter', family: fam, name: third }
      : malformed('custom filter');
  }
  return UNKNOWN;
}

/**
 * A key under HOST_PREFIX. Most are `<host>/<leaf>` (two segments): those are read without splitting the key,
 * since every key is classified on every render; anything longer goes through classifyHostParts.
 */
function classifyHost(key: string): KeyMeaning {
  const slash = key.indexOf('/', HOST_PREFIX.length);
  if (slash < 0 || key.indexOf('/', slash + 1) >= 0) return classifyHostParts(key.slice(HOST_PREFIX.length).split('/'));
  const leafIs = (leaf: string): boolean => key.length === slash + 1 + leaf.length && key.startsWith(leaf, slash + 1);
  const host = (): string => key.slice(HOST_PREFIX.length, slash);
  if (leafIs('ip_addr_v4')) return { kind: 'hostAddress', host: host(), family: 4 };
  if (leafIs('ip_addr_v6')) return { kind: 'hostAddress', host: host(), family: 6 };
  if (leafIs('as_num')) return { kind: 'hostAsNumber', host: host() };
  if (leafIs('loglevel')) return { kind: 'hostLogLevel', host: host() };
  if (leafIs('network_v4')) return { kind: 'hostNetwork', host: host() };
  return UNKNOWN;
}

function classifyHostParts(parts: string[]): KeyMeaning {
  const [host, leaf, ip, ...rest] = parts;
  if (host === undefined || leaf === undefined) return UNKNOWN;
  if (rest.length > 0 || (ip !== undefined && !/^peer_v[46]$/.test(leaf))) {
    return parts.some((p) => /^(peer_v[46]|ip_addr_v[46]|as_num|loglevel|network_v4)$/.test(p))
      ? malformed('host')
      : UNKNOWN;
  }
  if (ip === undefined) {
    if (leaf === 'ip_addr_v4') return { kind: 'hostAddress', host, family: 4 };
    if (leaf === 'ip_addr_v6') return { kind: 'hostAddress', host, family: 6 };
    if (leaf === 'as_num') return { kind: 'hostAsNumber', host };
    if (leaf === 'loglevel') return { kind: 'hostLogLevel', host };
    if (leaf === 'network_v4') return { kind: 'hostNetwork', host };
    return UNKNOWN;
  }
  if (/^peer_v[46]$/.test(leaf)) return { kind: 'hostPeer', host, family: family(leaf.slice(5))!, ip };
  return UNKNOWN;
}

/**
 * Whether a change to `key` can alter the configuration of node `nodeName`. Other hosts' IPAM blocks and
 * node-specific peers cannot; everything else (addresses, AS numbers, globals, pools) can.
 */
export function isRelevantKey(key: string, nodeName: string): boolean {
  const meaning = classifyKey(key);
  if (
    meaning.kind === 'block' ||
    meaning.kind === 'hostPeer' ||
    meaning.kind === 'hostLogLevel' ||
    meaning.kind === 'hostNetwork'
  ) {
    return meaning.host === nodeName;
  }
  return meaning.kind !== 'unknown';
}

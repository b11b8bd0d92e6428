import { accept, refuse, type Validated } from './result.js';

export type AddressFamily = 4 | 6;

/** A validated IP address: its numeric value and canonical text (dotted quad, or RFC 5952 for IPv6). */
export interface IpAddress {
  readonly family: AddressFamily;
  readonly value: bigint;
  readonly text: string;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * The 32-bit value of a dotted quad — exactly four decimal octets 0-255 without leading zeros ("0" itself is
 * fine), nothing else — or undefined. A hand-written scan: it runs once per node on every render.
 */
function dottedQuadValue(text: string): number | undefined {
  const length = text.length;
  let value = 0;
  let i = 0;
  for (let octets = 1; ; octets++) {
    const start = i;
    let octet = 0;
    for (let c = text.charCodeAt(i); i < length && c >= 48 && c <= 57; c = text.charCodeAt(++i))
      octet = octet * 10 + (c - 48);
    const digits = i - start;
    if (digits === 0 || digits > 3 || (digits > 1 && text.charCodeAt(start) === 48) || octet > 255) return undefined;
    value = value * 256 + octet;
    if (octets === 4) return i === length ? value : undefined;
    if (text.charCodeAt(i) !== 46 /* . */) return undefined;
    i++;
  }
}

/** @internal the model unit tests parse one family at a time. */
export function parseIPv4(text: string): Validated<IpAddress> {
  const value = dottedQuadValue(text);
  if (value === undefined) return refuse(`not an IPv4 address (dotted quad without leading zeros)`);
  return accept({ family: 4, value: BigInt(value), text });
}

function parseHexGroups(part: string): bigint[] | undefined {
  if (part === '') return [];
  const groups = part.split(':');
  const values: bigint[] = [];
  for (const group of groups) {
    if (!HEX_GROUP.test(group)) return undefined;
    values.push(BigInt(`0x${group}`));
  }
  return values;
}

/** @internal the model unit tests parse one family at a time. */
export function parseIPv6(text: string): Validated<IpAddress> {
  if (text.length === 0 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) {
    return refuse('not an IPv6 address');
  }
  let body = text;
  let embeddedV4: bigint[] = [];
  if (body.includes('.')) {
    const lastColon = body.lastIndexOf(':');
    const v4 = parseIPv4(body.slice(lastColon + 1));
    if (lastColon < 0 || !v4.ok) return refuse('not an IPv6 address (bad embedded IPv4 part)');
    embeddedV4 = [v4.value.value >> 16n, v4.value.value & 0xffffn];
    const prefix = body.slice(0, lastColon + 1);
    body = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return refuse('not an IPv6 address (more than one "::")');
  const head = parseHexGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? parseHexGroups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return refuse('not an IPv6 address');
  const tailAll = [...tail, ...embeddedV4];
  const present = head.length + tailAll.length;
  let groups: bigint[];
  if (halves.length === 2) {
    if (present > 7) return refuse('not an IPv6 address (too many groups)');
    groups = [...head, ...new Array<bigint>(8 - present).fill(0n), ...tailAll];
  } else {
    if (present !== 8) return refuse('not an IPv6 address (needs 8 groups)');
    groups = [...head, ...tailAll];
  }
  const value = groups.reduce((acc, group) => (acc << 16n) | group, 0n);
  return accept({ family: 6, value, text: formatIPv6(value) });
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

export function parseIpAddress(text: string, family?: AddressFamily): Validated<IpAddress> {
  if (family === 4) return parseIPv4(text);
  if (family === 6) return parseIPv6(text);
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

export function compareAddresses(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export const familyBits = (family: AddressFamily): number => (family === 4 ? 32 : 128);

/**
 * Address classes that BIRD 1.6 refuses, or that can never be the far end of a BGP (TCP) session, as a
 * `neighbor`, `router id` or `source address` — the three places a peer's or a node's address lands.
 * Measured with Debian's BIRD 1.6.8 (`bird -p` / `bird6 -p` on generated configs, as the templates use them:
 * `multihop`, a `source address`) and Linux 6.18 TCP in network namespaces; rerun with scripts/sweep-addresses.ts.
 *
 * | class                        | bird -p / bird6 -p                                             | TCP (Linux)                       | here    |
 * |------------------------------|----------------------------------------------------------------|-----------------------------------|---------|
 * | 0.0.0.0, ::                  | neighbor: "Neighbor must be configured"; router id 0: ignored, | —                                 | refused |
 * |                              | BIRD picks an interface's ("Cannot determine router ID")       |                                   |         |
 * | fe80::/10 link-local         | neighbor: "Link-local neighbor address requires specified      | needs a scope (interface)         | refused |
 * |                              | interface"; source: "Multihop BGP cannot be used with          |                                   |         |
 * |                              | link-local addresses"                                          |                                   |         |
 * | 224.0.0.0/4, ff00::/8        | accepted                                                       | ENETUNREACH; v6 not assignable    | refused |
 * | 255.255.255.255              | accepted                                                       | ENETUNREACH                       | refused |
 * | ::ffff:0:0/96 IPv4-mapped    | accepted                                                       | EADDRNOTAVAIL (bird6: "bind:      | refused |
 * |                              |                                                                | Cannot assign requested address") |         |
 * | 127.0.0.0/8, ::1 loopback    | accepted                                                       | connects (a speaker on this host) | kept    |
 * | 0.0.0.0/8 (not 0.0.0.0)      | accepted                                                       | connects (Linux ≥ 5.3)            | kept    |
 * | 240.0.0.0/4 class E          | accepted                                                       | connects                          | kept    |
 * | 169.254/16, fec0::/10, ::/96 | accepted                                                       | connects                          | kept    |
 * | IPv4-compatible, 100::/64,   |                                                                |                                   |         |
 * | documentation, ULA           |                                                                |                                   |         |
 */
export function unusableBgpAddressReason(address: IpAddress): string | undefined {
  const shown = JSON.stringify(address.text);
  if (address.value === 0n) {
    return address.family === 4
      ? `${shown} is the unspecified address; BIRD refuses it as a neighbor and ignores it as a router id`
      : `${shown} is the unspecified address; BIRD refuses it as a neighbor`;
  }
  if (address.family === 4) {
    if (address.value >> 28n === 0xen)
      return `${shown} is an IPv4 multicast address (224.0.0.0/4); a BGP session cannot reach it`;
    if (address.value === 0xffffffffn) return `${shown} is the IPv4 broadcast address; a BGP session cannot reach it`;
    return undefined;
  }
  if (address.value >> 118n === 0x3fan)
    return `${shown} is an IPv6 link-local address (fe80::/10); BIRD needs an interface for it`;
  if (address.value >> 120n === 0xffn)
    return `${shown} is an IPv6 multicast address (ff00::/8); a BGP session cannot reach it`;
  if (address.value >> 32n === 0xffffn) {
    return `${shown} is an IPv4-mapped IPv6 address (::ffff:0:0/96) for ${formatIPv4(address.value & 0xffffffffn)}; bird6 cannot use it (an IPv4 peer belongs under the IPv4 keys)`;
  }
  return undefined;
}

/** An address BIRD can use as a BGP neighbor, router id and source address (see unusableBgpAddressReason). */
export function parseBgpAddress(text: string, family?: AddressFamily): Validated<IpAddress> {
  const parsed = parseIpAddress(text, family);
  if (!parsed.ok) return parsed;
  const reason = unusableBgpAddressReason(parsed.value);
  return reason === undefined ? parsed : refuse(reason);
}

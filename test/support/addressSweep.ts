import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateBirdConfig } from '../../src/bird/validateConfig.js';

/**
 * The address-class sweep behind unusableBgpAddressReason (src/model/address.ts): one sample per class, put
 * by turns in each place a peer's or node's address lands in the rendered configuration — `neighbor`,
 * `source address` (bgp template with `multihop`, as the templates write it) and `router id` — and checked
 * by the real `bird -p` / `bird6 -p`. `usable` is what this project decided for the class (with the reason
 * where BIRD accepts it but a BGP session can never reach it); the sweep test checks both directions.
 * Run by test/address-classes.test.ts and printed by scripts/sweep-addresses.ts.
 */

export type Role = 'neighbor' | 'source address' | 'router id';

export interface AddressSample {
  readonly family: 4 | 6;
  readonly text: string;
  readonly addressClass: string;
  /** Usable as a peer and as a node's own address. */
  readonly usable: boolean;
  /** Roles BIRD itself refuses (bird -p), as measured; the rest are accepted. */
  readonly birdRefuses: readonly Role[];
}

export const ADDRESS_SAMPLES: readonly AddressSample[] = [
  { family: 4, text: '0.0.0.0', addressClass: 'unspecified', usable: false, birdRefuses: ['neighbor'] },
  { family: 4, text: '224.0.0.5', addressClass: 'multicast 224.0.0.0/4', usable: false, birdRefuses: [] },
  { family: 4, text: '239.255.255.255', addressClass: 'multicast 224.0.0.0/4', usable: false, birdRefuses: [] },
  { family: 4, text: '255.255.255.255', addressClass: 'limited broadcast', usable: false, birdRefuses: [] },
  { family: 4, text: '0.1.2.3', addressClass: '0.0.0.0/8 ("this network")', usable: true, birdRefuses: [] },
  { family: 4, text: '127.0.0.2', addressClass: 'loopback 127.0.0.0/8', usable: true, birdRefuses: [] },
  { family: 4, text: '169.254.1.1', addressClass: 'link-local 169.254.0.0/16', usable: true, birdRefuses: [] },
  { family: 4, text: '240.0.0.1', addressClass: 'class E 240.0.0.0/4', usable: true, birdRefuses: [] },
  { family: 4, text: '255.255.255.254', addressClass: 'class E 240.0.0.0/4', usable: true, birdRefuses: [] },
  { family: 4, text: '223.255.255.255', addressClass: 'unicast (below multicast)', usable: true, birdRefuses: [] },
  { family: 4, text: '192.0.2.1', addressClass: 'documentation 192.0.2.0/24', usable: true, birdRefuses: [] },
  { family: 4, text: '100.64.0.1', addressClass: 'shared 100.64.0.0/10', usable: true, birdRefuses: [] },
  { family: 6, text: '::', addressClass: 'unspecified', usable: false, birdRefuses: ['neighbor'] },
  {
    family: 6,
    text: 'fe80::1',
    addressClass: 'link-local fe80::/10',
    usable: false,
    birdRefuses: ['neighbor', 'source address'],
  },
  {
    family: 6,
    text: 'febf:ffff::1',
    addressClass: 'link-local fe80::/10',
    usable: false,
    birdRefuses: ['neighbor', 'source address'],
  },
  { family: 6, text: 'ff02::1', addressClass: 'multicast ff00::/8', usable: false, birdRefuses: [] },
  { family: 6, text: 'ff0e::1', addressClass: 'multicast ff00::/8', usable: false, birdRefuses: [] },
  { family: 6, text: '::ffff:10.0.0.1', addressClass: 'IPv4-mapped ::ffff:0:0/96', usable: false, birdRefuses: [] },
  { family: 6, text: '::1', addressClass: 'loopback', usable: true, birdRefuses: [] },
  { family: 6, text: '::10.0.0.1', addressClass: 'IPv4-compatible ::/96 (deprecated)', usable: true, birdRefuses: [] },
  { family: 6, text: 'fe7f::1', addressClass: 'unicast (below link-local)', usable: true, birdRefuses: [] },
  { family: 6, text: 'fec0::1', addressClass: 'site-local fec0::/10 (deprecated)', usable: true, birdRefuses: [] },
  { family: 6, text: 'feff::1', addressClass: 'site-local fec0::/10 (deprecated)', usable: true, birdRefuses: [] },
  { family: 6, text: 'fd00::1', addressClass: 'unique local fc00::/7', usable: true, birdRefuses: [] },
  { family: 6, text: '2001:db8::1', addressClass: 'documentation 2001:db8::/32', usable: true, birdRefuses: [] },
  { family: 6, text: '100::1', addressClass: 'discard 100::/64', usable: true, birdRefuses: [] },
  { family: 6, text: '64:ff9b::1', addressClass: 'NAT64 64:ff9b::/96', usable: true, birdRefuses: [] },
];

/** `rr cluster id` values and whether bird -p accepts them (measured the same way, in bird and bird6). */
export const CLUSTER_ID_SAMPLES: readonly { readonly text: string; readonly birdAccepts: boolean }[] = [
  { text: '1', birdAccepts: true },
  { text: '4294967295', birdAccepts: true },
  { text: '4294967296', birdAccepts: false },
  { text: '0', birdAccepts: true },
  { text: '0.0.0.0', birdAccepts: true },
  { text: '1.0.0.1', birdAccepts: true },
  { text: '255.255.255.255', birdAccepts: true },
  { text: '0x10', birdAccepts: true },
  { text: '1.2', birdAccepts: false },
  { text: '-1', birdAccepts: false },
  { text: 'fd00::1', birdAccepts: false },
];

/** A tiny configuration with `address` in `role` and ordinary addresses elsewhere. */
export function sweepConfig(family: 4 | 6, role: Role, address: string): string {
  const neighbor = role === 'neighbor' ? address : family === 4 ? '10.0.0.2' : 'fd00::2';
  const source = role === 'source address' ? address : family === 4 ? '10.0.0.1' : 'fd00::1';
  const routerId = role === 'router id' ? address : '10.0.0.1';
  return [
    `router id ${routerId};`,
    'protocol device { scan time 2; }',
    `template bgp bgp_template { local as 64511; multihop; source address ${source}; }`,
    `protocol bgp P from bgp_template { neighbor ${neighbor} as 64512; }`,
    '',
  ].join('\n');
}

export function clusterIdConfig(family: 4 | 6, clusterId: string): string {
  const [source, neighbor] = family === 4 ? ['10.0.0.1', '10.0.0.2'] : ['fd00::1', 'fd00::2'];
  return [
    'router id 10.0.0.1;',
    `template bgp bgp_template { local as 64511; multihop; source address ${source}; }`,
    `protocol bgp P from bgp_template { neighbor ${neighbor} as 64511; rr client; rr cluster id ${clusterId}; }`,
    '',
  ].join('\n');
}

/** BIRD's verdict on one configuration: undefined when `bird -p` accepts it, else its message. */
export async function birdVerdict(family: 4 | 6, config: string): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-sweep-'));
  try {
    const path = join(dir, 'sweep.cfg');
    writeFileSync(path, config);
    const result = await validateBirdConfig({ binary: family === 4 ? 'bird' : 'bird6', configPath: path });
    return result.ok ? undefined : result.message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ROLES: readonly Role[] = ['neighbor', 'source address', 'router id'];

/** The roles a sample can be put in: `router id` is IPv4 in both daemons (bird6 takes a dotted quad). */
export const rolesOf = (sample: AddressSample): readonly Role[] =>
  sample.family === 4 ? ROLES : ROLES.filter((r) => r !== 'router id');

import { parseIpAddress, type AddressFamily, type IpAddress } from '../model/address.js';

/** The kinds of BGP session birdwatch names, by protocol-name prefix. */
export type PeerType = 'mesh' | 'global' | 'node' | 'reflector' | 'client';

const PREFIXES: readonly (readonly [prefix: string, type: PeerType])[] = [
  ['Mesh_', 'mesh'],
  ['Global_', 'global'],
  ['Node_', 'node'],
  ['Reflector_', 'reflector'],
  ['Client_', 'client'],
];

/** How calicoctl status (and `birdwatch status`) calls each kind. */
export const PEER_TYPE_LABELS: Readonly<Record<PeerType, string>> = {
  mesh: 'node-to-node mesh',
  global: 'global',
  node: 'node specific',
  reflector: 'route reflector peer',
  client: 'route reflector client',
};

export interface PeerProtocolName {
  readonly type: PeerType;
  /** The neighbor recovered from the name, or undefined when the rest of the name is not an address. */
  readonly address: IpAddress | undefined;
}

/** The address in an encoded name part, trying `family` first (`10_0_0_2` → 10.0.0.2, `2001_db8__1` → 2001:db8::1). */
function decodeAddress(encoded: string, family: AddressFamily | undefined): IpAddress | undefined {
  const asV4 = /^\d{1,3}(_\d{1,3}){3}$/.test(encoded) ? parseIpAddress(encoded.replace(/_/g, '.'), 4) : undefined;
  const asV6 = encoded.includes('_') ? parseIpAddress(encoded.replace(/_/g, ':'), 6) : undefined;
  const order = family === 6 ? [asV6, asV4] : [asV4, asV6];
  for (const candidate of order) if (candidate?.ok) return candidate.value;
  return undefined;
}

/**
 * The inverse of the renderer's protocol names: `Mesh_10_0_0_2` → mesh, 10.0.0.2; `Mesh_2001_db8__1` → mesh,
 * 2001:db8::1 (in IPv6 names the underscores were colons). Undefined for names birdwatch does not generate
 * (kernel1, device1, …). `family` is the daemon's (bird: 4, bird6: 6), used first when a name could be either.
 */
export function parsePeerProtocolName(name: string, family?: AddressFamily): PeerProtocolName | undefined {
  const match = PREFIXES.find(([prefix]) => name.startsWith(prefix));
  if (match === undefined) return undefined;
  const [prefix, type] = match;
  return { type, address: decodeAddress(name.slice(prefix.length), family) };
}

import { parseIpAddress, type AddressFamily, type IpAddress } from './address.js';

/** The kinds of BGP session birdwatch renders: a node's mesh, global and node-specific peers; a reflector's. */
export type SessionKind = 'mesh' | 'global' | 'node' | 'reflector' | 'client';

const PREFIX: Readonly<Record<SessionKind, string>> = {
  mesh: 'Mesh_',
  global: 'Global_',
  node: 'Node_',
  reflector: 'Reflector_',
  client: 'Client_',
};
const KINDS = Object.keys(PREFIX) as SessionKind[];

/**
 * Calico's protocol names: `Mesh_10_0_0_2`, `Global_2001_db8__1` (`.` and `:` as `_`); operators' scripts parse
 * these, so they are fixed.
 */
export const protocolName = (kind: SessionKind, address: IpAddress): string =>
  `${PREFIX[kind]}${address.text.replace(/[.:]/g, '_')}`;

export interface ParsedProtocolName {
  readonly kind: SessionKind;
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
 * The inverse of `protocolName`: `Mesh_10_0_0_2` → mesh, 10.0.0.2; `Mesh_2001_db8__1` → mesh, 2001:db8::1.
 * Undefined for names birdwatch does not generate (kernel1, device1, …). `family` is the daemon's (bird: 4,
 * bird6: 6), used first when a name could be either.
 */
export function parseProtocolName(name: string, family?: AddressFamily): ParsedProtocolName | undefined {
  const kind = KINDS.find((k) => name.startsWith(PREFIX[k]));
  if (kind === undefined) return undefined;
  return { kind, address: decodeAddress(name.slice(PREFIX[kind].length), family) };
}

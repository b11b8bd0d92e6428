import type { IpAddress } from './address.js';
import type { PeerKind } from './nodeModel.js';

const PREFIX: Readonly<Record<PeerKind, string>> = { mesh: 'Mesh', global: 'Global', node: 'Node' };

/** Calico's protocol names: `Mesh_10_0_0_2`, `Global_2001_db8__1`; operators' scripts parse these, so they are fixed. */
export const protocolName = (kind: PeerKind | 'Reflector' | 'Client', address: IpAddress): string =>
  `${kind in PREFIX ? PREFIX[kind as PeerKind] : kind}_${address.text.replace(/[.:]/g, '_')}`;

import { compareAddresses, parseIpAddress, type AddressFamily, type IpAddress } from '../model/address.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { decodePeer, encodePeer } from '../model/encodings.js';
import { classifyKey, keys } from '../model/keys.js';
import { OperatorConflictError, OperatorNotFoundError } from './errors.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

/** Global peers (every node peers with them) or the node-specific peers of one node. */
export type PeerScope = { readonly kind: 'global' } | { readonly kind: 'node'; readonly node: string };

const peerKey = (scope: PeerScope, address: IpAddress): string =>
  scope.kind === 'global'
    ? keys.globalPeer(address.family, address.text)
    : keys.hostPeer(scope.node, address.family, address.text);

const peerDir = (scope: PeerScope, family: AddressFamily): string =>
  scope.kind === 'global' ? keys.globalPeerDir(family) : keys.hostPeerDir(scope.node, family);

const describe = (scope: PeerScope): string =>
  scope.kind === 'global' ? 'global BGP peer' : `BGP peer of node ${scope.node}`;

/**
 * `bgp peer add IP as AS` / `node bgp peer add IP as AS`: `peer_v4|v6/<ip>` = `{"ip":"<ip>","as_num":"<AS>"}`
 * (the AS as a string, as calicoctl wrote it). A node-specific peer that is the node's own address is refused
 * (BIRD would peer with itself); a node that is not registered yet gets a note.
 */
export function addPeer(
  store: OperatorStore,
  scope: PeerScope,
  address: IpAddress,
  asNumber: number,
): Promise<WriteReport> {
  const key = peerKey(scope, address);
  const read = scope.kind === 'node' ? [key, keys.hostAddress(scope.node, 4), keys.hostAddress(scope.node, 6)] : [key];
  return plannedWrite(store, { read }, (snapshot) => {
    const notes: string[] = [];
    if (scope.kind === 'node') {
      const own = parseIpAddress(
        snapshot.entries.get(keys.hostAddress(scope.node, address.family)) ?? '',
        address.family,
      );
      if (own.ok && own.value.value === address.value)
        throw new OperatorConflictError(
          address.text,
          `is node ${scope.node}'s own address (${keys.hostAddress(scope.node, address.family)})`,
        );
      if (!snapshot.entries.get(keys.hostAddress(scope.node, 4))) {
        notes.push(
          `node ${scope.node} is not registered yet (no ${keys.hostAddress(scope.node, 4)}): the peer applies once it is`,
        );
      }
    }
    const previous = snapshot.entries.get(key);
    const value = encodePeer(address.text, asNumber);
    if (previous !== undefined && previous !== value) notes.push(`replaced the previous value ${previous}`);
    return { puts: [[key, value]], notes };
  });
}

export function removePeer(store: OperatorStore, scope: PeerScope, address: IpAddress): Promise<WriteReport> {
  const key = peerKey(scope, address);
  return plannedWrite(store, { read: [key] }, (snapshot) => {
    if (!snapshot.entries.has(key))
      throw new OperatorNotFoundError(`no ${describe(scope)} ${address.text} (${key} does not exist); nothing removed`);
    return { puts: [], deleteKeys: [key] };
  });
}

interface PeerEntry {
  readonly key: string;
  readonly address: IpAddress;
  readonly asNumber: number;
}

export interface PeerListing {
  readonly peers: readonly PeerEntry[];
  readonly invalid: readonly Diagnostic[];
}

/** The peers of a scope in the given families, decoded as the renderer decodes them; sorted by address. */
export async function listPeers(
  store: OperatorStore,
  scope: PeerScope,
  families: readonly AddressFamily[],
): Promise<PeerListing> {
  const snapshot = await store.read(families.map((f) => peerDir(scope, f)));
  const peers: PeerEntry[] = [];
  const invalid: Diagnostic[] = [];
  for (const [key, value] of [...snapshot.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const meaning = classifyKey(key);
    if (meaning.kind === 'malformed') invalid.push({ key, value, action: 'skipped', reason: meaning.reason });
    if (meaning.kind !== 'globalPeer' && meaning.kind !== 'hostPeer') continue;
    const decoded = decodePeer(value, meaning.family, meaning.ip);
    if (decoded.ok) peers.push({ key, address: decoded.value.address, asNumber: decoded.value.asNumber });
    else invalid.push({ key, value, action: 'skipped', reason: decoded.reason });
  }
  return { peers: peers.sort((a, b) => compareAddresses(a.address, b.address)), invalid };
}

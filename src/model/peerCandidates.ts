import { compareAddresses, type AddressFamily, type IpAddress } from './address.js';
import { keys } from './keys.js';
import type { KeyValue } from './keyspaceIndex.js';
import type { DiagnosticLog } from './modelParts.js';
import type { BgpPeer, OtherNode, PeerKind } from './nodeModel.js';
import { isPassiveToward } from './passiveSide.js';
import { protocolName } from './protocolName.js';

/** Which peer wins when several want one neighbor address, and the order of a family's peer list. */
const PRECEDENCE: Readonly<Record<PeerKind, number>> = { node: 3, global: 2, mesh: 1 };
const KIND_ORDER: Readonly<Record<PeerKind, number>> = { mesh: 0, global: 1, node: 2 };
export const comparePeers = (a: BgpPeer, b: BgpPeer): number =>
  KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareAddresses(a.address, b.address);

export interface Candidate {
  readonly peer: BgpPeer;
  /** The datastore entry behind the peer; for a mesh peer it is made only when a diagnostic needs it. */
  readonly entry: KeyValue | undefined;
  /** The node a mesh peer comes from. */
  readonly node: OtherNode | undefined;
}

/** A candidate's entry, for diagnostics: a mesh peer's is its node's address key. */
function entryOf(candidate: Candidate, f: AddressFamily): KeyValue {
  return candidate.entry ?? { key: keys.hostAddress(candidate.node!.name, f), value: candidate.peer.address.text };
}

/**
 * The peer last made for an address object: an unchanged host keeps its IpAddress, and so its BgpPeer, whose
 * rendered text the templates then reuse. Weak: it goes with the address.
 */
const peerOf = new WeakMap<IpAddress, BgpPeer>();

/** The peer of `kind` at `address` (the one made before for this address object, when it is the same). */
export function makePeer(
  kind: PeerKind,
  address: IpAddress,
  asNumber: number,
  own: IpAddress,
  isReflector: (address: IpAddress) => boolean,
): BgpPeer {
  const routeReflector = isReflector(address);
  const passive = kind === 'mesh' && isPassiveToward(address, own);
  const known = peerOf.get(address);
  if (
    known?.kind === kind &&
    known.asNumber === asNumber &&
    known.routeReflector === routeReflector &&
    known.passive === passive
  )
    return known;
  const peer: BgpPeer = { kind, address, asNumber, protocolName: protocolName(kind, address), routeReflector, passive };
  peerOf.set(address, peer);
  return peer;
}

/**
 * One protocol per neighbor: candidates in order (mesh by node name, then global, then node-specific peers, each
 * in key order); a higher precedence takes the address, an equal one leaves it to the first. Every loser gets a
 * diagnostic naming the peer that held the address when it lost. Keyed by canonical text: one text per address
 * value in a family (and strings hash faster than bigints).
 */
export function resolveWinners(
  candidates: Iterable<Candidate>,
  f: AddressFamily,
  log: DiagnosticLog,
): Map<string, Candidate> {
  const winners = new Map<string, Candidate>();
  for (const candidate of candidates) {
    const current = winners.get(candidate.peer.address.text);
    if (!current) {
      winners.set(candidate.peer.address.text, candidate);
      continue;
    }
    const [winner, loser] =
      PRECEDENCE[candidate.peer.kind] > PRECEDENCE[current.peer.kind] ? [candidate, current] : [current, candidate];
    winners.set(candidate.peer.address.text, winner);
    log.add(
      entryOf(loser, f),
      'overridden',
      `neighbor ${loser.peer.address.text} is already the ${winner.peer.kind} peer ${winner.peer.protocolName} (from ${entryOf(winner, f).key})`,
    );
  }
  return winners;
}

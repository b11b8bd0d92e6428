import { compareAddresses, type IpAddress } from '../model/address.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { decodePeer, decodeRouteReflector, encodePeer, encodeRouteReflector } from '../model/encodings.js';
import { classifyKey, keys } from '../model/keys.js';
import { globalAsNumberOf } from './defaultAsNumber.js';
import { OperatorNotFoundError } from './errors.js';
import { nodeMeshOf } from './nodeMesh.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

export interface RouteReflectorSpec {
  readonly address: IpAddress;
  /** A dotted quad (already validated), or undefined: no `cluster_id` field. */
  readonly clusterId?: string | undefined;
  /** The AS every node peers with it in; undefined: the global AS (64511 when unset). */
  readonly asNumber?: number | undefined;
}

/**
 * `bgppeer rr add`: registers the reflector (`rr_v4|v6/<ip>` = `{"ip":…[,"cluster_id":…]}`) and makes it a global
 * peer of every node (`global/peer_v4|v6/<ip>`), both in ONE transaction so no node ever sees one without the
 * other. When the AS comes from `global/as_num`, the write is guarded on that key not changing meanwhile.
 */
export function addRouteReflector(store: OperatorStore, spec: RouteReflectorSpec): Promise<WriteReport> {
  const { address } = spec;
  const rrKey = keys.routeReflector(address.family, address.text);
  const peerKey = keys.globalPeer(address.family, address.text);
  const defaulted = spec.asNumber === undefined;
  return plannedWrite(
    store,
    { read: [rrKey, peerKey, keys.globalAsNumber, keys.nodeMesh], guardKeys: defaulted ? [keys.globalAsNumber] : [] },
    (snapshot) => {
      const notes: string[] = [];
      let asNumber = spec.asNumber;
      if (asNumber === undefined) {
        const global = globalAsNumberOf(snapshot);
        asNumber = global.asNumber;
        if (global.source === 'default')
          notes.push(`AS ${asNumber}: the global AS (${keys.globalAsNumber} is not set, so the default)`);
        else if (global.source === 'invalid')
          notes.push(
            `AS ${asNumber}: ${keys.globalAsNumber} = ${JSON.stringify(global.stored)} is unreadable, so the default`,
          );
        else notes.push(`AS ${asNumber}: the global AS`);
      }
      const peerValue = encodePeer(address.text, asNumber);
      const previousPeer = snapshot.entries.get(peerKey);
      if (previousPeer !== undefined && previousPeer !== peerValue)
        notes.push(`replaced the global peer's previous value ${previousPeer}`);
      if (nodeMeshOf(snapshot).enabled) {
        notes.push(
          'the node-to-node mesh is still on: nodes keep their mesh sessions as well as the reflector; turn it off with `birdwatch bgp node-mesh off`',
        );
      }
      return {
        puts: [
          [rrKey, encodeRouteReflector(address.text, spec.clusterId)],
          [peerKey, peerValue],
        ],
        notes,
      };
    },
  );
}

/** `bgppeer rr remove`: deletes the registration and the global peer together (whichever of the two exist). */
export function removeRouteReflector(store: OperatorStore, address: IpAddress): Promise<WriteReport> {
  const rrKey = keys.routeReflector(address.family, address.text);
  const peerKey = keys.globalPeer(address.family, address.text);
  return plannedWrite(store, { read: [rrKey, peerKey] }, (snapshot) => {
    const existing = [rrKey, peerKey].filter((k) => snapshot.entries.has(k));
    if (!snapshot.entries.has(rrKey)) {
      throw new OperatorNotFoundError(
        `no route reflector ${address.text} (${rrKey} does not exist); nothing removed${existing.length > 0 ? ` (it is a plain global peer: use \`birdwatch bgp peer remove ${address.text}\`)` : ''}`,
      );
    }
    return {
      puts: [],
      deleteKeys: existing,
      notes: snapshot.entries.has(peerKey) ? [] : [`${peerKey} did not exist (the reflector was not a global peer)`],
    };
  });
}

interface RouteReflectorEntry {
  readonly key: string;
  readonly address: IpAddress;
  readonly clusterId: string | undefined;
  /** The AS of its global peer entry, or undefined when it is not (validly) a global peer. */
  readonly peerAsNumber: number | undefined;
}

export interface RouteReflectorListing {
  readonly reflectors: readonly RouteReflectorEntry[];
  readonly invalid: readonly Diagnostic[];
}

export async function listRouteReflectors(store: OperatorStore): Promise<RouteReflectorListing> {
  const snapshot = await store.read([
    keys.routeReflectorDir(4),
    keys.routeReflectorDir(6),
    keys.globalPeerDir(4),
    keys.globalPeerDir(6),
  ]);
  const reflectors: RouteReflectorEntry[] = [];
  const invalid: Diagnostic[] = [];
  for (const [key, value] of [...snapshot.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const meaning = classifyKey(key);
    if (meaning.kind !== 'routeReflector') {
      if (meaning.kind === 'malformed' && key.includes('/rr_v'))
        invalid.push({ key, value, action: 'skipped', reason: meaning.reason });
      continue;
    }
    const decoded = decodeRouteReflector(value, meaning.family, meaning.ip);
    if (!decoded.ok) {
      invalid.push({ key, value, action: 'skipped', reason: decoded.reason });
      continue;
    }
    const { address, clusterId } = decoded.value.value;
    for (const reason of decoded.value.droppedFields) invalid.push({ key, value, action: 'defaulted', reason });
    const peerValue = snapshot.entries.get(keys.globalPeer(address.family, address.text));
    const peer = peerValue === undefined ? undefined : decodePeer(peerValue, address.family, address.text);
    reflectors.push({ key, address, clusterId, peerAsNumber: peer?.ok ? peer.value.asNumber : undefined });
  }
  return { reflectors: reflectors.sort((a, b) => compareAddresses(a.address, b.address)), invalid };
}

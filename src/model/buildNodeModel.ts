import { parseBgpAddress, type AddressFamily, type IpAddress } from './address.js';
import { parseAsNumber } from './asNumber.js';
import { cidrsOverlap, compareCidrs, parseCidr, type Cidr } from './cidr.js';
import { checkCustomFilterBody } from './customFilter.js';
import { compareDiagnostics } from './diagnostics.js';
import { decodeBlock, decodeNodeMesh, decodePeer, decodePool } from './encodings.js';
import { NodeConfigError } from './errors.js';
import { keys } from './keys.js';
import { indexKeyspace, type HostEntries, type KeyValue, type Keyspace, type KeyspaceIndex } from './keyspaceIndex.js';
import { DiagnosticLog, reflectors, settingOr, validNodes } from './modelParts.js';
import { DEFAULT_BIRD_LOG_LEVEL, parseBirdLogLevel } from './birdLogLevel.js';
import { parseFilterName, parseNodeName } from './names.js';
import {
  DEFAULT_AS_NUMBER,
  type BgpPeer,
  type CustomFilter,
  type FamilyModel,
  type NodeModel,
  type OtherNode,
  type PeerKind,
  type Pool,
  type RouteReflector,
} from './nodeModel.js';
import { comparePeers, makePeer, resolveWinners, type Candidate } from './peerCandidates.js';

/**
 * Keyspace → validated model for one node, from scratch. Pure. A bad entry is skipped (or its setting defaulted)
 * with a diagnostic; only a node that cannot be configured at all (no usable IPv4 router id) throws NodeConfigError.
 * @internal the reference the run's IncrementalNodeModel is checked against (the model and property tests).
 */
export function buildNodeModel(keyspace: Keyspace, options: { readonly nodeName: string }): NodeModel {
  const nodeName = parseNodeName(options.nodeName);
  if (!nodeName.ok) {
    throw new NodeConfigError(
      `node name ${JSON.stringify(options.nodeName)}: ${nodeName.reason}`,
      keys.hostDir(options.nodeName),
    );
  }
  const index = indexKeyspace(keyspace);
  const log = new DiagnosticLog();
  for (const entry of index.malformed) log.add(entry, 'skipped', entry.reason);
  const self = index.hosts.get(options.nodeName);
  const routerId = requireNodeAddress(self, options.nodeName);

  const globalAsNumber = settingOr(index.globalAsNumber, (v) => parseAsNumber(v), DEFAULT_AS_NUMBER, log);
  const meshEnabled = settingOr(index.nodeMesh, decodeNodeMesh, true, log);
  const globalLogLevel = settingOr(index.globalLogLevel, parseBirdLogLevel, DEFAULT_BIRD_LOG_LEVEL, log);
  const nodes = validNodes(index, globalAsNumber, log);
  const me = nodes.get(options.nodeName)!;
  const logLevel = settingOr(self?.logLevel, parseBirdLogLevel, globalLogLevel, log);
  const networkV4 =
    self?.network && self.network.value !== ''
      ? settingOr(self.network, (v) => parseCidr(v, 4), undefined, log)
      : undefined;

  const family = (f: AddressFamily): FamilyModel => {
    const address = f === 4 ? me.ipv4 : me.ipv6;
    const routeReflectors = reflectors(index, f, log);
    return {
      family: f,
      address,
      peers: address ? peers(index, f, address, me, nodes, meshEnabled, routeReflectors, log) : [],
      pools: pools(index, f, log),
      blocks: blocks(self, f, log),
      customFilters: customFilters(index, f, log),
      routeReflectors,
    };
  };
  const v4 = family(4);
  const v6 = family(6);
  const otherNodes = [...nodes.values()].filter((n) => n.name !== options.nodeName);
  return {
    nodeName: options.nodeName,
    routerId,
    asNumber: me.asNumber,
    logLevel,
    networkV4,
    meshEnabled,
    globalAsNumber,
    v4,
    v6,
    otherNodes,
    diagnostics: log.entries.sort(compareDiagnostics),
  };
}

export function requireNodeAddress(self: HostEntries | undefined, nodeName: string): IpAddress {
  const key = keys.hostAddress(nodeName, 4);
  const entry = self?.address[4];
  if (!entry || entry.value === '') {
    throw new NodeConfigError(`${key} is missing: node ${nodeName} needs an IPv4 address (BGP router id)`, key);
  }
  const address = parseBgpAddress(entry.value, 4);
  if (!address.ok) throw new NodeConfigError(`${key} = ${JSON.stringify(entry.value)}: ${address.reason}`, key);
  return address.value;
}

/** Mesh, global and node-specific peers; never this node's own address; one protocol per neighbor. */
function peers(
  index: KeyspaceIndex,
  f: AddressFamily,
  own: IpAddress,
  me: OtherNode,
  nodes: Map<string, OtherNode>,
  meshEnabled: boolean,
  routeReflectors: readonly RouteReflector[],
  log: DiagnosticLog,
): BgpPeer[] {
  const isReflector = (a: IpAddress): boolean => routeReflectors.some((rr) => rr.address.value === a.value);
  const make = (kind: PeerKind, address: IpAddress, asNumber: number): BgpPeer =>
    makePeer(kind, address, asNumber, own, isReflector);
  const candidates: Candidate[] = [];
  if (meshEnabled) {
    for (const node of nodes.values()) {
      const address = f === 4 ? node.ipv4 : node.ipv6;
      if (node.name === me.name || !address) continue;
      if (address.value === own.value) {
        log.add(
          { key: keys.hostAddress(node.name, f), value: address.text },
          'skipped',
          `node ${node.name} has this node's own address`,
        );
        continue;
      }
      candidates.push({ peer: make('mesh', address, node.asNumber), entry: undefined, node });
    }
  }
  candidates.push(
    ...explicitCandidates(index.globalPeers[f], index.hosts.get(me.name)?.peers[f] ?? [], f, own, isReflector, log),
  );
  return [...resolveWinners(candidates, f, log).values()].map((c) => c.peer).sort(comparePeers);
}

/** Global, then node-specific peers, decoded, in key order; a bad one or one at this node's own address is skipped. */
export function explicitCandidates(
  globalPeers: readonly (KeyValue & { ip: string })[],
  nodePeers: readonly (KeyValue & { ip: string })[],
  f: AddressFamily,
  own: IpAddress,
  isReflector: (address: IpAddress) => boolean,
  log: DiagnosticLog,
): Candidate[] {
  const candidates: Candidate[] = [];
  const explicit = (kind: 'global' | 'node', entries: readonly (KeyValue & { ip: string })[]): void => {
    for (const entry of entries) {
      const decoded = decodePeer(entry.value, f, entry.ip);
      if (!decoded.ok) {
        log.add(entry, 'skipped', decoded.reason);
      } else if (decoded.value.address.value === own.value) {
        log.add(entry, 'skipped', `peer ${decoded.value.address.text} is this node's own address`);
      } else {
        const peer = makePeer(kind, decoded.value.address, decoded.value.asNumber, own, isReflector);
        candidates.push({ peer, entry, node: undefined });
      }
    }
  };
  explicit('global', globalPeers);
  explicit('node', nodePeers);
  return candidates;
}

export function pools(index: KeyspaceIndex, f: AddressFamily, log: DiagnosticLog): Pool[] {
  const decoded: { pool: Pool; entry: KeyValue }[] = [];
  for (const entry of index.pools[f]) {
    const pool = decodePool(entry.value, f, entry.cidr);
    if (!pool.ok) {
      log.add(entry, 'skipped', pool.reason);
      continue;
    }
    decoded.push({ pool: pool.value.value, entry });
    for (const reason of pool.value.droppedFields) log.add(entry, 'defaulted', reason);
  }
  decoded.sort((a, b) => compareCidrs(a.pool.cidr, b.pool.cidr));
  const kept: { pool: Pool; entry: KeyValue }[] = [];
  for (const candidate of decoded) {
    const overlap = kept.find((k) => cidrsOverlap(k.pool.cidr, candidate.pool.cidr));
    if (overlap)
      log.add(candidate.entry, 'skipped', `pool ${candidate.pool.cidr.text} overlaps pool ${overlap.pool.cidr.text}`);
    else kept.push(candidate);
  }
  return kept.map((k) => k.pool);
}

export function blocks(self: HostEntries | undefined, f: AddressFamily, log: DiagnosticLog): Cidr[] {
  const list: Cidr[] = [];
  for (const entry of self?.blocks[f] ?? []) {
    const block = decodeBlock(entry.cidr, f);
    if (!block.ok) log.add(entry, 'skipped', `block ${block.reason}`);
    else if (list.some((b) => b.text === block.value.text))
      log.add(entry, 'skipped', `block ${block.value.text} is listed twice`);
    else list.push(block.value);
  }
  return list.sort(compareCidrs);
}

export function customFilters(index: KeyspaceIndex, f: AddressFamily, log: DiagnosticLog): CustomFilter[] {
  const list: CustomFilter[] = [];
  for (const entry of index.customFilters[f]) {
    const name = parseFilterName(entry.name);
    const body = checkCustomFilterBody(entry.value);
    if (!name.ok) log.add(entry, 'skipped', name.reason);
    else if (!body.ok) log.add(entry, 'skipped', body.reason);
    else list.push({ key: entry.key, name: name.value, body: body.value });
  }
  return list;
}

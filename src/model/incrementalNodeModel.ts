import type { AddressFamily, IpAddress } from './address.js';
import { parseAsNumber } from './asNumber.js';
import { DEFAULT_BIRD_LOG_LEVEL, parseBirdLogLevel } from './birdLogLevel.js';
import { blocks, customFilters, explicitCandidates, pools, requireNodeAddress } from './buildNodeModel.js';
import { parseCidr } from './cidr.js';
import { compareDiagnostics, type Diagnostic } from './diagnostics.js';
import { decodeNodeMesh } from './encodings.js';
import { NodeConfigError } from './errors.js';
import { keys } from './keys.js';
import { applyKeyChange, indexKeyspace, type Keyspace, type KeyspaceIndex } from './keyspaceIndex.js';
import { ListEditor, sortedPosition } from './listEdits.js';
import { DiagnosticLog, hostNode, reflectors, settingOr, type HostNode } from './modelParts.js';
import { parseNodeName } from './names.js';
import {
  DEFAULT_AS_NUMBER,
  type BgpPeer,
  type CustomFilter,
  type FamilyModel,
  type NodeModel,
  type OtherNode,
  type Pool,
  type RouteReflector,
} from './nodeModel.js';
import type { Cidr } from './cidr.js';
import { comparePeers, makePeer, resolveWinners, type Candidate } from './peerCandidates.js';
import { touchedBy, type Touched } from './touchedByKeys.js';

/** One family's share of the model and what it was worked out from, kept between builds. */
interface FamilyState {
  readonly family: AddressFamily;
  /** This node's address in the family; undefined: no BGP in it (and no peer state kept). */
  readonly own: IpAddress | undefined;
  routeReflectors: RouteReflector[];
  reflectorTexts: Set<string>;
  reflectorDiagnostics: readonly Diagnostic[];
  pools: Pool[];
  poolDiagnostics: readonly Diagnostic[];
  blocks: Cidr[];
  blockDiagnostics: readonly Diagnostic[];
  customFilters: CustomFilter[];
  customFilterDiagnostics: readonly Diagnostic[];
  /** Global then node-specific peers by neighbor text, in key order. */
  explicitAt: Map<string, Candidate[]>;
  explicitDiagnostics: readonly Diagnostic[];
  /** Other nodes by their address text in this family, in name order (the mesh is on). */
  readonly meshAt: Map<string, OtherNode[]>;
  /** The peer each neighbor text ended up with, and the diagnostics deciding it cost. */
  readonly winnerAt: Map<string, BgpPeer>;
  readonly diagnosticsAt: Map<string, readonly Diagnostic[]>;
  /** Sorted by comparePeers; a new list made by ListEditor on a change (listEdits.ts). */
  peers: readonly BgpPeer[];
}

interface State {
  readonly globalAsNumber: number;
  readonly meshEnabled: boolean;
  /** This node as a node: its addresses and effective AS (a change to them rebuilds everything). */
  readonly me: OtherNode;
  /** Every host of the index, valid or not. */
  readonly nodes: Map<string, HostNode>;
  readonly hostsWithDiagnostics: Set<string>;
  readonly v4: FamilyState;
  readonly v6: FamilyState;
}

const sameAddress = (a: IpAddress | undefined, b: IpAddress | undefined): boolean => a?.text === b?.text;

/**
 * The node model kept from one build to the next (what `run` renders from): given the keys that changed since the
 * last build, it updates the index and only what depends on them — the changed hosts' nodes, the neighbor
 * addresses they leave or take, the per-family lists those keys feed — and hands out each family's peer list as a
 * ListEditor result, so the view and the templates update by the same few edits (listEdits.ts). A change to what
 * every peer depends on (the global AS, the mesh switch, this node's own addresses or AS), or no list of changed
 * keys, builds everything from the index again. Every result equals buildNodeModel's for the same keyspace (a
 * property test compares them after random changes).
 */
export class IncrementalNodeModel {
  #index: KeyspaceIndex | undefined;
  #state: State | undefined;
  #lastBuild: 'full' | 'changes' | undefined;

  constructor(private readonly nodeName: string) {}

  /** How the last build went: from the index (`full`), or by the changed keys alone (`changes`). */
  get lastBuild(): 'full' | 'changes' | undefined {
    return this.#lastBuild;
  }

  /** `changed`: every key whose value may differ from the keyspace of the last build; undefined: unknown. */
  build(keyspace: Keyspace, changed: ReadonlySet<string> | undefined): NodeModel {
    const name = parseNodeName(this.nodeName);
    if (!name.ok)
      throw new NodeConfigError(
        `node name ${JSON.stringify(this.nodeName)}: ${name.reason}`,
        keys.hostDir(this.nodeName),
      );
    const index = this.#index;
    // Past a share of the hosts, one pass over the keyspace costs less than the changes one by one.
    if (!index || !changed || changed.size > Math.max(64, index.hosts.size / 8)) {
      this.#index = indexKeyspace(keyspace);
      this.#state = undefined;
    } else {
      try {
        for (const key of changed) applyKeyChange(index, key, keyspace.get(key));
      } catch (error) {
        this.#index = undefined;
        this.#state = undefined;
        throw error;
      }
    }
    try {
      return this.#model(this.#index!, this.#state ? changed : undefined);
    } catch (error) {
      this.#state = undefined; // what was kept may be half updated: built from the index next time
      throw error;
    }
  }

  #model(index: KeyspaceIndex, changed: ReadonlySet<string> | undefined): NodeModel {
    const { nodeName } = this;
    const log = new DiagnosticLog();
    for (const entry of index.malformed) log.add(entry, 'skipped', entry.reason);
    const self = index.hosts.get(nodeName);
    const routerId = requireNodeAddress(self, nodeName);
    const globalAsNumber = settingOr(index.globalAsNumber, (v) => parseAsNumber(v), DEFAULT_AS_NUMBER, log);
    const meshEnabled = settingOr(index.nodeMesh, decodeNodeMesh, true, log);
    const globalLogLevel = settingOr(index.globalLogLevel, parseBirdLogLevel, DEFAULT_BIRD_LOG_LEVEL, log);
    const meNow = hostNode(self!, globalAsNumber).node!;
    const state = this.#state;
    const kept =
      state !== undefined &&
      changed !== undefined &&
      state.globalAsNumber === globalAsNumber &&
      state.meshEnabled === meshEnabled &&
      state.me.asNumber === meNow.asNumber &&
      sameAddress(state.me.ipv4, meNow.ipv4) &&
      sameAddress(state.me.ipv6, meNow.ipv6);
    this.#lastBuild = kept ? 'changes' : 'full';
    const current =
      kept && state
        ? this.#update(state, index, touchedBy(changed, nodeName))
        : this.#rebuild(index, globalAsNumber, meshEnabled);
    this.#state = current;

    const logLevel = settingOr(self?.logLevel, parseBirdLogLevel, globalLogLevel, log);
    const networkV4 =
      self?.network && self.network.value !== ''
        ? settingOr(self.network, (v) => parseCidr(v, 4), undefined, log)
        : undefined;
    const diagnostics = log.entries;
    for (const host of current.hostsWithDiagnostics) diagnostics.push(...current.nodes.get(host)!.diagnostics);
    const family = (s: FamilyState): FamilyModel => {
      diagnostics.push(
        ...s.reflectorDiagnostics,
        ...s.poolDiagnostics,
        ...s.blockDiagnostics,
        ...s.customFilterDiagnostics,
      );
      if (s.own) {
        diagnostics.push(...s.explicitDiagnostics);
        for (const list of s.diagnosticsAt.values()) diagnostics.push(...list);
      }
      return {
        family: s.family,
        address: s.own,
        peers: s.own ? s.peers : [],
        pools: s.pools,
        blocks: s.blocks,
        customFilters: s.customFilters,
        routeReflectors: s.routeReflectors,
      };
    };
    const v4 = family(current.v4);
    const v6 = family(current.v6);
    let otherNodes: readonly OtherNode[] | undefined;
    const { nodes } = current;
    return {
      nodeName,
      routerId,
      asNumber: current.me.asNumber,
      logLevel,
      networkV4,
      meshEnabled,
      globalAsNumber,
      v4,
      v6,
      // Only a BIRD error's blame needs every node (entrySpans.ts): listed then, not on every build.
      get otherNodes() {
        return (otherNodes ??= [...nodes.keys()]
          .sort()
          .map((host) => nodes.get(host)!.node)
          .filter((node): node is OtherNode => node !== undefined && node.name !== nodeName));
      },
      diagnostics: diagnostics.sort(compareDiagnostics),
    };
  }

  /** Everything from the index: what buildNodeModel does, keeping what the next build updates. */
  #rebuild(index: KeyspaceIndex, globalAsNumber: number, meshEnabled: boolean): State {
    const nodes = new Map<string, HostNode>();
    const hostsWithDiagnostics = new Set<string>();
    for (const [host, entries] of index.hosts) {
      const made = hostNode(entries, globalAsNumber);
      nodes.set(host, made);
      if (made.diagnostics.length > 0) hostsWithDiagnostics.add(host);
    }
    const me = nodes.get(this.nodeName)!.node!;
    const names = meshEnabled ? [...nodes.keys()].sort() : [];
    const family = (f: AddressFamily): FamilyState => {
      const own = f === 4 ? me.ipv4 : me.ipv6;
      const s = emptyFamily(f, own);
      this.#refreshReflectors(s, index);
      this.#refreshPools(s, index);
      this.#refreshBlocks(s, index);
      this.#refreshCustomFilters(s, index);
      if (!own) return s;
      for (const host of names) {
        const node = nodes.get(host)!.node;
        const address = node && node.name !== this.nodeName ? addressIn(node, f) : undefined;
        if (!node || !address) continue;
        const list = s.meshAt.get(address.text);
        if (list) list.push(node);
        else s.meshAt.set(address.text, [node]);
      }
      this.#refreshExplicit(s, index);
      const peers: BgpPeer[] = [];
      for (const text of new Set([...s.meshAt.keys(), ...s.explicitAt.keys()])) {
        const winner = this.#resolve(s, text);
        if (winner) peers.push(winner);
      }
      s.peers = peers.sort(comparePeers);
      return s;
    };
    return { globalAsNumber, meshEnabled, me, nodes, hostsWithDiagnostics, v4: family(4), v6: family(6) };
  }

  /** The changed keys' share: hosts, neighbor addresses and lists worked out again, the rest kept. */
  #update(state: State, index: KeyspaceIndex, touched: Touched): State {
    const dirty = { 4: new Set<string>(), 6: new Set<string>() };
    for (const host of touched.hosts) {
      const entries = index.hosts.get(host);
      const before = state.nodes.get(host)?.node;
      const made = entries ? hostNode(entries, state.globalAsNumber) : undefined;
      if (made) state.nodes.set(host, made);
      else state.nodes.delete(host);
      if (made && made.diagnostics.length > 0) state.hostsWithDiagnostics.add(host);
      else state.hostsWithDiagnostics.delete(host);
      if (host === this.nodeName || !state.meshEnabled) continue;
      const after = made?.node;
      for (const f of [4, 6] as const) {
        const s = f === 4 ? state.v4 : state.v6;
        if (!s.own) continue;
        const old = before && addressIn(before, f);
        const next = after && addressIn(after, f);
        if (old) {
          const list = s.meshAt.get(old.text)!.filter((node) => node.name !== host);
          if (list.length > 0) s.meshAt.set(old.text, list);
          else s.meshAt.delete(old.text);
          dirty[f].add(old.text);
        }
        if (next) {
          const list = [...(s.meshAt.get(next.text) ?? [])];
          list.splice(
            sortedPosition(list, after, (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
            0,
            after,
          );
          s.meshAt.set(next.text, list);
          dirty[f].add(next.text);
        }
      }
    }
    for (const f of [4, 6] as const) {
      const s = f === 4 ? state.v4 : state.v6;
      if (touched.reflectors.has(f)) {
        for (const text of s.reflectorTexts) dirty[f].add(text);
        this.#refreshReflectors(s, index);
        for (const text of s.reflectorTexts) dirty[f].add(text);
      }
      if (touched.pools.has(f)) this.#refreshPools(s, index);
      if (touched.blocks.has(f)) this.#refreshBlocks(s, index);
      if (touched.customFilters.has(f)) this.#refreshCustomFilters(s, index);
      if (!s.own) continue;
      // A reflector changed: every explicit peer is made again (its route-reflector flag may differ).
      if (touched.explicit.has(f) || touched.reflectors.has(f)) {
        for (const text of s.explicitAt.keys()) dirty[f].add(text);
        this.#refreshExplicit(s, index);
        for (const text of s.explicitAt.keys()) dirty[f].add(text);
      }
      if (dirty[f].size === 0) continue;
      const editor = new ListEditor(s.peers);
      for (const text of dirty[f]) {
        const before = s.winnerAt.get(text);
        const after = this.#resolve(s, text);
        if (after === before) continue;
        if (before) editor.remove(sortedPosition(editor, before, comparePeers));
        if (after) editor.insert(sortedPosition(editor, after, comparePeers), after);
      }
      s.peers = editor.done();
    }
    return state;
  }

  /** Who holds one neighbor text now: its mesh nodes, then its explicit peers, through resolveWinners. */
  #resolve(s: FamilyState, text: string): BgpPeer | undefined {
    const own = s.own!;
    const log = new DiagnosticLog();
    const candidates: Candidate[] = [];
    const isReflector = (a: IpAddress): boolean => s.reflectorTexts.has(a.text);
    for (const node of s.meshAt.get(text) ?? []) {
      const address = addressIn(node, s.family)!;
      if (address.text === own.text) {
        log.add(
          { key: keys.hostAddress(node.name, s.family), value: address.text },
          'skipped',
          `node ${node.name} has this node's own address`,
        );
        continue;
      }
      candidates.push({ peer: makePeer('mesh', address, node.asNumber, own, isReflector), entry: undefined, node });
    }
    candidates.push(...(s.explicitAt.get(text) ?? []));
    const winner = resolveWinners(candidates, s.family, log).get(text)?.peer;
    if (winner) s.winnerAt.set(text, winner);
    else s.winnerAt.delete(text);
    if (log.entries.length > 0) s.diagnosticsAt.set(text, log.entries);
    else s.diagnosticsAt.delete(text);
    return winner;
  }

  #refreshReflectors(s: FamilyState, index: KeyspaceIndex): void {
    const log = new DiagnosticLog();
    s.routeReflectors = reflectors(index, s.family, log);
    s.reflectorTexts = new Set(s.routeReflectors.map((rr) => rr.address.text));
    s.reflectorDiagnostics = log.entries;
  }

  #refreshPools(s: FamilyState, index: KeyspaceIndex): void {
    const log = new DiagnosticLog();
    s.pools = pools(index, s.family, log);
    s.poolDiagnostics = log.entries;
  }

  #refreshBlocks(s: FamilyState, index: KeyspaceIndex): void {
    const log = new DiagnosticLog();
    s.blocks = blocks(index.hosts.get(this.nodeName), s.family, log);
    s.blockDiagnostics = log.entries;
  }

  #refreshCustomFilters(s: FamilyState, index: KeyspaceIndex): void {
    const log = new DiagnosticLog();
    s.customFilters = customFilters(index, s.family, log);
    s.customFilterDiagnostics = log.entries;
  }

  #refreshExplicit(s: FamilyState, index: KeyspaceIndex): void {
    const log = new DiagnosticLog();
    const isReflector = (a: IpAddress): boolean => s.reflectorTexts.has(a.text);
    const own = index.hosts.get(this.nodeName)?.peers[s.family] ?? [];
    s.explicitAt = new Map();
    for (const candidate of explicitCandidates(index.globalPeers[s.family], own, s.family, s.own!, isReflector, log)) {
      const list = s.explicitAt.get(candidate.peer.address.text);
      if (list) list.push(candidate);
      else s.explicitAt.set(candidate.peer.address.text, [candidate]);
    }
    s.explicitDiagnostics = log.entries;
  }
}

const addressIn = (node: OtherNode, f: AddressFamily): IpAddress | undefined => (f === 4 ? node.ipv4 : node.ipv6);

function emptyFamily(family: AddressFamily, own: IpAddress | undefined): FamilyState {
  return {
    family,
    own,
    routeReflectors: [],
    reflectorTexts: new Set(),
    reflectorDiagnostics: [],
    pools: [],
    poolDiagnostics: [],
    blocks: [],
    blockDiagnostics: [],
    customFilters: [],
    customFilterDiagnostics: [],
    explicitAt: new Map(),
    explicitDiagnostics: [],
    meshAt: new Map(),
    winnerAt: new Map(),
    diagnosticsAt: new Map(),
    peers: [],
  };
}

import type { AddressFamily } from '../model/address.js';
import type { BgpPeer, FamilyModel, NodeModel, Pool } from '../model/nodeModel.js';
import type { ReflectorFamily, ReflectorModel } from '../model/reflectorModel.js';
import { BIRD_DEBUG_STATEMENT } from './birdDebugStatement.js';
import type { IpipRendering } from './ipipMode.js';
import { peerViewSplitter } from './peerViews.js';

/**
 * What the BIRD 2/3 templates (templates/bird2/) see. One file holds both families, and BIRD 2 has one namespace
 * per file: every name a family defines carries the family's tag (`calico_pools_v4`, `bgp_template_v6`), and
 * each family's channel is named explicitly (a protocol without one parses and exchanges nothing).
 */
export interface Bird2View {
  readonly routerId: string;
  readonly logging: string;
  readonly localAs: number;
  readonly meshEnabled: boolean;
  readonly v4: Bird2FamilyView;
  readonly v6: Bird2FamilyView;
}

/** The names a family's statements carry in a two-family file. */
interface FamilyNames {
  /** `IPv4`, for comments. */
  readonly name: string;
  /** `v4`: the suffix of every function, filter and template name. */
  readonly tag: string;
  /** `4`: the suffix of protocol names (`kernel4`, `static4`). */
  readonly suffix: string;
  /** `ipv4`: the channel. */
  readonly channel: string;
}

const FAMILY_NAMES: Readonly<Record<AddressFamily, FamilyNames>> = {
  4: { name: 'IPv4', tag: 'v4', suffix: '4', channel: 'ipv4' },
  6: { name: 'IPv6', tag: 'v6', suffix: '6', channel: 'ipv6' },
};

interface Bird2FamilyView extends FamilyNames {
  readonly enabled: boolean;
  readonly sourceAddress: string;
  /** The BGP channel's import policy: `filter calico_bgp_import_v4` (IPIP pools' tunnel) or `all`. */
  readonly importPolicy: string;
  readonly meshPeers: readonly Bird2PeerView[];
  readonly globalPeers: readonly Bird2PeerView[];
  readonly nodePeers: readonly Bird2PeerView[];
  readonly pools: readonly Bird2PoolView[];
  readonly blocks: readonly string[];
  readonly customFilters: readonly string[];
}

interface Bird2PeerView {
  readonly name: string;
  /** The family's BGP template (`bgp_template_v4`). */
  readonly template: string;
  readonly neighbor: string;
  readonly asNumber: number;
  readonly passive: boolean;
}

interface Bird2PoolView {
  readonly cidr: string;
  /** Statements of the BGP import filter for routes inside this pool; empty: the route is imported as is. */
  readonly tunnel: readonly string[];
}

/** As templateView.ts: one view per peer object, so an unchanged peer's rendered text is reused. */
const views = new WeakMap<BgpPeer, Bird2PeerView>();
function peerView(p: BgpPeer): Bird2PeerView {
  let view = views.get(p);
  if (!view) {
    view = {
      name: p.protocolName,
      template: `bgp_template_${FAMILY_NAMES[p.address.family].tag}`,
      neighbor: p.address.text,
      asNumber: p.asNumber,
      passive: p.passive,
    };
    views.set(p, view);
  }
  return view;
}
const splitPeers = peerViewSplitter(peerView);

/**
 * `ipip` is `onlink` or `off` here (renderBird2FileSet.ts refuses the others): with `onlink`, an IPIP pool's
 * routes learned over BGP are sent through its tunnel device.
 */
export function buildBird2View(model: NodeModel, ipip: IpipRendering): Bird2View {
  return {
    routerId: model.routerId.text,
    logging: BIRD_DEBUG_STATEMENT[model.logLevel],
    localAs: model.asNumber,
    meshEnabled: model.meshEnabled,
    v4: familyView(model.v4, 'filter calico_bgp_import_v4', (pool) => tunnelStatements(pool, model, ipip)),
    v6: familyView(model.v6, 'all', () => []),
  };
}

function familyView(family: FamilyModel, importPolicy: string, tunnel: (pool: Pool) => string[]): Bird2FamilyView {
  const byKind = splitPeers(family.peers);
  return {
    ...FAMILY_NAMES[family.family],
    enabled: family.address !== undefined,
    sourceAddress: family.address?.text ?? '',
    importPolicy,
    meshPeers: byKind.mesh,
    globalPeers: byKind.global,
    nodePeers: byKind.node,
    pools: family.pools.map((pool) => ({ cidr: pool.cidr.text, tunnel: tunnel(pool) })),
    blocks: family.blocks.map((block) => block.text),
    customFilters: family.customFilters.map((filter) => filter.body),
  };
}

/**
 * Upstream BIRD's way to the tunnel (2.0.12+, 3.2+): in the BGP import filter, `ifname` (which resets `gw`), then
 * `onlink` (without it `gw` refuses a next hop off the device's networks), then `gw`, then `onlink` again: BIRD
 * 3.3.2 drops the flag when `gw` is set (the kernel then refuses the route, `Network is unreachable`; checked in
 * test/bird2-ipip.test.ts), 2.0.12 keeps it. The kernel gets `via <next hop> dev tunl0 onlink`, as Calico's fork
 * made it with krt_tunnel. Cross-subnet: a next hop inside this node's subnet is reached directly (the next hop,
 * not `from`, which is the reflector behind an RR).
 */
function tunnelStatements(pool: Pool, model: NodeModel, ipip: IpipRendering): string[] {
  if (ipip !== 'onlink' || pool.ipipInterface === undefined) return [];
  const tunnel = `ifname = "${pool.ipipInterface}"; onlink = true; gw = bgp_next_hop; onlink = true;`;
  if (pool.ipipMode !== 'cross-subnet' || model.networkV4 === undefined) return [tunnel];
  return [`if ! ( bgp_next_hop ~ ${model.networkV4.text} ) then { ${tunnel} }`];
}

export interface Bird2ReflectorView {
  readonly routerId: string;
  readonly logging: string;
  readonly v4: Bird2ReflectorFamilyView;
  readonly v6: Bird2ReflectorFamilyView;
}

interface Bird2ReflectorFamilyView extends FamilyNames {
  readonly enabled: boolean;
  readonly sourceAddress: string;
  readonly reflectors: readonly Bird2SessionView[];
  readonly clients: readonly Bird2SessionView[];
}

interface Bird2SessionView {
  readonly name: string;
  readonly template: string;
  readonly neighbor: string;
  readonly localAs: number;
  readonly asNumber: number;
  /** iBGP with a client: `rr client` (BIRD refuses it on an eBGP session, which is then a plain peer). */
  readonly rrClient: boolean;
  readonly clusterId: string;
  readonly passive: boolean;
}

function reflectorFamilyView(family: ReflectorFamily): Bird2ReflectorFamilyView {
  const names = FAMILY_NAMES[family.family];
  const sessions = (kind: 'reflector' | 'client'): Bird2SessionView[] =>
    family.sessions
      .filter((s) => s.kind === kind)
      .map((s) => ({
        name: s.protocolName,
        template: `bgp_template_${names.tag}`,
        neighbor: s.address.text,
        localAs: s.localAsNumber,
        asNumber: s.asNumber,
        rrClient: s.kind === 'client' && s.asNumber === s.localAsNumber,
        clusterId: s.clusterId ?? '',
        passive: s.passive,
      }));
  return {
    ...names,
    enabled: family.address !== undefined,
    sourceAddress: family.address?.text ?? '',
    reflectors: sessions('reflector'),
    clients: sessions('client'),
  };
}

export const buildBird2ReflectorView = (model: ReflectorModel): Bird2ReflectorView => ({
  routerId: model.routerId.text,
  logging: BIRD_DEBUG_STATEMENT[model.logLevel],
  v4: reflectorFamilyView(model.v4),
  v6: reflectorFamilyView(model.v6),
});

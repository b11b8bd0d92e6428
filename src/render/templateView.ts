import type { BgpPeer, FamilyModel, NodeModel, Pool } from '../model/nodeModel.js';
import type { IpipRendering } from './ipipMode.js';
import { BIRD_DEBUG_STATEMENT } from './birdDebugStatement.js';
import { peerViewSplitter } from './peerViews.js';

/** What the templates see: every decision already made, every string already validated. */
export interface TemplateView {
  readonly routerId: string;
  readonly logging: string;
  readonly localAs: number;
  readonly meshEnabled: boolean;
  readonly v4: FamilyView;
  readonly v6: FamilyView;
}

interface FamilyView {
  readonly enabled: boolean;
  readonly sourceAddress: string;
  readonly meshPeers: readonly PeerView[];
  readonly globalPeers: readonly PeerView[];
  readonly nodePeers: readonly PeerView[];
  readonly pools: readonly PoolView[];
  readonly blocks: readonly string[];
  readonly customFilters: readonly string[];
}

interface PeerView {
  readonly name: string;
  readonly neighbor: string;
  readonly asNumber: number;
  readonly passive: boolean;
}

interface PoolView {
  readonly cidr: string;
  /** Statements of the kernel export filter for this pool; empty: the route is exported as is. */
  readonly tunnel: readonly string[];
}

/**
 * One view object per peer object: an unchanged peer (the model reuses it) keeps its view, and the renderer
 * keeps each view's rendered text (templateSet.ts), so only changed peers are rendered again. Weak: it goes
 * with the peer.
 */
const views = new WeakMap<BgpPeer, PeerView>();
function peerView(p: BgpPeer): PeerView {
  let view = views.get(p);
  if (!view) {
    view = { name: p.protocolName, neighbor: p.address.text, asNumber: p.asNumber, passive: p.passive };
    views.set(p, view);
  }
  return view;
}
const splitPeers = peerViewSplitter(peerView);

export function buildTemplateView(model: NodeModel, ipip: IpipRendering): TemplateView {
  return {
    routerId: model.routerId.text,
    logging: BIRD_DEBUG_STATEMENT[model.logLevel],
    localAs: model.asNumber,
    meshEnabled: model.meshEnabled,
    v4: familyView(model.v4, (pool) => tunnelStatements(pool, model, ipip)),
    v6: familyView(model.v6, () => []),
  };
}

function familyView(family: FamilyModel, tunnel: (pool: Pool) => string[]): FamilyView {
  // Per kind, updated by the model's edits (a full mesh has one peer per node): peerViews.ts.
  const byKind = splitPeers(family.peers);
  return {
    enabled: family.address !== undefined,
    sourceAddress: family.address?.text ?? '',
    meshPeers: byKind.mesh,
    globalPeers: byKind.global,
    nodePeers: byKind.node,
    pools: family.pools.map((pool) => ({ cidr: pool.cidr.text, tunnel: tunnel(pool) })),
    blocks: family.blocks.map((block) => block.text),
    customFilters: family.customFilters.map((filter) => filter.body),
  };
}

/**
 * Cross-subnet compares the route's BGP next hop with this node's subnet (not `from`, which is the RR behind a
 * reflector).
 */
function tunnelStatements(pool: Pool, model: NodeModel, ipip: IpipRendering): string[] {
  if (ipip !== 'krt-tunnel' || pool.ipipInterface === undefined) return [];
  const tunnel = `krt_tunnel = "${pool.ipipInterface}";`;
  if (pool.ipipMode !== 'cross-subnet' || model.networkV4 === undefined) return [tunnel];
  return [tunnel, `if defined(bgp_next_hop) then { if bgp_next_hop ~ ${model.networkV4.text} then krt_tunnel = ""; }`];
}

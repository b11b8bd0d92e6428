import type { AddressFamily, IpAddress } from './address.js';
import type { Cidr } from './cidr.js';
import type { Diagnostic } from './diagnostics.js';
import type { BirdLogLevel } from './birdLogLevel.js';
import type { SessionKind } from './protocolName.js';

/** A node's kinds of session (a reflector's are `reflector` and `client`). */
export type PeerKind = Extract<SessionKind, 'mesh' | 'global' | 'node'>;

/** One BGP session of this node; `protocolName` is what BIRD and `status` know it by. */
export interface BgpPeer {
  readonly kind: PeerKind;
  readonly address: IpAddress;
  readonly asNumber: number;
  readonly protocolName: string;
  /** The peer is a registered route reflector (this node is its client). */
  readonly routeReflector: boolean;
  /**
   * Mesh sessions are dialled one way only: `passive on` toward a peer whose address *text* sorts after this
   * node's (Calico's rule, so mixed clusters agree; see passiveSide.ts). Two BIRDs that dial each other at the
   * same moment knock each other's session down under graceful restart.
   */
  readonly passive: boolean;
}

export type IpipMode = 'always' | 'cross-subnet';

export interface Pool {
  readonly cidr: Cidr;
  /** The tunnel device for IPIP, or undefined when the pool does not use IPIP. */
  readonly ipipInterface: string | undefined;
  readonly ipipMode: IpipMode;
  readonly masquerade: boolean;
  readonly disabled: boolean;
  readonly ipam: boolean;
}

export interface CustomFilter {
  readonly key: string;
  readonly name: string;
  readonly body: string;
}

export interface RouteReflector {
  readonly address: IpAddress;
  readonly clusterId: string | undefined;
}

/** Everything one address family of the node's configuration needs, each list sorted. */
export interface FamilyModel {
  readonly family: AddressFamily;
  /** The node's own address in this family (undefined: BGP in this family is off on this node). */
  readonly address: IpAddress | undefined;
  /** Mesh, then global, then node-specific peers; each group sorted by address. */
  readonly peers: readonly BgpPeer[];
  readonly pools: readonly Pool[];
  readonly blocks: readonly Cidr[];
  readonly customFilters: readonly CustomFilter[];
  readonly routeReflectors: readonly RouteReflector[];
}

export interface OtherNode {
  readonly name: string;
  readonly ipv4: IpAddress | undefined;
  readonly ipv6: IpAddress | undefined;
  readonly asNumber: number;
}

/** The validated, typed, sorted configuration of one node: the only input templates ever see. */
export interface NodeModel {
  readonly nodeName: string;
  readonly routerId: IpAddress;
  readonly asNumber: number;
  readonly logLevel: BirdLogLevel;
  readonly networkV4: Cidr | undefined;
  readonly meshEnabled: boolean;
  readonly globalAsNumber: number;
  readonly v4: FamilyModel;
  readonly v6: FamilyModel;
  readonly otherNodes: readonly OtherNode[];
  readonly diagnostics: readonly Diagnostic[];
}

export const DEFAULT_AS_NUMBER = 64511;

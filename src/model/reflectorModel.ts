import type { AddressFamily, IpAddress } from './address.js';
import type { Diagnostic } from './diagnostics.js';
import type { BirdLogLevel } from './birdLogLevel.js';
import type { SessionKind } from './protocolName.js';

/** One BGP session of a route reflector: another reflector (`Reflector_<ip>`) or a client node (`Client_<ip>`). */
export interface ReflectorSession {
  readonly kind: Extract<SessionKind, 'reflector' | 'client'>;
  readonly address: IpAddress;
  readonly protocolName: string;
  /** The AS this reflector speaks as on the session (for clients: the AS the node peers with it as). */
  readonly localAsNumber: number;
  readonly asNumber: number;
  /** `rr cluster id` for client sessions; undefined: BIRD uses the router id. */
  readonly clusterId: string | undefined;
  /** Reflector-to-reflector sessions are dialled one way only, as the node mesh: the lower address waits. */
  readonly passive: boolean;
}

export interface ReflectorFamily {
  readonly family: AddressFamily;
  readonly address: IpAddress | undefined;
  /** Other reflectors, then clients; each group sorted by address. */
  readonly sessions: readonly ReflectorSession[];
}

/** The validated configuration of a route reflector, as Calico's routereflector image built it. */
export interface ReflectorModel {
  readonly routerId: IpAddress;
  readonly asNumber: number;
  readonly logLevel: BirdLogLevel;
  readonly v4: ReflectorFamily;
  readonly v6: ReflectorFamily;
  readonly diagnostics: readonly Diagnostic[];
}

import type { IpAddress } from './address.js';

/**
 * Which side of a mesh pair waits (`passive on`): this node is passive toward `peer` when the peer's address
 * text sorts after its own, byte by byte — Calico's `{{if gt $onode_ip $node_ip}}passive on` on the two
 * strings (Go compares strings bytewise; for these ASCII texts so does `>` here). Not the numeric order:
 * they disagree for pairs like 10.0.0.5 / 10.0.0.10, and a cluster mixing birdwatch and Calico nodes must
 * pick the same side on both ends, else both wait and the session never comes up. Texts are the canonical
 * forms (dotted quad without leading zeros; RFC 5952 IPv6, as Go's net.IP prints it and calicoctl stores it).
 */
export const isPassiveToward = (peer: IpAddress, own: IpAddress): boolean => peer.text > own.text;

/**
 * Direct writes of the Calico v1 keyspace (as calicoctl wrote it; see /work/shared/reference/keyspace.md),
 * for the lab and the end-to-end tests. The demo uses the birdwatch operator CLI instead.
 */
import type { Etcd3 } from 'etcd3';
import { keys } from '../../src/model/keys.js';

export interface HostAddresses {
  readonly name: string;
  readonly ip4: string;
  readonly ip6?: string;
  /** Per-node AS number (`host/<name>/as_num`); deleted when absent. */
  readonly as?: string;
}

/** `node --ip A --ip6 B [--as N]`: ip_addr_v4, ip_addr_v6 (or ""), as_num (deleted when not given). */
export async function registerHost(client: Etcd3, host: HostAddresses): Promise<void> {
  await client.put(keys.hostAddress(host.name, 4)).value(host.ip4);
  await client.put(keys.hostAddress(host.name, 6)).value(host.ip6 ?? '');
  if (host.as !== undefined) await client.put(keys.hostAsNumber(host.name)).value(host.as);
  else await client.delete().key(keys.hostAsNumber(host.name));
}

/** Deletes the host's BGP keys (`/calico/bgp/v1/host/<name>/`), as `node remove` does; its IPAM blocks stay. */
export async function removeHost(client: Etcd3, name: string): Promise<void> {
  await client.delete().prefix(keys.hostDir(name));
}

export async function addPool(client: Etcd3, cidr: string): Promise<void> {
  await client.put(keys.pool(cidr.includes(':') ? 6 : 4, cidr)).value(JSON.stringify({ cidr }));
}

/** A block owned by `host`, as Calico IPAM claims it (only the key's name matters). */
export async function addBlock(client: Etcd3, host: string, cidr: string): Promise<void> {
  await client.put(keys.block(host, cidr.includes(':') ? 6 : 4, cidr)).value('{}');
}

export async function removeBlock(client: Etcd3, host: string, cidr: string): Promise<void> {
  await client.delete().key(keys.block(host, cidr.includes(':') ? 6 : 4, cidr));
}

export async function setNodeMesh(client: Etcd3, enabled: boolean): Promise<void> {
  await client.put(keys.nodeMesh).value(JSON.stringify({ enabled }));
}

const family = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** `bgp peer add IP as AS`. */
export async function addGlobalPeer(client: Etcd3, ip: string, as: string): Promise<void> {
  await client.put(keys.globalPeer(family(ip), ip)).value(JSON.stringify({ ip, as_num: as }));
}

export async function removeGlobalPeer(client: Etcd3, ip: string): Promise<void> {
  await client.delete().key(keys.globalPeer(family(ip), ip));
}

/** `node bgp peer add IP as AS` on `host`. */
export async function addNodePeer(client: Etcd3, host: string, ip: string, as: string): Promise<void> {
  await client.put(keys.hostPeer(host, family(ip), ip)).value(JSON.stringify({ ip, as_num: as }));
}

/** Registers a route reflector under `rr_v4/` or `rr_v6/`. */
export async function addRouteReflector(client: Etcd3, ip: string, clusterId?: string): Promise<void> {
  const value = clusterId === undefined ? { ip } : { ip, cluster_id: clusterId };
  await client.put(keys.routeReflector(family(ip), ip)).value(JSON.stringify(value));
}

export async function removeRouteReflector(client: Etcd3, ip: string): Promise<void> {
  await client.delete().key(keys.routeReflector(family(ip), ip));
}

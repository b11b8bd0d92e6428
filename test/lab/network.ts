/**
 * The lab network: a bridge in a namespace of its own, and per host a namespace with one veth (`eth0`)
 * plugged into that bridge, carrying the host's IPv4 and IPv6 test addresses. Nothing is created in the
 * root namespace: the addresses exist only inside the lab.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';

const BRIDGE = 'br0';
export const HOST_INTERFACE = 'eth0';
const PREFIX_LENGTH_V4 = 24;
const PREFIX_LENGTH_V6 = 64;

async function ip(args: readonly string[]): Promise<void> {
  const result = await execa('ip', args, { reject: false });
  if (result.exitCode !== 0)
    throw new Error(`ip ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
}

export function namespaceExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

/** `ip netns add` and loopback up. */
export async function addNamespace(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

export async function deleteNamespace(name: string): Promise<void> {
  if (!namespaceExists(name)) return;
  await ip(['netns', 'delete', name]);
}

/** The bridge namespace: loopback and a bridge `br0`, up (no STP: ports forward at once). */
export async function createBridgeNamespace(name: string): Promise<void> {
  await addNamespace(name);
  await ip(['-n', name, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0']);
  await ip(['-n', name, 'link', 'set', BRIDGE, 'up']);
}

export interface HostLink {
  readonly bridgeNamespace: string;
  readonly hostNamespace: string;
  /** Name of the bridge-side veth end (unique in the bridge namespace). */
  readonly portName: string;
  readonly ip4: string;
  readonly ip6: string;
}

/** A veth pair from the bridge namespace into the host namespace, with the host's addresses (IPv6 `nodad`). */
export async function linkHost(link: HostLink): Promise<void> {
  const { bridgeNamespace: br, hostNamespace: ns } = link;
  await ip(['-n', br, 'link', 'add', link.portName, 'type', 'veth', 'peer', 'name', HOST_INTERFACE, 'netns', ns]);
  await ip(['-n', br, 'link', 'set', link.portName, 'master', BRIDGE]);
  await ip(['-n', br, 'link', 'set', link.portName, 'up']);
  await ip(['-n', ns, 'addr', 'add', `${link.ip4}/${PREFIX_LENGTH_V4}`, 'dev', HOST_INTERFACE]);
  await ip(['-n', ns, '-6', 'addr', 'add', `${link.ip6}/${PREFIX_LENGTH_V6}`, 'dev', HOST_INTERFACE, 'nodad']);
  await ip(['-n', ns, 'link', 'set', HOST_INTERFACE, 'up']);
}

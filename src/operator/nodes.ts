import { parseBgpAddress, parseIpAddress, type AddressFamily, type IpAddress } from '../model/address.js';
import { parseAsNumber } from '../model/asNumber.js';
import { cidrContains, parseCidr, type Cidr } from '../model/cidr.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { HOST_PREFIX, IPAM_HOST_PREFIX, keys } from '../model/keys.js';
import { indexKeyspace, type KeyValue } from '../model/keyspaceIndex.js';
import { parseNodeName } from '../model/names.js';
import { globalAsNumberOf } from './defaultAsNumber.js';
import { OperatorConflictError, OperatorNotFoundError } from './errors.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

export interface NodeRegistration {
  readonly name: string;
  readonly ipv4: IpAddress;
  readonly ipv6?: IpAddress | undefined;
  /** Overrides the global AS on this node; undefined deletes a previous override (as calicoctl did). */
  readonly asNumber?: number | undefined;
  /** `network_v4` (IPIP cross-subnet); undefined leaves a stored value alone. Must contain `ipv4`. */
  readonly networkV4?: Cidr | undefined;
}

/** The host's address keys that another node holds `address` in, if any. */
function ownerOf(
  hosts: ReturnType<typeof indexKeyspace>['hosts'],
  self: string,
  address: IpAddress,
): string | undefined {
  for (const [name, host] of hosts) {
    if (name === self) continue;
    const stored = host.address[address.family]?.value;
    if (stored === undefined || stored === '') continue;
    const parsed = parseIpAddress(stored, address.family);
    if (parsed.ok && parsed.value.value === address.value) return name;
  }
  return undefined;
}

/**
 * `node register` (calicoctl `node --ip A --ip6 B --as N`): `ip_addr_v4`, `ip_addr_v6` (`""` without --ip6),
 * `as_num` (deleted without --as) and, when given, `network_v4`, in one transaction. An address another node
 * already has is refused (two nodes with one router id break BGP); the check and the write are atomic.
 */
export function registerNode(store: OperatorStore, registration: NodeRegistration): Promise<WriteReport> {
  const { name, ipv4, ipv6, asNumber, networkV4 } = registration;
  if (
    networkV4 !== undefined &&
    !cidrContains(networkV4, { family: 4, network: ipv4.value, prefixLength: 32, text: `${ipv4.text}/32` })
  ) {
    throw new OperatorConflictError(networkV4.text, `does not contain the node's address ${ipv4.text}`);
  }
  return plannedWrite(store, { read: [HOST_PREFIX], guardPrefixes: [HOST_PREFIX] }, (snapshot) => {
    const { hosts } = indexKeyspace(snapshot.entries);
    for (const address of [ipv4, ipv6]) {
      if (address === undefined) continue;
      const owner = ownerOf(hosts, name, address);
      if (owner !== undefined)
        throw new OperatorConflictError(
          address.text,
          `is already the address of node ${owner} (${keys.hostAddress(owner, address.family)})`,
        );
    }
    const notes: string[] = [];
    const puts: [string, string][] = [
      [keys.hostAddress(name, 4), ipv4.text],
      [keys.hostAddress(name, 6), ipv6?.text ?? ''],
    ];
    const deleteKeys: string[] = [];
    const asKey = keys.hostAsNumber(name);
    if (asNumber !== undefined) puts.push([asKey, String(asNumber)]);
    else if (snapshot.entries.has(asKey)) {
      deleteKeys.push(asKey);
      notes.push(`the node's AS override (${snapshot.entries.get(asKey)}) was removed: it uses the global AS now`);
    }
    const previousV6 = snapshot.entries.get(keys.hostAddress(name, 6));
    if (ipv6 === undefined && previousV6)
      notes.push(`the node's IPv6 address (${previousV6}) was cleared: IPv6 BGP is off on it now`);
    if (networkV4 !== undefined) puts.push([keys.hostNetwork(name), networkV4.text]);
    if (!hosts.has(name)) notes.push(`node ${name} is new`);
    return { puts, deleteKeys, notes };
  });
}

/**
 * `node remove`: deletes every BGP key of the host (`/calico/bgp/v1/host/NAME/`, its peers and settings included)
 * in one transaction. Its IPAM blocks (`/calico/ipam/v2/host/NAME/`) are kept: they record addresses handed to
 * workloads, which only IPAM may release; the note says how many remain.
 */
export function removeNode(store: OperatorStore, name: string): Promise<WriteReport> {
  const dir = keys.hostDir(name);
  const ipamDir = `${IPAM_HOST_PREFIX}${name}/`;
  return plannedWrite(store, { read: [dir, ipamDir] }, (snapshot) => {
    const owned = [...snapshot.entries.keys()].filter((k) => k.startsWith(dir)).sort();
    if (owned.length === 0)
      throw new OperatorNotFoundError(`node ${name} has no BGP keys (nothing under ${dir}); nothing removed`);
    const blocks = [...snapshot.entries.keys()].filter((k) => k.startsWith(ipamDir) && k.includes('/block/')).length;
    const notes =
      blocks > 0
        ? [
            `kept ${blocks} IPAM block${blocks === 1 ? '' : 's'} under ${ipamDir} (IPAM state: release them with Calico IPAM)`,
          ]
        : [];
    return { puts: [], deleteKeys: owned, deletePrefixes: [dir], notes };
  });
}

interface NodeEntry {
  readonly name: string;
  readonly ipv4: IpAddress | undefined;
  readonly ipv6: IpAddress | undefined;
  /** The node's own AS override, when set and valid. */
  readonly asNumber: number | undefined;
  /** What the node runs with: its override, else the global AS (64511 when unset). */
  readonly effectiveAsNumber: number;
  readonly networkV4: Cidr | undefined;
}

export interface NodeListing {
  readonly nodes: readonly NodeEntry[];
  readonly globalAsNumber: number;
  readonly invalid: readonly Diagnostic[];
}

/** Every host with a BGP key, sorted by name, with its addresses and AS as the renderer reads them. */
export async function listNodes(store: OperatorStore): Promise<NodeListing> {
  const snapshot = await store.read([HOST_PREFIX, keys.globalAsNumber]);
  const global = globalAsNumberOf(snapshot);
  const { hosts } = indexKeyspace(snapshot.entries);
  const invalid: Diagnostic[] = [];
  const skip = (entry: KeyValue, reason: string): undefined => {
    invalid.push({ key: entry.key, value: entry.value, action: 'skipped', reason });
    return undefined;
  };
  const nodes: NodeEntry[] = [];
  for (const name of [...hosts.keys()].sort()) {
    const host = hosts.get(name)!;
    if (!parseNodeName(name).ok) continue;
    const address = (f: AddressFamily): IpAddress | undefined => {
      const entry = host.address[f];
      if (entry === undefined || entry.value === '') return undefined;
      // As the renderer reads it: an address BIRD cannot peer with is no address (and gets a warning).
      const parsed = parseBgpAddress(entry.value, f);
      return parsed.ok ? parsed.value : skip(entry, parsed.reason);
    };
    const own = host.asNumber === undefined ? undefined : parseAsNumber(host.asNumber.value);
    const asNumber = own === undefined ? undefined : own.ok ? own.value : skip(host.asNumber!, own.reason);
    const network =
      host.network === undefined || host.network.value === '' ? undefined : parseCidr(host.network.value, 4);
    const networkV4 =
      network === undefined ? undefined : network.ok ? network.value : skip(host.network!, network.reason);
    nodes.push({
      name,
      ipv4: address(4),
      ipv6: address(6),
      asNumber,
      effectiveAsNumber: asNumber ?? global.asNumber,
      networkV4,
    });
  }
  return { nodes, globalAsNumber: global.asNumber, invalid };
}

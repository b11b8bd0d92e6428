import { compareAddresses, type AddressFamily, type IpAddress } from './address.js';
import { isPassiveToward } from './passiveSide.js';
import { parseAsNumber } from './asNumber.js';
import { compareDiagnostics } from './diagnostics.js';
import { decodePeer } from './encodings.js';
import { indexKeyspace, type Keyspace } from './keyspaceIndex.js';
import { DEFAULT_BIRD_LOG_LEVEL, parseBirdLogLevel } from './birdLogLevel.js';
import { DiagnosticLog, reflectors, settingOr, validNodes } from './modelParts.js';
import { DEFAULT_AS_NUMBER } from './nodeModel.js';
import { protocolName } from './protocolName.js';
import type { ReflectorFamily, ReflectorModel, ReflectorSession } from './reflectorModel.js';

export interface ReflectorOptions {
  readonly ipv4: IpAddress;
  readonly ipv6: IpAddress | undefined;
  /** The reflectors' own AS (sessions with other reflectors); default: the global AS. */
  readonly asNumber: number | undefined;
}

/**
 * Keyspace → a route reflector's model. Pure. Sessions with every other registered reflector of the
 * family, and an `rr client` session with every node that has this reflector among its global or
 * node-specific peers (a global peer makes every node a client).
 */
export function buildReflectorModel(keyspace: Keyspace, options: ReflectorOptions): ReflectorModel {
  const index = indexKeyspace(keyspace);
  const log = new DiagnosticLog();
  for (const entry of index.malformed) log.add(entry, 'skipped', entry.reason);
  const globalAsNumber = settingOr(index.globalAsNumber, (v) => parseAsNumber(v), DEFAULT_AS_NUMBER, log);
  const asNumber = options.asNumber ?? globalAsNumber;
  const logLevel = settingOr(index.globalLogLevel, parseBirdLogLevel, DEFAULT_BIRD_LOG_LEVEL, log);
  const nodes = validNodes(index, globalAsNumber, log);

  const family = (f: AddressFamily, own: IpAddress | undefined): ReflectorFamily => {
    const registered = reflectors(index, f, log);
    if (!own) return { family: f, address: undefined, sessions: [] };
    const me = registered.find((rr) => rr.address.value === own.value);
    const sessions: ReflectorSession[] = registered
      .filter((rr) => rr.address.value !== own.value)
      .map((rr) => ({
        kind: 'reflector',
        address: rr.address,
        protocolName: protocolName('reflector', rr.address),
        localAsNumber: asNumber,
        asNumber,
        clusterId: undefined,
        passive: isPassiveToward(rr.address, own),
      }));
    const reflectorAddresses = new Set(registered.map((rr) => rr.address.value));

    // The AS a node peers with this reflector as: from its node-specific entry, else the global one.
    const peerAs = (entries: readonly { key: string; value: string; ip: string }[]): number | undefined => {
      for (const entry of entries) {
        const peer = decodePeer(entry.value, f, entry.ip);
        if (peer.ok && peer.value.address.value === own.value) return peer.value.asNumber;
      }
      return undefined;
    };
    const globalAs = peerAs(index.globalPeers[f]);
    const clients: ReflectorSession[] = [];
    for (const node of nodes.values()) {
      const address = f === 4 ? node.ipv4 : node.ipv6;
      if (!address || address.value === own.value || reflectorAddresses.has(address.value)) continue;
      const localAs = peerAs(index.hosts.get(node.name)?.peers[f] ?? []) ?? globalAs;
      if (localAs === undefined) continue;
      clients.push({
        kind: 'client',
        address,
        protocolName: protocolName('client', address),
        localAsNumber: localAs,
        asNumber: node.asNumber,
        clusterId: me?.clusterId,
        passive: false,
      });
    }
    // Two nodes registered with the same address would give one protocol name twice: keep the first.
    const seen = new Set<bigint>();
    const unique = clients
      .sort((a, b) => compareAddresses(a.address, b.address))
      .filter((c) => !seen.has(c.address.value) && seen.add(c.address.value));
    return {
      family: f,
      address: own,
      sessions: [...sessions.sort((a, b) => compareAddresses(a.address, b.address)), ...unique],
    };
  };

  return {
    routerId: options.ipv4,
    asNumber,
    logLevel,
    v4: family(4, options.ipv4),
    v6: family(6, options.ipv6),
    diagnostics: log.entries.sort(compareDiagnostics),
  };
}

import { parseBgpAddress, compareAddresses, type AddressFamily, type IpAddress } from './address.js';
import { parseAsNumber } from './asNumber.js';
import type { Diagnostic } from './diagnostics.js';
import { decodeRouteReflector } from './encodings.js';
import type { HostEntries, KeyValue, KeyspaceIndex } from './keyspaceIndex.js';
import { isNodeName, parseNodeName } from './names.js';
import type { OtherNode, RouteReflector } from './nodeModel.js';
import type { Validated } from './result.js';

/** Pieces shared by the node and route-reflector model builders. */

/** Collects diagnostics while the model is built; one per refused or overridden entry. */
export class DiagnosticLog {
  readonly entries: Diagnostic[] = [];
  add(entry: KeyValue, action: Diagnostic['action'], reason: string): void {
    this.entries.push({ key: entry.key, value: entry.value, action, reason });
  }
}

/** A setting's value, or `fallback` (with a diagnostic when the entry exists but is invalid). */
export function settingOr<T, D>(
  entry: KeyValue | undefined,
  parse: (v: string) => Validated<T>,
  fallback: D,
  log: DiagnosticLog,
): T | D {
  if (!entry) return fallback;
  const parsed = parse(entry.value);
  if (parsed.ok) return parsed.value;
  log.add(entry, 'defaulted', parsed.reason);
  return fallback;
}

/** What one host contributes to the node list: its node (or none) and the diagnostics it costs. */
export interface HostNode {
  readonly node: OtherNode | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** Every host with a valid name, its valid addresses and effective AS; sorted by name. */
export function validNodes(index: KeyspaceIndex, globalAsNumber: number, log: DiagnosticLog): Map<string, OtherNode> {
  const nodes = new Map<string, OtherNode>();
  for (const name of [...index.hosts.keys()].sort()) {
    const made = hostNode(index.hosts.get(name)!, globalAsNumber);
    if (made.diagnostics.length > 0) log.entries.push(...made.diagnostics);
    if (made.node) nodes.set(name, made.node);
  }
  return nodes;
}

/** One host's node: its valid addresses and effective AS, or none for a bad name; with what it costs. */
export function hostNode(host: HostEntries, globalAsNumber: number): HostNode {
  const log = new DiagnosticLog();
  const { name } = host;
  if (!isNodeName(name)) {
    const refused = parseNodeName(name);
    for (const entry of hostEntries(host)) log.add(entry, 'skipped', refused.ok ? '' : refused.reason);
    return { node: undefined, diagnostics: log.entries };
  }
  const asNumber = host.asNumber ? settingOr(host.asNumber, parseAsNumberText, globalAsNumber, log) : globalAsNumber;
  const ipv4 = hostAddress(host, 4, log);
  const ipv6 = hostAddress(host, 6, log);
  return { node: { name, ipv4, ipv6, asNumber }, diagnostics: log.entries };
}

const parseAsNumberText = (v: string): Validated<number> => parseAsNumber(v);

/** A host's address in one family: undefined when absent or empty, or (with a diagnostic) invalid. */
function hostAddress(host: HostEntries, f: AddressFamily, log: DiagnosticLog): IpAddress | undefined {
  const entry = host.address[f];
  if (!entry || entry.value === '') return undefined;
  const parsed = parseBgpAddress(entry.value, f);
  if (parsed.ok) return parsed.value;
  log.add(entry, 'skipped', parsed.reason);
  return undefined;
}

function hostEntries(host: HostEntries): KeyValue[] {
  const list: (KeyValue | undefined)[] = [host.address[4], host.address[6], host.asNumber, host.logLevel, host.network];
  return [
    ...list.filter((e): e is KeyValue => e !== undefined),
    ...host.peers[4],
    ...host.peers[6],
    ...host.blocks[4],
    ...host.blocks[6],
  ];
}

export function reflectors(index: KeyspaceIndex, f: AddressFamily, log: DiagnosticLog): RouteReflector[] {
  const list: RouteReflector[] = [];
  for (const entry of index.routeReflectors[f]) {
    const decoded = decodeRouteReflector(entry.value, f, entry.ip);
    if (!decoded.ok) {
      log.add(entry, 'skipped', decoded.reason);
      continue;
    }
    list.push(decoded.value.value);
    for (const reason of decoded.value.droppedFields) log.add(entry, 'defaulted', reason);
  }
  return list.sort((a, b) => compareAddresses(a.address, b.address));
}

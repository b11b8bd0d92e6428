import { parseIpAddress, unusableBgpAddressReason, type AddressFamily, type IpAddress } from './address.js';
import { parseAsNumber } from './asNumber.js';
import { parseCidr, type Cidr } from './cidr.js';
import { optionalBoolean, parseJsonObject } from './json.js';
import { parseInterfaceName } from './names.js';
import type { IpipMode, Pool, RouteReflector } from './nodeModel.js';
import { accept, refuse, type Validated } from './result.js';

/** Value encodings of the keyspace: each `decode…` is strict about what it reads, each `encode…`
 * writes byte-for-byte what calicoctl wrote, so data from either tool works with the other. */

export interface PeerValue {
  readonly address: IpAddress;
  readonly asNumber: number;
}

/**
 * The `"ip"` field of a peer or reflector value: an address of the key's family, equal to the key's own, and
 * one BIRD can peer with (see unusableBgpAddressReason).
 */
function decodeIpField(
  object: Readonly<Record<string, unknown>>,
  family: AddressFamily,
  keyIp: string,
): Validated<IpAddress> {
  const { ip } = object;
  if (typeof ip !== 'string') return refuse('"ip" must be a string');
  const address = parseIpAddress(ip, family);
  if (!address.ok) return refuse(`"ip": ${address.reason} (the key is IPv${family})`);
  const fromKey = parseIpAddress(keyIp, family);
  if (!fromKey.ok || fromKey.value.value !== address.value.value)
    return refuse(`"ip" ${ip} does not match the key's address`);
  const unusable = unusableBgpAddressReason(address.value);
  return unusable === undefined ? address : refuse(unusable);
}

export function decodePeer(value: string, family: AddressFamily, keyIp: string): Validated<PeerValue> {
  const object = parseJsonObject(value);
  if (!object.ok) return object;
  const address = decodeIpField(object.value, family, keyIp);
  if (!address.ok) return address;
  const asNumber = parseAsNumber(object.value['as_num']);
  if (!asNumber.ok) return refuse(`"as_num": ${asNumber.reason}`);
  return accept({ address: address.value, asNumber: asNumber.value });
}

export const encodePeer = (ip: string, asNumber: number): string => JSON.stringify({ ip, as_num: String(asNumber) });

export function decodeNodeMesh(value: string): Validated<boolean> {
  const object = parseJsonObject(value);
  if (!object.ok) return object;
  const enabled = object.value['enabled'];
  return typeof enabled === 'boolean' ? accept(enabled) : refuse('"enabled" must be true or false');
}

export const encodeNodeMesh = (enabled: boolean): string => JSON.stringify({ enabled });

/** A decoded entry and the optional fields left out of it (each reason names the field): a bad optional
 * field costs that field, not the entry. */
export interface DecodedEntry<T> {
  readonly value: T;
  readonly droppedFields: readonly string[];
}

/**
 * A reflector entry: `"ip"` is required; a `"cluster_id"` BIRD cannot use is dropped (the reflector still
 * meshes with the others and serves its clients, with BIRD's default cluster id, its router id).
 */
export function decodeRouteReflector(
  value: string,
  family: AddressFamily,
  keyIp: string,
): Validated<DecodedEntry<RouteReflector>> {
  const object = parseJsonObject(value);
  if (!object.ok) return object;
  const address = decodeIpField(object.value, family, keyIp);
  if (!address.ok) return address;
  const clusterId = object.value['cluster_id'];
  if (clusterId === undefined || clusterId === '')
    return accept({ value: { address: address.value, clusterId: undefined }, droppedFields: [] });
  const cluster = typeof clusterId === 'string' ? parseClusterId(clusterId) : refuse('must be a string');
  if (cluster.ok) return accept({ value: { address: address.value, clusterId: cluster.value }, droppedFields: [] });
  return accept({
    value: { address: address.value, clusterId: undefined },
    droppedFields: [`"cluster_id": ${cluster.reason}; the reflector is kept without rr cluster id`],
  });
}

const MAX_CLUSTER_ID = 0xffffffff;

/**
 * `rr cluster id` as BIRD 1.6 takes it (checked with bird -p / bird6 -p): a dotted quad, or a number
 * 1-4294967295 (decimal, or hex 0x…). 0 (or 0.0.0.0) is refused: BIRD treats it as unset and uses the router
 * id. Rendered canonically: a quad as a quad, a number in decimal.
 */
export function parseClusterId(text: string): Validated<string> {
  const quad = parseIpAddress(text, 4);
  let value: number | undefined;
  let canonical: string | undefined;
  if (quad.ok) {
    value = Number(quad.value.value);
    canonical = quad.value.text;
  } else if (/^[0-9]{1,10}$/.test(text) || /^0x[0-9a-fA-F]{1,8}$/.test(text)) {
    value = Number(text);
    canonical = String(value);
  }
  if (value === undefined || canonical === undefined || value > MAX_CLUSTER_ID)
    return refuse('must be a dotted quad such as 1.0.0.1 or a number 1-4294967295');
  if (value === 0) return refuse('0 means "not set" to BIRD (it would use the router id)');
  return accept(canonical);
}

export const encodeRouteReflector = (ip: string, clusterId: string | undefined): string =>
  JSON.stringify(clusterId === undefined ? { ip } : { ip, cluster_id: clusterId });

/**
 * A pool entry: `"cidr"` is required (and must match the key); every other field is optional and a bad one is
 * dropped with a reason, not the pool — a pool left out would stop announcing its workloads' routes. A bad
 * `"ipip"` (or one on an IPv6 pool, which Calico's templates ignored too) leaves the pool routed natively, a bad
 * `"ipip_mode"` falls back to `always`; `masquerade`, `disabled` and `ipam` are Felix's and IPAM's and change
 * nothing BIRD is given.
 */
export function decodePool(value: string, family: AddressFamily, keyCidr: string): Validated<DecodedEntry<Pool>> {
  const object = parseJsonObject(value);
  if (!object.ok) return object;
  const fields = object.value;
  if (typeof fields['cidr'] !== 'string') return refuse('"cidr" must be a string');
  const cidr = parseCidr(fields['cidr'], family);
  if (!cidr.ok) return refuse(`"cidr": ${cidr.reason}`);
  const fromKey = parseCidr(keyCidr, family);
  if (!fromKey.ok || fromKey.value.text !== cidr.value.text)
    return refuse(`"cidr" ${fields['cidr']} does not match the key's CIDR`);
  const dropped: string[] = [];
  const ipip = fields['ipip'];
  let ipipInterface: string | undefined;
  if (ipip !== undefined && ipip !== '') {
    const name =
      typeof ipip !== 'string'
        ? refuse('must be an interface name string')
        : family === 6
          ? refuse('is IPv4 only')
          : parseInterfaceName(ipip);
    if (name.ok) ipipInterface = name.value;
    else dropped.push(`"ipip": ${name.reason}; the pool is kept without IPIP (routed natively)`);
  }
  const mode = fields['ipip_mode'];
  let ipipMode: IpipMode = 'always';
  if (mode === 'cross-subnet') ipipMode = 'cross-subnet';
  else if (mode !== undefined && mode !== '' && mode !== 'always')
    dropped.push('"ipip_mode" must be "always" or "cross-subnet"; the pool is kept with IPIP mode always');
  const flag = (field: 'masquerade' | 'disabled' | 'ipam', fallback: boolean): boolean => {
    const parsed = optionalBoolean(fields, field);
    if (!parsed.ok) dropped.push(`${parsed.reason}; the field is ignored (the pool is kept)`);
    return parsed.ok && parsed.value !== undefined ? parsed.value : fallback;
  };
  return accept({
    value: {
      cidr: cidr.value,
      ipipInterface,
      ipipMode,
      masquerade: flag('masquerade', false),
      disabled: flag('disabled', false),
      ipam: flag('ipam', true),
    },
    droppedFields: dropped,
  });
}

export interface PoolSettings {
  readonly ipip: boolean;
  readonly ipipMode?: IpipMode | undefined;
  readonly natOutgoing: boolean;
}

export function encodePool(cidr: Cidr, settings: PoolSettings): string {
  const value: Record<string, unknown> = { cidr: cidr.text };
  if (settings.ipip) value['ipip'] = 'tunl0';
  if (settings.ipip && settings.ipipMode) value['ipip_mode'] = settings.ipipMode;
  if (settings.natOutgoing) value['masquerade'] = true;
  return JSON.stringify(value);
}

export function decodeBlock(keyCidr: string, family: AddressFamily): Validated<Cidr> {
  return parseCidr(keyCidr, family);
}

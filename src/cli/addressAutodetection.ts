import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { parseIpAddress, type AddressFamily, type IpAddress } from '../model/address.js';
import { UsageError } from './usageError.js';
import { errorMessage } from '../errorMessage.js';

/**
 * calico-node's address autodetection (`IP=autodetect`, `IP6=autodetect`), with its methods, chosen by
 * IP_AUTODETECTION_METHOD / IP6_AUTODETECTION_METHOD:
 *   first-found            the first usable address of the first usable interface
 *   can-reach=DEST         the source address the kernel picks toward DEST (an address or a host name)
 *   interface=REGEX,…      first-found among interfaces whose name matches one of the regexes
 *   skip-interface=REGEX,… first-found among the others
 * As in calico-node the regexes are not anchored (`interface=eth0` also matches `veth0`; write `^eth0$`).
 * The host is read through a HostAddresses (the system's, or a test's), so the choice itself is testable.
 */
export type AutodetectionMethod =
  | { readonly kind: 'first-found' }
  | { readonly kind: 'can-reach'; readonly destination: string }
  | { readonly kind: 'interface'; readonly patterns: readonly RegExp[] }
  | { readonly kind: 'skip-interface'; readonly patterns: readonly RegExp[] };

interface InterfaceAddress {
  readonly address: string;
  readonly family: AddressFamily;
  /** Prefix length of the address on the interface. */
  readonly prefixLength: number;
}

/** @internal test/cli-environment.test.ts builds interfaces. */
export interface HostInterface {
  readonly name: string;
  readonly addresses: readonly InterfaceAddress[];
}

/** What autodetection reads of the host: its interfaces (up, in the kernel's order) and routing. */
export interface HostAddresses {
  interfaces(): readonly HostInterface[];
  /** The local address the kernel would send from toward `destination` (nothing is sent). */
  sourceAddressToward(destination: string, family: AddressFamily): Promise<string>;
}

/** An address could not be autodetected: the message says which method found nothing and why. */
export class AutodetectionError extends Error {
  override readonly name = 'AutodetectionError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Interfaces calico-node never picks: container bridges, tunnels, its own workload interfaces, loopback. */
const EXCLUDED_INTERFACES = [
  /^docker.*/,
  /^cbr.*/,
  /^dummy.*/,
  /^virbr.*/,
  /^lxcbr.*/,
  /^veth.*/,
  /^lo$/,
  /^cali.*/,
  /^tunl.*/,
  /^flannel.*/,
  /^kube-ipvs.*/,
  /^cni.*/,
  /^vxlan\.calico.*/,
  /^vxlan-v6\.calico.*/,
  /^wireguard\.cali.*/,
  /^wg-v6\.cali.*/,
  /^nodelocaldns.*/,
  /^podman.*/,
];

export function parseAutodetectionMethod(variable: string, value: string | undefined): AutodetectionMethod {
  const text = (value ?? '').trim();
  if (text === '' || text === 'first-found') return { kind: 'first-found' };
  const eq = text.indexOf('=');
  const [name, argument] = eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
  if (name === 'can-reach') {
    if (argument === '')
      throw new UsageError(
        variable,
        value,
        'can-reach needs a destination: can-reach=DEST (an address or a host name)',
      );
    return { kind: 'can-reach', destination: argument };
  }
  if (name === 'interface' || name === 'skip-interface') {
    const patterns = argument
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    if (patterns.length === 0)
      throw new UsageError(variable, value, `${name} needs regular expressions: ${name}=REGEX[,REGEX…]`);
    const compiled = patterns.map((p) => {
      try {
        return new RegExp(p);
      } catch (error) {
        throw new UsageError(
          variable,
          value,
          `${JSON.stringify(p)} is not a regular expression (${errorMessage(error)})`,
        );
      }
    });
    return { kind: name, patterns: compiled };
  }
  throw new UsageError(
    variable,
    value,
    'expected first-found, can-reach=DEST, interface=REGEX or skip-interface=REGEX',
  );
}

/** Addresses calico-node would never announce as a node's: loopback, link-local, multicast, unspecified. */
function usable(parsed: IpAddress): boolean {
  if (parsed.family === 4) {
    const first = Number(parsed.value >> 24n);
    const second = Number((parsed.value >> 16n) & 0xffn);
    return first !== 127 && first !== 0 && first < 224 && !(first === 169 && second === 254);
  }
  const top = parsed.value >> 112n;
  return parsed.value > 1n && (top & 0xffc0n) !== 0xfe80n && (top & 0xff00n) !== 0xff00n;
}

export interface DetectedAddress {
  readonly address: IpAddress;
  /** Where it was found (`eth0`, or `route to 10.0.0.1`), for the log line. */
  readonly source: string;
  /** Its prefix length on the interface, when known. */
  readonly prefixLength?: number;
}

function firstUsable(
  interfaces: readonly HostInterface[],
  family: AddressFamily,
  accept: (name: string) => boolean,
): DetectedAddress | undefined {
  for (const iface of interfaces) {
    if (!accept(iface.name) || EXCLUDED_INTERFACES.some((re) => re.test(iface.name))) continue;
    for (const entry of iface.addresses) {
      if (entry.family !== family) continue;
      const parsed = parseIpAddress(entry.address, family);
      if (parsed.ok && usable(parsed.value))
        return { address: parsed.value, source: iface.name, prefixLength: entry.prefixLength };
    }
  }
  return undefined;
}

/** The host's IPv4 or IPv6 address by `method`; AutodetectionError when there is none. */
export async function autodetectAddress(
  method: AutodetectionMethod,
  family: AddressFamily,
  host: HostAddresses,
): Promise<DetectedAddress> {
  const what = `IPv${family} autodetection`;
  if (method.kind === 'can-reach') {
    let local: string;
    try {
      local = await host.sourceAddressToward(method.destination, family);
    } catch (error) {
      throw new AutodetectionError(`${what} (can-reach=${method.destination}): no route: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    // An unconnected socket (no route: the kernel left it unbound) reports the unspecified address.
    if (local === '::' || local === '0.0.0.0')
      throw new AutodetectionError(`${what} (can-reach=${method.destination}): no route to ${method.destination}`);
    const parsed = parseIpAddress(local, family);
    if (!parsed.ok || !usable(parsed.value))
      throw new AutodetectionError(
        `${what} (can-reach=${method.destination}): the source address ${local} is not usable`,
      );
    const owner = host.interfaces().find((i) => i.addresses.some((a) => a.address === local));
    const prefixLength = owner?.addresses.find((a) => a.address === local)?.prefixLength;
    return {
      address: parsed.value,
      source: `route to ${method.destination}`,
      ...(prefixLength !== undefined ? { prefixLength } : {}),
    };
  }
  const interfaces = host.interfaces();
  const accept =
    method.kind === 'interface'
      ? (name: string) => method.patterns.some((re) => re.test(name))
      : method.kind === 'skip-interface'
        ? (name: string) => !method.patterns.some((re) => re.test(name))
        : () => true;
  const found = firstUsable(interfaces, family, accept);
  if (found !== undefined) return found;
  const described =
    method.kind === 'first-found' ? 'first-found' : `${method.kind}=${method.patterns.map((p) => p.source).join(',')}`;
  const seen = interfaces.map((i) => i.name).join(', ') || 'none';
  throw new AutodetectionError(
    `${what} (${described}): no usable IPv${family} address on a matching interface (interfaces up: ${seen})`,
  );
}

/**
 * The running host, as calico-node reads it: interfaces that are up (os.networkInterfaces), routes via a UDP connect.
 */
export const systemHostAddresses: HostAddresses = {
  interfaces() {
    return Object.entries(networkInterfaces()).map(([name, entries]) => ({
      name,
      addresses: (entries ?? []).map((e) => ({
        address: e.address.replace(/%.*$/, ''),
        family: e.family === 'IPv6' ? 6 : 4,
        prefixLength: Number(e.cidr?.split('/')[1] ?? (e.family === 'IPv6' ? 128 : 32)),
      })),
    }));
  },
  sourceAddressToward(destination, family) {
    // connect() on a UDP socket only asks the kernel for a route: no packet leaves the host.
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    return new Promise<string>((resolve, reject) => {
      socket.once('error', (error) => {
        socket.close();
        reject(error);
      });
      socket.connect(53, destination, () => {
        const { address } = socket.address();
        socket.close();
        resolve(address);
      });
    });
  },
};

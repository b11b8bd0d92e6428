import { parseBgpAddress, type AddressFamily, type IpAddress } from '../model/address.js';
import { parseAsNumber } from '../model/asNumber.js';
import { parseCidr, type Cidr } from '../model/cidr.js';
import {
  autodetectAddress,
  parseAutodetectionMethod,
  type AutodetectionMethod,
  type DetectedAddress,
  type HostAddresses,
} from './addressAutodetection.js';
import { envValue } from './commonOptions.js';
import { UsageError } from './usageError.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A node's address as calico-node took it from `IP` / `IP6` (or --ip / --ip6): an address, `autodetect`
 * (with IP_AUTODETECTION_METHOD / IP6_AUTODETECTION_METHOD), `none` (IPv6 only: no IPv6 BGP), or unset.
 */
export type AddressSetting =
  | { readonly kind: 'unset' }
  | { readonly kind: 'none' }
  | { readonly kind: 'address'; readonly address: IpAddress }
  | { readonly kind: 'autodetect'; readonly method: AutodetectionMethod; readonly methodVariable: string };

const VARIABLE = { 4: 'IP', 6: 'IP6' } as const;
const FLAG = { 4: '--ip', 6: '--ip6' } as const;

/** Where the family's setting comes from: the flag, else the variable (empty = unset). */
export function addressArgument(
  family: AddressFamily,
  flag: string | undefined,
  env: Env,
): { readonly argument: string; readonly value: string | undefined } {
  if (flag !== undefined) return { argument: FLAG[family], value: flag };
  return { argument: VARIABLE[family], value: envValue(env, VARIABLE[family]) };
}

export function parseAddressSetting(family: AddressFamily, flag: string | undefined, env: Env): AddressSetting {
  const { argument, value } = addressArgument(family, flag, env);
  if (value === undefined || value === '') return { kind: 'unset' };
  if (value === 'autodetect') {
    const methodVariable = `${VARIABLE[family]}_AUTODETECTION_METHOD`;
    return {
      kind: 'autodetect',
      method: parseAutodetectionMethod(methodVariable, env[methodVariable]),
      methodVariable,
    };
  }
  if (value === 'none') {
    if (family === 4)
      throw new UsageError(
        argument,
        value,
        "birdwatch needs the node's IPv4 address (BIRD's router id): give an address or autodetect",
      );
    return { kind: 'none' };
  }
  // The model's own check: an address BIRD cannot peer with (link-local, multicast, …) is refused here too.
  const parsed = parseBgpAddress(value, family);
  if (!parsed.ok)
    throw new UsageError(argument, value, `${parsed.reason}; or autodetect${family === 6 ? ', or none' : ''}`);
  return { kind: 'address', address: parsed.value };
}

/** --as, else AS (empty = unset). */
export function parseAsSetting(flag: string | undefined, env: Env): number | undefined {
  const [argument, value] = flag !== undefined ? ['--as', flag] : ['AS', envValue(env, 'AS')];
  if (value === undefined) return undefined;
  const parsed = parseAsNumber(value);
  if (!parsed.ok) throw new UsageError(argument, value, parsed.reason);
  return parsed.value;
}

/** The IPv4 network an autodetected address sits in (`network_v4`, for IPIP cross-subnet), when its prefix is known. */
export function networkOf(detected: DetectedAddress): Cidr | undefined {
  if (detected.address.family !== 4 || detected.prefixLength === undefined) return undefined;
  const bits = BigInt(detected.prefixLength);
  const network = (detected.address.value >> (32n - bits)) << (32n - bits);
  const text = [24n, 16n, 8n, 0n].map((shift) => String((network >> shift) & 0xffn)).join('.');
  const parsed = parseCidr(`${text}/${detected.prefixLength}`, 4);
  return parsed.ok ? parsed.value : undefined;
}

/** One resolved address and, when autodetected, how (for the command's output). */
export interface ResolvedAddress {
  readonly address: IpAddress;
  readonly detected?: DetectedAddress;
  readonly note?: string;
}

/** Resolves an address or autodetect setting (I/O only for autodetect); undefined for unset and none. */
export async function resolveAddressSetting(
  family: AddressFamily,
  setting: AddressSetting,
  host: HostAddresses,
): Promise<ResolvedAddress | undefined> {
  if (setting.kind === 'address') return { address: setting.address };
  if (setting.kind !== 'autodetect') return undefined;
  const detected = await autodetectAddress(setting.method, family, host);
  const method = setting.method.kind === 'first-found' ? 'first-found' : `${setting.methodVariable}`;
  return {
    address: detected.address,
    detected,
    note: `IPv${family} address ${detected.address.text} autodetected (${method}) on ${detected.source}`,
  };
}

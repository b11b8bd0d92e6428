import { parseBgpAddress, parseIpAddress, type AddressFamily, type IpAddress } from '../model/address.js';
import { parseAsNumber } from '../model/asNumber.js';
import { parseCidr, type Cidr } from '../model/cidr.js';
import { parseClusterId } from '../model/encodings.js';
import { parseBirdLogLevel, type BirdLogLevel } from '../model/birdLogLevel.js';
import { parseNodeName } from '../model/names.js';
import type { Validated } from '../model/result.js';
import { UsageError } from './usageError.js';

/** Operator arguments → typed values; a bad one is a UsageError naming the argument (exit 2, nothing written). */
function required<T>(argument: string, value: string, result: Validated<T>): T {
  if (!result.ok) throw new UsageError(argument, value, result.reason);
  return result.value;
}

/** Any address (to name an entry to remove: one written before it was refused must still be removable). */
export const ipArgument = (argument: string, value: string, family?: AddressFamily): IpAddress =>
  required(argument, value, parseIpAddress(value, family));

/** An address to write as a peer, reflector or node address: one BIRD can use (the model's own check). */
export const bgpAddressArgument = (argument: string, value: string, family?: AddressFamily): IpAddress =>
  required(argument, value, parseBgpAddress(value, family));

export const cidrArgument = (argument: string, value: string, family?: AddressFamily): Cidr =>
  required(argument, value, parseCidr(value, family));

export const asArgument = (argument: string, value: string): number => required(argument, value, parseAsNumber(value));

export const nodeNameArgument = (argument: string, value: string): string =>
  required(argument, value, parseNodeName(value));

export const logLevelArgument = (argument: string, value: string): BirdLogLevel =>
  required(argument, value, parseBirdLogLevel(value));

export const clusterIdArgument = (argument: string, value: string): string => {
  const parsed = parseClusterId(value);
  if (!parsed.ok) throw new UsageError(argument, value, `cluster id ${parsed.reason}`);
  return parsed.value;
};

/**
 * calicoctl's `<IP> as <AS>`: the middle word must be the literal `as`. A missing `as` (`add 172.17.8.1 64567`)
 * gets the corrected command as a hint.
 */
export function peerAsArguments(
  command: string,
  ip: string | undefined,
  word: string | undefined,
  as: string | undefined,
): { ip: string; as: string } {
  if (ip === undefined) throw new UsageError('IP', undefined, `missing; usage: birdwatch ${command} <IP> as <AS>`);
  if (word === undefined) throw new UsageError('AS', undefined, `missing; usage: birdwatch ${command} ${ip} as <AS>`);
  if (as === undefined) {
    if (word === 'as')
      throw new UsageError('AS', undefined, `missing after "as"; usage: birdwatch ${command} ${ip} as <AS>`);
    throw new UsageError(
      'as',
      undefined,
      `the keyword "as" is missing before the AS number; did you mean: birdwatch ${command} ${ip} as ${word}`,
    );
  }
  if (word !== 'as')
    throw new UsageError(
      'as',
      word,
      `expected the keyword "as" between the address and the AS number; did you mean: birdwatch ${command} ${ip} as ${as}`,
    );
  return { ip, as };
}

/** `--ipv4` / `--ipv6` filters of the show commands: neither or both → both families. */
export function familiesOf(flags: Readonly<{ ipv4?: boolean; ipv6?: boolean }>): AddressFamily[] {
  if (flags.ipv4 === true && flags.ipv6 !== true) return [4];
  if (flags.ipv6 === true && flags.ipv4 !== true) return [6];
  return [4, 6];
}

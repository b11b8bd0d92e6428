import { familyBits, formatIPv4, formatIPv6, parseIpAddress, type AddressFamily } from './address.js';
import { accept, refuse, type Validated } from './result.js';

/** A validated network prefix with no host bits set; `text` is canonical (`192.168.0.0/16`, `fd00:1::/48`). */
export interface Cidr {
  readonly family: AddressFamily;
  readonly network: bigint;
  readonly prefixLength: number;
  readonly text: string;
}

export function parseCidr(text: string, family?: AddressFamily): Validated<Cidr> {
  const slash = text.indexOf('/');
  if (slash < 0) return refuse('not a CIDR (expected ADDRESS/LENGTH)');
  const address = parseIpAddress(text.slice(0, slash), family);
  if (!address.ok) return refuse(`not a CIDR: ${address.reason}`);
  const lengthText = text.slice(slash + 1);
  const bits = familyBits(address.value.family);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
    return refuse(`prefix length must be 0-${bits}`);
  }
  const prefixLength = Number(lengthText);
  const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
  if ((address.value.value & hostMask) !== 0n) {
    const network = address.value.value & ~hostMask;
    const networkText = address.value.family === 4 ? formatIPv4(network) : formatIPv6(network);
    return refuse(`host bits are set (did you mean ${networkText}/${prefixLength}?)`);
  }
  const canonical = `${address.value.text}/${prefixLength}`;
  return accept({ family: address.value.family, network: address.value.value, prefixLength, text: canonical });
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefixLength < outer.prefixLength) return false;
  const bits = familyBits(outer.family);
  const shift = BigInt(bits - outer.prefixLength);
  return inner.network >> shift === outer.network >> shift;
}

export const cidrsOverlap = (a: Cidr, b: Cidr): boolean => cidrContains(a, b) || cidrContains(b, a);

export function compareCidrs(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.prefixLength - b.prefixLength;
}

import { BlockList } from 'node:net';
import fc from 'fast-check';

/**
 * The fuzz oracle's own idea of the addresses BIRD cannot peer with, written independently of the model
 * (src/model/address.ts): Node's BlockList, one per family (an IPv4-mapped IPv6 rule would otherwise match
 * every IPv4 address). The classes are the sweep's (scripts/sweep-addresses.ts).
 */
const refusedV4 = new BlockList();
refusedV4.addAddress('0.0.0.0', 'ipv4'); // unspecified: bird -p "Neighbor must be configured"
refusedV4.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast: no TCP
refusedV4.addAddress('255.255.255.255', 'ipv4'); // limited broadcast: no TCP
const refusedV6 = new BlockList();
refusedV6.addAddress('::', 'ipv6'); // unspecified
refusedV6.addSubnet('fe80::', 10, 'ipv6'); // link-local: bird6 -p needs an interface
refusedV6.addSubnet('ff00::', 8, 'ipv6'); // multicast
refusedV6.addSubnet('::ffff:0:0', 96, 'ipv6'); // IPv4-mapped

export const oracleRefusesAddress = (text: string, family: 4 | 6): boolean =>
  family === 4 ? refusedV4.check(text, 'ipv4') : refusedV6.check(text, 'ipv6');

export interface SpecialAddress {
  readonly family: 4 | 6;
  /** As written in the datastore. */
  readonly text: string;
  /** What BIRD's configuration must show if it is used (only needed for addresses the oracle keeps). */
  readonly canonical: string;
}

const octet = fc.nat({ max: 255 });
const hex = (max: number): fc.Arbitrary<string> => fc.nat({ max }).map((n) => n.toString(16));

/** Addresses at and around the edges of the refused classes, plus random ones inside them. */
export const specialAddressArb: fc.Arbitrary<SpecialAddress> = fc.oneof(
  fc.constantFrom<SpecialAddress>(
    ...[
      '0.0.0.0',
      '0.0.0.1',
      '0.1.2.3',
      '127.0.0.2',
      '169.254.1.1',
      '223.255.255.255',
      '224.0.0.0',
      '224.0.0.5',
      '239.255.255.255',
      '240.0.0.0',
      '255.255.255.254',
      '255.255.255.255',
      '192.0.2.7',
      '100.64.0.1',
    ].map((text) => ({ family: 4 as const, text, canonical: text })),
    ...(
      [
        ['::', '::'],
        ['0:0:0:0:0:0:0:0', '::'],
        ['::1', '::1'],
        ['fe7f:ffff::1', 'fe7f:ffff::1'],
        ['fe80::1', 'fe80::1'],
        ['FE80::7', 'fe80::7'],
        ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
        ['fec0::1', 'fec0::1'],
        ['ff00::', 'ff00::'],
        ['ff02::1', 'ff02::1'],
        ['::ffff:10.0.0.9', '::ffff:10.0.0.9'],
        ['::ffff:a00:9', '::ffff:10.0.0.9'],
        ['::fffe:a00:9', '::fffe:a00:9'],
        ['::10.0.0.9', '::a00:9'],
        ['2001:db8::7', '2001:db8::7'],
        ['64:ff9b::1', '64:ff9b::1'],
      ] as const
    ).map(([text, canonical]) => ({ family: 6 as const, text, canonical })),
  ),
  fc
    .tuple(fc.integer({ min: 224, max: 239 }), octet, octet, octet)
    .map(([a, b, c, d]) => ({ family: 4 as const, text: `${a}.${b}.${c}.${d}`, canonical: `${a}.${b}.${c}.${d}` })),
  fc
    .tuple(fc.integer({ min: 0xfe80, max: 0xfebf }), hex(0xffff), hex(0xffff))
    .map(([a, b, c]) => ({ family: 6 as const, text: `${a.toString(16)}::${b}:${c}`, canonical: '' })),
  fc
    .tuple(fc.integer({ min: 0xff00, max: 0xffff }), hex(0xffff))
    .map(([a, b]) => ({ family: 6 as const, text: `${a.toString(16)}::${b}`, canonical: '' })),
  fc
    .tuple(octet, octet, octet, octet)
    .map(([a, b, c, d]) => ({ family: 6 as const, text: `::ffff:${a}.${b}.${c}.${d}`, canonical: '' })),
);

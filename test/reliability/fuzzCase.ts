import fc from 'fast-check';
import { keys } from '../../src/model/keys.js';
import { oracleRefusesAddress, specialAddressArb, type SpecialAddress } from './addressClasses.js';
import { BIRD_LOG_LEVELS } from '../../src/model/birdLogLevel.js';

/**
 * Fuzz cases for the keyspace → model → render path. A case is a structured description of a keyspace:
 * entries that are valid by construction (so the test knows what the output must contain) and hostile entries
 * that are invalid by construction (each carries a fragment no field accepts: `; }`, `"`, newlines, control
 * characters, `include "/etc/shadow";`, unicode …, or a wrong JSON type, a key of the wrong shape, a bad node
 * name). Small address spaces make duplicate peers, overlapping pools and repeated blocks frequent.
 */

export const NODE = 'me';

export type Family = 4 | 6;

interface AsValue {
  readonly value: number;
  /** How it is written (asplain or asdot). */
  readonly text: string;
}

interface Addr {
  /** Canonical text (what BIRD's configuration must show). */
  readonly canonical: string;
  /** How it is written in the datastore (an equivalent spelling for IPv6). */
  readonly text: string;
}

interface ValidNode {
  readonly name: string;
  readonly v4: Addr | undefined;
  readonly v6: Addr | undefined;
  readonly as: AsValue | undefined;
}

interface ValidPeer {
  readonly family: Family;
  readonly address: Addr;
  /** Spelling of the address in the key (may differ from the JSON's for IPv6). */
  readonly keyText: string;
  readonly as: AsValue;
  /** as_num as a JSON integer instead of a string (parseAsNumber accepts both). */
  readonly asJsonNumber: boolean;
  readonly pythonStyle: boolean;
}

interface ValidPool {
  readonly family: Family;
  readonly network: bigint;
  readonly length: number;
  readonly canonical: string;
  readonly ipip: boolean;
  readonly crossSubnet: boolean;
  readonly masquerade: boolean | undefined;
  readonly disabled: boolean | undefined;
  /** An optional field with a value no reader accepts: it costs that field (diagnosed), never the pool. */
  readonly badField: { readonly name: string; readonly value: unknown } | undefined;
}

interface ValidBlock {
  readonly family: Family;
  readonly canonical: string;
  readonly keyText: string;
}

interface ValidFilter {
  readonly family: Family;
  readonly name: string;
  readonly body: string;
}

interface ValidReflector {
  readonly family: Family;
  readonly address: Addr;
  readonly clusterId: string | undefined;
}

/** Whether a hostile entry must get a diagnostic: always, only when the node has a valid IPv6 address
 * (IPv6 peers are not looked at otherwise), or never (keys this node does not read: other hosts' peers…). */
type DiagnoseRule = 'always' | 'if-v6' | 'never';

export interface HostileEntry {
  readonly key: string;
  readonly value: string;
  readonly diagnose: DiagnoseRule;
  readonly what: string;
}

export interface FuzzCase {
  readonly ownV4: Addr;
  readonly ownV6: Addr | undefined;
  readonly ownAs: AsValue | undefined;
  readonly ownLogLevel: string | undefined;
  readonly ownNetwork: string | undefined;
  readonly globalAs: AsValue | undefined;
  readonly mesh: { readonly enabled: boolean; readonly text: string } | undefined;
  readonly globalLogLevel: string | undefined;
  readonly nodes: readonly ValidNode[];
  readonly globalPeers: readonly ValidPeer[];
  readonly nodePeers: readonly ValidPeer[];
  readonly pools: readonly ValidPool[];
  readonly blocks: readonly ValidBlock[];
  readonly filters: readonly ValidFilter[];
  readonly reflectors: readonly ValidReflector[];
  readonly hostile: readonly HostileEntry[];
  readonly ipip: 'off' | 'krt-tunnel';
}

// ------------------------------------------------------------------------------------------------
// Hostile text
// ------------------------------------------------------------------------------------------------

/** Marker carried by hostile values, so a leak is easy to spot in a rendered file. */
const MARKER = 'qqinj';

/** Every fragment has at least one character that no validated field accepts. */
export const FRAGMENTS: readonly string[] = [
  '; }',
  '"',
  'include "/etc/shadow";',
  '\n',
  '\r\n',
  `}; protocol static ${MARKER} { }`,
  '\u0000',
  '\u001b[31m',
  '\u202e',
  '\u2028',
  '𝔟𝔦𝔯𝔡',
  `${MARKER} `,
  ' ',
  '\t',
  '{',
  '#',
  `/* ${MARKER} */`,
  '\\',
  "'",
  `$(${MARKER})`,
  '%s%n',
  '\ufeff',
];

/** Strings an injection would leave in a rendered file. */
export const LEAK_MARKERS: readonly string[] = [
  MARKER,
  '/etc/shadow',
  'protocol static ' + MARKER,
  '𝔟𝔦𝔯𝔡',
  '\u001b',
  '\u0000',
  '\u202e',
];

const fragment = fc.constantFrom(...FRAGMENTS);

/** A mutation of a valid text that no validator can accept (it always carries a fragment). */
export const hostileText = (valid: string): fc.Arbitrary<string> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.nat({ max: valid.length }), fragment)
        .map(([at, f]) => valid.slice(0, at) + f + valid.slice(at)),
    },
    { weight: 2, arbitrary: fragment },
    { weight: 2, arbitrary: fc.tuple(fc.string({ unit: 'binary', maxLength: 12 }), fragment).map(([s, f]) => s + f) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(fragment, { minLength: 1, maxLength: 6 }), fc.constantFrom(valid, ''))
        .map(([fs, v]) => v + fs.join('')),
    },
    // Huge values: the model must refuse them without rendering a byte of them.
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: 1_000, max: 70_000 }), fragment).map(([n, f]) => valid + '9'.repeat(n) + f),
    },
  );

/** A key segment: '/' inside it makes extra path segments (a malformed key), which must be diagnosed too. */
const hostileSegment = (valid: string): fc.Arbitrary<string> => hostileText(valid);

/** JSON values of the wrong type for a field that wants a string. */
const wrongType = fc.constantFrom<unknown>(
  167772165,
  1.5,
  -1,
  true,
  false,
  null,
  [],
  ['10.0.0.5'],
  { ip: '10.0.0.5' },
  {},
);

const notJson = fc.tuple(fragment, fc.string({ maxLength: 8 })).map(([f, s]) => `${MARKER}${f}${s}`);
const nonObjectJson = fc.constantFrom(
  '[]',
  'null',
  `"${MARKER}"`,
  '12',
  'true',
  '[{"ip":"10.0.0.5","as_num":"64512"}]',
  '"{\\"ip\\":\\"10.0.0.5\\"}"',
);

// ------------------------------------------------------------------------------------------------
// Valid values
// ------------------------------------------------------------------------------------------------

const ADDRESS_SPACE = 24;

const v6Spellings = (hex: string): string[] => [
  `fd00::${hex}`,
  `FD00::${hex.toUpperCase()}`,
  `fd00:0:0:0:0:0:0:${hex}`,
  `fd00:0000::${hex}`,
];

const addrArb = (family: Family): fc.Arbitrary<Addr> =>
  family === 4
    ? fc.integer({ min: 1, max: ADDRESS_SPACE }).map((n) => ({ canonical: `10.0.0.${n}`, text: `10.0.0.${n}` }))
    : fc.tuple(fc.integer({ min: 1, max: ADDRESS_SPACE }), fc.nat({ max: 3 })).map(([n, s]) => {
        const hex = n.toString(16);
        return { canonical: `fd00::${hex}`, text: v6Spellings(hex)[s]! };
      });

const respell = (addr: Addr, pick: number): string => {
  if (!addr.canonical.includes(':')) return addr.canonical;
  const hex = addr.canonical.slice('fd00::'.length);
  return v6Spellings(hex)[pick % 4]!;
};

const asArb: fc.Arbitrary<AsValue> = fc.oneof(
  fc.integer({ min: 1, max: 4294967295 }).map((v) => ({ value: v, text: String(v) })),
  fc.integer({ min: 64512, max: 65534 }).map((v) => ({ value: v, text: String(v) })),
  fc
    .tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }))
    .filter(([h, l]) => h * 65536 + l >= 1)
    .map(([h, l]) => ({ value: h * 65536 + l, text: `${h}.${l}` })),
);

const nodeNameArb = (i: number): fc.Arbitrary<string> =>
  fc.constantFrom(`n${i}`, `node-${i}.example.com`, `Node_${i}`, `x${i}.`, `${i}n`, `z${'a'.repeat(240)}${i}`);

const nodeArb = (i: number): fc.Arbitrary<ValidNode> =>
  fc.record({
    name: nodeNameArb(i),
    v4: fc.option(addrArb(4), { nil: undefined, freq: 4 }),
    v6: fc.option(addrArb(6), { nil: undefined, freq: 2 }),
    as: fc.option(asArb, { nil: undefined, freq: 2 }),
  });

const peerArb = (family: Family): fc.Arbitrary<ValidPeer> =>
  fc
    .record({
      address: addrArb(family),
      keySpelling: fc.nat({ max: 3 }),
      as: asArb,
      asJsonNumber: fc.boolean(),
      pythonStyle: fc.boolean(),
    })
    .map((p) => ({
      family,
      address: p.address,
      keyText: respell(p.address, p.keySpelling),
      as: p.as,
      asJsonNumber: p.asJsonNumber,
      pythonStyle: p.pythonStyle,
    }));

const formatV4 = (value: bigint): string => [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');

const badPoolField = (family: Family): fc.Arbitrary<{ name: string; value: unknown }> =>
  fc.oneof(
    fc
      .oneof(
        hostileText('tunl0'),
        fc.constantFrom<unknown>('a'.repeat(16), 5, true, ['tunl0'], '..', ...(family === 6 ? ['tunl0'] : [])),
      )
      .map((value) => ({ name: 'ipip', value })),
    fc
      .oneof(hostileText('always'), fc.constantFrom<unknown>('never', 'Always', 5, null))
      .map((value) => ({ name: 'ipip_mode', value })),
    fc
      .tuple(fc.constantFrom('masquerade', 'disabled', 'ipam'), fc.constantFrom<unknown>('true', 1, 0, null, 'yes', []))
      .map(([name, value]) => ({ name, value })),
  );

const poolArb = (family: Family): fc.Arbitrary<ValidPool> => {
  const flags = fc.record({
    ipip: fc.boolean(),
    crossSubnet: fc.boolean(),
    masquerade: fc.option(fc.boolean(), { nil: undefined }),
    disabled: fc.option(fc.boolean(), { nil: undefined }),
    badField: fc.option(badPoolField(family), { nil: undefined, freq: 3 }),
  });
  if (family === 4) {
    return fc
      .tuple(fc.nat({ max: 3 }), fc.nat({ max: 255 }), fc.constantFrom(14, 15, 16, 20, 24), flags)
      .map(([a, b, length, f]) => {
        const raw = (10n << 24n) | (BigInt(a) << 16n) | (BigInt(b) << 8n);
        const mask = ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - length)) - 1n);
        const network = raw & mask;
        return {
          family,
          network,
          length,
          canonical: `${formatV4(network)}/${length}`,
          ...f,
          ipip: f.ipip,
          crossSubnet: f.ipip && f.crossSubnet,
        };
      });
  }
  return fc
    .tuple(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.constantFrom(32, 48, 64),
      flags,
    )
    .map(([a, b, c, length, f]) => {
      const groups = length === 32 ? [a] : length === 48 ? [a, b] : [a, b, c];
      const canonical = `fd00:${groups.join(':')}::/${length}`;
      let network = 0xfd00n << 112n;
      groups.forEach((g, i) => (network |= BigInt(g) << BigInt(96 - 16 * i)));
      return {
        family,
        network,
        length,
        canonical,
        ipip: false,
        crossSubnet: false,
        masquerade: f.masquerade,
        disabled: f.disabled,
        badField: f.badField,
      };
    });
};

const blockArb = (family: Family): fc.Arbitrary<ValidBlock> =>
  family === 4
    ? fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 1 }), fc.nat({ max: 3 })).map(([a, b, c]) => {
        const canonical = `10.${a}.${b}.${c * 64}/26`;
        return { family, canonical, keyText: canonical };
      })
    : fc.tuple(fc.integer({ min: 1, max: 2 }), fc.nat({ max: 3 }), fc.boolean()).map(([a, c, expanded]) => {
        const last = (c * 64).toString(16);
        const canonical = c === 0 ? `fd00:${a}::/122` : `fd00:${a}::${last}/122`;
        const keyText = expanded ? `fd00:${a}:0:0:0:0:0:${last}/122` : canonical;
        return { family, canonical, keyText };
      });

/** Custom filter bodies BIRD accepts; braces and quotes inside strings and comments test the lexical check. */
const FILTER_BODIES: Readonly<Record<Family, readonly string[]>> = {
  4: [
    '  if net ~ 10.99.0.0/16 then reject;',
    '  if ( net = 10.98.0.0/24 ) then { reject; }',
    '  /* } { " */ if net ~ 10.97.0.0/16 then reject;',
    '  if bgp_path.len > 100 then reject; # "}" {',
    '  if net ~ [ 10.96.0.0/16+ ] then {\n    bgp_community.add((65000, 100));\n  }',
    '  if proto = "Global_10_0_0_1" then accept; # quoted "}"',
  ],
  6: [
    '  if net ~ fd00:99::/32 then reject;',
    '  /* } */ if ( net = fd00:98::/48 ) then { reject; }',
    '  if bgp_path.len > 50 then reject; # }',
  ],
};

const filterArb = (family: Family, i: number): fc.Arbitrary<ValidFilter> =>
  fc
    .record({
      name: fc.constantFrom(`f${i}`, `site.filter-${i}_x`, `${i}`),
      body: fc.constantFrom(...FILTER_BODIES[family]),
    })
    .map((f) => ({ family, ...f }));

const clusterIdArb = fc.oneof(
  fc.integer({ min: 1, max: 9 }).map((n) => `1.0.0.${n}`),
  fc.integer({ min: 1, max: 4294967295 }).map(String),
);

const reflectorArb = (family: Family): fc.Arbitrary<ValidReflector> =>
  fc
    .record({ address: addrArb(family), clusterId: fc.option(clusterIdArb, { nil: undefined }) })
    .map((r) => ({ family, ...r }));

const indexed = <T>(make: (i: number) => fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> =>
  fc
    .integer({ min: 0, max })
    .chain((n) => (n === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: n }, (_, i) => make(i)))));

// ------------------------------------------------------------------------------------------------
// Hostile entries: one generator per field a datastore string can reach
// ------------------------------------------------------------------------------------------------

const peerJson = (ip: unknown, asNum: unknown): string =>
  JSON.stringify(asNum === undefined ? { ip } : { ip, as_num: asNum });

const hostileAs: fc.Arbitrary<unknown> = fc.oneof(
  hostileText('64512'),
  fc.constantFrom<unknown>(
    '0',
    '4294967296',
    '-5',
    '1.65536',
    '65536.1',
    '01',
    '0.0',
    true,
    null,
    [],
    {},
    1.5,
    -1,
    0,
    4294967296,
  ),
);

/** For plain-string AS keys: a number such as 1.5 would be written "1.5", a valid asdot AS. */
const hostileAsText: fc.Arbitrary<string> = hostileAs
  .filter((v) => typeof v !== 'number')
  .map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));

const hostilePeerValue = (family: Family, keyAddr: Addr): fc.Arbitrary<string> => {
  const other = family === 4 ? '10.0.0.250' : 'fd00::250';
  return fc.oneof(
    notJson,
    nonObjectJson,
    hostileText(keyAddr.text).map((ip) => peerJson(ip, '64512')),
    wrongType.map((ip) => peerJson(ip, '64512')),
    hostileAs.map((as) => peerJson(keyAddr.text, as)),
    fc.constant(peerJson(keyAddr.text, undefined)),
    fc.constant(JSON.stringify({ as_num: '64512' })),
    fc.constant(peerJson(other, '64512')),
    fc.constant(peerJson(family === 4 ? 'fd00::5' : '10.0.0.5', '64512')),
  );
};

interface HostileContext {
  readonly validNodeNames: readonly string[];
}

const hostileGlobal: fc.Arbitrary<HostileEntry> = fc.oneof(
  hostileText('64512').map((v) => ({
    key: keys.globalAsNumber,
    value: v,
    diagnose: 'always' as const,
    what: 'global as_num',
  })),
  hostileAsText.map((v) => ({
    key: keys.globalAsNumber,
    value: v,
    diagnose: 'always' as const,
    what: 'global as_num',
  })),
  fc
    .oneof(
      notJson,
      nonObjectJson,
      wrongType.filter((e) => typeof e !== 'boolean').map((e) => JSON.stringify({ enabled: e })),
      fc.constant('{"enabled":"true"}'),
      hostileText('true').map((e) => JSON.stringify({ enabled: e })),
      fc.constant('{}'),
    )
    .map((v) => ({
      key: keys.nodeMesh,
      value: v,
      diagnose: 'always' as const,
      what: 'node_mesh',
    })),
  hostileText('info').map((v) => ({
    key: keys.globalLogLevel,
    value: v,
    diagnose: 'always' as const,
    what: 'global loglevel',
  })),
);

const hostileOwn: fc.Arbitrary<HostileEntry> = fc.oneof(
  hostileAsText.map((v) => ({
    key: keys.hostAsNumber(NODE),
    value: v,
    diagnose: 'always' as const,
    what: 'own as_num',
  })),
  hostileText('debug').map((v) => ({
    key: keys.hostLogLevel(NODE),
    value: v,
    diagnose: 'always' as const,
    what: 'own loglevel',
  })),
  fc
    .oneof(hostileText('10.0.0.0/24'), fc.constantFrom('10.0.0.1/24', '10.0.0.0/33', 'fd00::/64', '10.0.0.0'))
    .map((v) => ({ key: keys.hostNetwork(NODE), value: v, diagnose: 'always' as const, what: 'own network_v4' })),
  fc
    .oneof(
      hostileText('fd00::1'),
      fc.constantFrom('10.0.0.1', 'fd00:::1', 'fd00::1::2', 'gd00::1', '1:2:3:4:5:6:7:8:9'),
    )
    .map((v) => ({ key: keys.hostAddress(NODE, 6), value: v, diagnose: 'always' as const, what: 'own ip_addr_v6' })),
  fc.tuple(fc.constantFrom<Family>(4, 6), fc.nat({ max: 1 })).chain(([f]) =>
    addrArb(f).chain((a) =>
      fc.oneof(
        hostilePeerValue(f, a).map((v) => ({
          key: keys.hostPeer(NODE, f, a.text),
          value: v,
          diagnose: f === 4 ? ('always' as const) : ('if-v6' as const),
          what: `own peer_v${f} value`,
        })),
        hostileSegment(a.text).map((ip) => ({
          key: keys.hostPeer(NODE, f, ip),
          value: peerJson(ip, '64512'),
          diagnose: f === 4 ? ('always' as const) : ('if-v6' as const),
          what: `own peer_v${f} key`,
        })),
      ),
    ),
  ),
  fc.constantFrom<Family>(4, 6).chain((f) =>
    blockArb(f).chain((b) =>
      fc
        .oneof(
          hostileSegment(b.canonical),
          fc.constant(
            f === 4
              ? b.canonical.replace(/\.(\d+)\/26$/, (_m, last: string) => `.${Number(last) + 1}/26`)
              : b.canonical.replace('/122', '/129'),
          ),
          fc.constant(f === 4 ? 'fd00::/122' : '10.0.0.0/26'),
          fc.constant(b.canonical.replace(/\/\d+$/, '')),
        )
        .map((cidr) => ({
          key: keys.block(NODE, f, cidr),
          value: '{}',
          diagnose: 'always' as const,
          what: `own block v${f}`,
        })),
    ),
  ),
);

const hostilePool: fc.Arbitrary<HostileEntry> = fc.constantFrom<Family>(4, 6).chain((f) =>
  poolArb(f).chain((p) => {
    const key = keys.pool(f, p.canonical);
    const hostBits =
      f === 4 ? p.canonical.replace(/^10\.(\d+)\.(\d+)\.\d+/, '10.$1.$2.1') : p.canonical.replace('::/', '::1/');
    const entries: fc.Arbitrary<HostileEntry>[] = [
      fc
        .oneof(notJson, nonObjectJson)
        .map((v) => ({ key, value: v, diagnose: 'always' as const, what: `pool v${f} not an object` })),
      hostileText(p.canonical).map((c) => ({
        key,
        value: JSON.stringify({ cidr: c }),
        diagnose: 'always' as const,
        what: `pool v${f} cidr`,
      })),
      wrongType.map((c) => ({
        key,
        value: JSON.stringify({ cidr: c }),
        diagnose: 'always' as const,
        what: `pool v${f} cidr type`,
      })),
      fc.constant({
        key: keys.pool(f, hostBits),
        value: JSON.stringify({ cidr: hostBits }),
        diagnose: 'always' as const,
        what: `pool v${f} host bits`,
      }),
      fc.constant({
        key,
        value: JSON.stringify({ cidr: f === 4 ? '10.200.0.0/16' : 'fd00:200::/48' }),
        diagnose: 'always' as const,
        what: `pool v${f} key mismatch`,
      }),
      hostileSegment(p.canonical).map((c) => ({
        key: keys.pool(f, c),
        value: JSON.stringify({ cidr: c }),
        diagnose: 'always' as const,
        what: `pool v${f} key`,
      })),
      // (A bad optional field is not hostile: it costs the field, not the pool — see ValidPool.badField.)
      fc.constant({
        key: keys.pool(f, f === 4 ? '10.0.0.0/33' : 'fd00::/129'),
        value: JSON.stringify({ cidr: f === 4 ? '10.0.0.0/33' : 'fd00::/129' }),
        diagnose: 'always' as const,
        what: `pool v${f} prefix length`,
      }),
    ];
    return fc.oneof(...entries);
  }),
);

const hostileGlobalPeer: fc.Arbitrary<HostileEntry> = fc.constantFrom<Family>(4, 6).chain((f) =>
  addrArb(f).chain((a) => {
    const diagnose = f === 4 ? ('always' as const) : ('if-v6' as const);
    return fc.oneof(
      hostilePeerValue(f, a).map((v) => ({
        key: keys.globalPeer(f, a.text),
        value: v,
        diagnose,
        what: `global peer_v${f} value`,
      })),
      hostileSegment(a.text).map((ip) => ({
        key: keys.globalPeer(f, ip),
        value: peerJson(ip, '64512'),
        diagnose,
        what: `global peer_v${f} key`,
      })),
    );
  }),
);

const hostileReflector: fc.Arbitrary<HostileEntry> = fc.constantFrom<Family>(4, 6).chain((f) =>
  addrArb(f).chain((a) =>
    fc.oneof(
      hostilePeerValue(f, a)
        .filter((v) => !v.includes('"ip":"' + a.text + '"'))
        .map((v) => ({
          key: keys.routeReflector(f, a.text),
          value: v,
          diagnose: 'always' as const,
          what: `rr_v${f} value`,
        })),
      // A bad optional field costs the field: the reflector is kept, the diagnostic names the key.
      fc
        .oneof(
          hostileText('1.0.0.1'),
          fc.constantFrom<unknown>(5, '1.0.0.256', 'fd00::1', true, [], '0', '0.0.0.0', '4294967296', '1.2'),
        )
        .map((c) => ({
          key: keys.routeReflector(f, a.text),
          value: JSON.stringify({ ip: a.text, cluster_id: c }),
          diagnose: 'always' as const,
          what: `rr_v${f} cluster_id`,
        })),
      hostileSegment(a.text).map((ip) => ({
        key: keys.routeReflector(f, ip),
        value: JSON.stringify({ ip }),
        diagnose: 'always' as const,
        what: `rr_v${f} key`,
      })),
    ),
  ),
);

/** Bodies the lexical check must refuse: each would reach outside custom_filters() or read a file. */
const REFUSED_BODIES: readonly string[] = [
  `} protocol static ${MARKER} { }`,
  `reject; } include "/etc/shadow"; {`,
  'include "/etc/shadow";',
  'INCLUDE "/etc/shadow";',
  `"${MARKER} unterminated`,
  `"a\n${MARKER}"`,
  `/* ${MARKER}`,
  'reject;\u0000',
  'reject;\u001b[31m',
  'reject;\r\n',
  '{ reject;',
  `if net ~ 10.0.0.0/8 then { reject; } } protocol static ${MARKER} {`,
  'reject; # }\n}',
  '   \n  ',
  '',
];

const hostileFilter: fc.Arbitrary<HostileEntry> = fc
  .tuple(fc.constantFrom<Family>(4, 6), fc.nat({ max: 50 }))
  .chain(([f, i]) =>
    fc.oneof(
      fc.constantFrom(...REFUSED_BODIES).map((body) => ({
        key: keys.customFilter(f, `bad${i}`),
        value: body,
        diagnose: 'always' as const,
        what: `custom filter v${f} body`,
      })),
      fc.integer({ min: 64 * 1024, max: 80 * 1024 }).map((n) => ({
        key: keys.customFilter(f, `huge${i}`),
        value: `# ${'x'.repeat(n)}\nreject; # ${MARKER}`,
        diagnose: 'always' as const,
        what: `custom filter v${f} size`,
      })),
      fc.oneof(hostileSegment(`f${i}`), fc.constant('n'.repeat(129))).map((name) => ({
        key: keys.customFilter(f, name),
        value: `  if net ~ ${f === 4 ? '10.99.0.0/16' : 'fd00:99::/32'} then reject; # ${MARKER}`,
        diagnose: 'always' as const,
        what: `custom filter v${f} name`,
      })),
    ),
  );

/** Names parseNodeName refuses (no '/': that would change which entry the key is). */
const hostileNodeName: fc.Arbitrary<string> = fc.oneof(
  hostileText('node').map((n) => n.replace(/\//g, '|')),
  fc.constantFrom('', '.hidden', '-dash', `a${'b'.repeat(253)}`, 'ünïcödé', 'a b', 'me '),
);

const hostileOtherHost = (context: HostileContext): fc.Arbitrary<HostileEntry[]> =>
  fc.oneof(
    // A valid name with a bad address or AS (a name of a valid node, or a host of its own).
    fc
      .tuple(fc.constantFrom(...context.validNodeNames, 'h1', 'h2', 'h3'), fc.constantFrom<Family>(4, 6))
      .chain(([name, f]) =>
        fc.oneof(
          hostileText(f === 4 ? '10.0.0.7' : 'fd00::7').map((v) => [
            { key: keys.hostAddress(name, f), value: v, diagnose: 'always' as const, what: `other ip_addr_v${f}` },
          ]),
          hostileAsText.map((v) => [
            { key: keys.hostAsNumber(name), value: v, diagnose: 'always' as const, what: 'other as_num' },
          ]),
        ),
      ),
    // A bad node name: every entry of that host is skipped, however valid it looks.
    fc.tuple(hostileNodeName, addrArb(4), addrArb(6), asArb, blockArb(4)).map(([name, v4, v6, as, block]) => [
      { key: keys.hostAddress(name, 4), value: v4.text, diagnose: 'always' as const, what: 'bad node name ip_addr_v4' },
      { key: keys.hostAddress(name, 6), value: v6.text, diagnose: 'always' as const, what: 'bad node name ip_addr_v6' },
      { key: keys.hostAsNumber(name), value: as.text, diagnose: 'always' as const, what: 'bad node name as_num' },
      {
        key: keys.hostPeer(name, 4, v4.text),
        value: peerJson(v4.text, as.text),
        diagnose: 'always' as const,
        what: 'bad node name peer',
      },
      {
        key: keys.block(name, 4, block.canonical),
        value: '{}',
        diagnose: 'always' as const,
        what: 'bad node name block',
      },
    ]),
  );

/** Keys with extra path segments inside directories birdwatch owns. */
const malformedKey: fc.Arbitrary<HostileEntry> = fc
  .constantFrom(
    `${keys.globalPeer(4, '10.0.0.5')}/extra`,
    `${keys.pool(4, '10.0.0.0/16')}/${MARKER}`,
    `${keys.routeReflector(4, '10.0.0.5')}/x`,
    `${keys.block(NODE, 4, '10.0.0.0/26')}/x`,
    `${keys.customFilter(4, 'a')}/b`,
    '/calico/bgp/v1/global/custom_filters/v5/x',
    `${keys.hostPeer(NODE, 4, '10.0.0.5')}/x`,
    '/calico/bgp/v1/global/peer_v4/10.0.0.0/26',
  )
  .map((key) => ({ key, value: `${MARKER}; }`, diagnose: 'always' as const, what: 'malformed key' }));

/** Entries this node does not read (other hosts' peers, blocks, log levels; unknown keys): never rendered. */
const noise: fc.Arbitrary<HostileEntry> = fc.tuple(fragment, fc.constantFrom<Family>(4, 6)).chain(([f, family]) =>
  fc.constantFrom<HostileEntry>(
    {
      key: `/calico/bgp/v1/global/${MARKER}`,
      value: `include "/etc/shadow";${f}`,
      diagnose: 'never',
      what: 'unknown global key',
    },
    { key: keys.hostLogLevel('h9'), value: `debug${f}`, diagnose: 'never', what: 'other host loglevel' },
    { key: keys.hostNetwork('h9'), value: `10.0.0.0/24${f}`, diagnose: 'never', what: 'other host network_v4' },
    {
      key: keys.hostPeer('h9', family, '10.0.0.5'),
      value: `${MARKER}${f}`,
      diagnose: 'never',
      what: 'other host peer',
    },
    {
      key: keys.block('h9', family, `10.0.0.0/26${f.replace(/\//g, '')}`),
      value: f,
      diagnose: 'never',
      what: 'other host block',
    },
    { key: keys.ipInIpEnabled, value: `${MARKER}${f}`, diagnose: 'never', what: 'IpInIpEnabled' },
    { key: `/calico/bgp/v1/host/${NODE}/${MARKER}`, value: f, diagnose: 'never', what: 'unknown host key' },
  ),
);

const hostileEntries = (context: HostileContext): fc.Arbitrary<HostileEntry[]> =>
  fc
    .array(
      fc.oneof(
        hostileGlobal.map((e) => [e]),
        hostileOwn.map((e) => [e]),
        hostilePool.map((e) => [e]),
        hostileGlobalPeer.map((e) => [e]),
        hostileReflector.map((e) => [e]),
        hostileFilter.map((e) => [e]),
        hostileOtherHost(context),
        malformedKey.map((e) => [e]),
        noise.map((e) => [e]),
      ),
      { maxLength: 14 },
    )
    .map((lists) => lists.flat());

// ------------------------------------------------------------------------------------------------
// The case
// ------------------------------------------------------------------------------------------------

const SPECIAL_ROLES = ['global', 'node', 'mesh', 'reflector', 'own-v6'] as const;

interface Special {
  readonly role: (typeof SPECIAL_ROLES)[number];
  readonly address: SpecialAddress;
  readonly as: AsValue;
}

/**
 * Addresses around the classes BIRD cannot peer with, in each place an address comes from. The oracle's own
 * classifier (addressClasses.ts, not the model's) decides: a usable one becomes a valid entry that must be
 * rendered, an unusable one a hostile entry that must be diagnosed and change nothing.
 */
function placeSpecials(c: FuzzCase, specials: readonly Special[]): FuzzCase {
  const globalPeers = [...c.globalPeers];
  const nodePeers = [...c.nodePeers];
  const nodes = [...c.nodes];
  const reflectors = [...c.reflectors];
  const hostile: HostileEntry[] = [];
  specials.forEach(({ role, address: a, as }, i) => {
    const f = a.family;
    const refused = oracleRefusesAddress(a.text, f);
    const diagnosePeer = f === 4 ? ('always' as const) : ('if-v6' as const);
    const addr: Addr = { canonical: a.canonical, text: a.text };
    const peer: ValidPeer = { family: f, address: addr, keyText: a.text, as, asJsonNumber: false, pythonStyle: false };
    const what = `${role} at special address ${a.text}`;
    if (role === 'global') {
      if (refused)
        hostile.push({
          key: keys.globalPeer(f, a.text),
          value: peerJson(a.text, as.text),
          diagnose: diagnosePeer,
          what,
        });
      else globalPeers.push(peer);
    } else if (role === 'node') {
      if (refused)
        hostile.push({
          key: keys.hostPeer(NODE, f, a.text),
          value: peerJson(a.text, as.text),
          diagnose: diagnosePeer,
          what,
        });
      else nodePeers.push(peer);
    } else if (role === 'mesh') {
      if (refused) hostile.push({ key: keys.hostAddress(`sp${i}`, f), value: a.text, diagnose: 'always', what });
      else
        nodes.push({ name: `sp${i}`, v4: f === 4 ? addr : undefined, v6: f === 6 ? addr : undefined, as: undefined });
    } else if (role === 'reflector') {
      if (refused)
        hostile.push({
          key: keys.routeReflector(f, a.text),
          value: JSON.stringify({ ip: a.text }),
          diagnose: 'always',
          what,
        });
      else reflectors.push({ family: f, address: addr, clusterId: undefined });
    } else if (refused && f === 6) {
      // Lands only when the case has no valid own IPv6 address (a valid entry keeps its key).
      hostile.push({ key: keys.hostAddress(NODE, 6), value: a.text, diagnose: 'always', what });
    }
  });
  return { ...c, globalPeers, nodePeers, nodes, reflectors, hostile: [...c.hostile, ...hostile] };
}

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = fc
  .record({
    ownV4: addrArb(4),
    ownV6: fc.option(addrArb(6), { nil: undefined, freq: 3 }),
    ownAs: fc.option(asArb, { nil: undefined }),
    ownLogLevel: fc.option(fc.constantFrom(...BIRD_LOG_LEVELS), { nil: undefined }),
    ownNetwork: fc.option(fc.constantFrom('10.0.0.0/24', '10.0.0.0/28', '', '10.1.0.0/16'), { nil: undefined }),
    globalAs: fc.option(asArb, { nil: undefined }),
    mesh: fc.option(
      fc
        .boolean()
        .chain((enabled) =>
          fc.constantFrom(JSON.stringify({ enabled }), `{"enabled": ${enabled}}`).map((text) => ({ enabled, text })),
        ),
      { nil: undefined, freq: 3 },
    ),
    globalLogLevel: fc.option(fc.constantFrom(...BIRD_LOG_LEVELS), { nil: undefined }),
    nodes: indexed(nodeArb, 10),
    globalPeers: fc.array(fc.constantFrom<Family>(4, 6).chain(peerArb), { maxLength: 5 }),
    nodePeers: fc.array(fc.constantFrom<Family>(4, 6).chain(peerArb), { maxLength: 5 }),
    pools: fc.array(fc.constantFrom<Family>(4, 6).chain(poolArb), { maxLength: 5 }),
    blocks: fc.array(fc.constantFrom<Family>(4, 6).chain(blockArb), { maxLength: 5 }),
    filters: fc
      .tuple(
        indexed((i) => filterArb(4, i), 2),
        indexed((i) => filterArb(6, i + 10), 2),
      )
      .map(([a, b]) => [...a, ...b]),
    reflectors: fc.array(fc.constantFrom<Family>(4, 6).chain(reflectorArb), { maxLength: 2 }),
    ipip: fc.constantFrom<'off' | 'krt-tunnel'>('off', 'krt-tunnel'),
    specials: fc.array(fc.record({ role: fc.constantFrom(...SPECIAL_ROLES), address: specialAddressArb, as: asArb }), {
      maxLength: 4,
    }),
  })
  .chain(({ specials, ...c }) => {
    // Node names must be unique (a repeated name is one host): keep the first of each.
    const seen = new Set<string>();
    const nodes = c.nodes.filter((n) => !seen.has(n.name) && seen.add(n.name));
    const placed = placeSpecials({ ...c, nodes, hostile: [] }, specials);
    return hostileEntries({ validNodeNames: nodes.map((n) => n.name) }).map((hostile) => ({
      ...placed,
      hostile: [...placed.hostile, ...hostile],
    }));
  });

/** The valid entries of a case as key → value (later entries with the same key win, as in etcd). */
export function validEntries(c: FuzzCase): Map<string, string> {
  const m = new Map<string, string>();
  m.set(keys.hostAddress(NODE, 4), c.ownV4.text);
  if (c.ownV6) m.set(keys.hostAddress(NODE, 6), c.ownV6.text);
  if (c.ownAs) m.set(keys.hostAsNumber(NODE), c.ownAs.text);
  if (c.ownLogLevel) m.set(keys.hostLogLevel(NODE), c.ownLogLevel);
  if (c.ownNetwork !== undefined) m.set(keys.hostNetwork(NODE), c.ownNetwork);
  if (c.globalAs) m.set(keys.globalAsNumber, c.globalAs.text);
  if (c.mesh) m.set(keys.nodeMesh, c.mesh.text);
  if (c.globalLogLevel) m.set(keys.globalLogLevel, c.globalLogLevel);
  for (const n of c.nodes) {
    if (n.v4) m.set(keys.hostAddress(n.name, 4), n.v4.text);
    if (n.v6) m.set(keys.hostAddress(n.name, 6), n.v6.text);
    if (n.as) m.set(keys.hostAsNumber(n.name), n.as.text);
  }
  const peerValue = (p: ValidPeer): string => {
    const as = p.asJsonNumber && /^\d+$/.test(p.as.text) ? p.as.value : p.as.text;
    return p.pythonStyle
      ? `{"ip": ${JSON.stringify(p.address.text)}, "as_num": ${JSON.stringify(as)}}`
      : JSON.stringify({ ip: p.address.text, as_num: as });
  };
  for (const p of c.globalPeers) m.set(keys.globalPeer(p.family, p.keyText), peerValue(p));
  for (const p of c.nodePeers) m.set(keys.hostPeer(NODE, p.family, p.keyText), peerValue(p));
  for (const p of c.pools) {
    const value: Record<string, unknown> = { cidr: p.canonical };
    if (p.ipip) value['ipip'] = 'tunl0';
    if (p.crossSubnet) value['ipip_mode'] = 'cross-subnet';
    if (p.masquerade !== undefined) value['masquerade'] = p.masquerade;
    if (p.disabled !== undefined) value['disabled'] = p.disabled;
    if (p.badField) value[p.badField.name] = p.badField.value;
    m.set(keys.pool(p.family, p.canonical), JSON.stringify(value));
  }
  for (const b of c.blocks) m.set(keys.block(NODE, b.family, b.keyText), '{}');
  for (const f of c.filters) m.set(keys.customFilter(f.family, f.name), f.body);
  for (const r of c.reflectors)
    m.set(
      keys.routeReflector(r.family, r.address.text),
      JSON.stringify(r.clusterId ? { ip: r.address.text, cluster_id: r.clusterId } : { ip: r.address.text }),
    );
  return m;
}

/** The hostile entries that actually land (a key already holding a valid entry keeps it; the last hostile one wins). */
export function landedHostile(c: FuzzCase, valid: ReadonlyMap<string, string>): Map<string, HostileEntry> {
  const m = new Map<string, HostileEntry>();
  for (const h of c.hostile) if (!valid.has(h.key)) m.set(h.key, h);
  return m;
}

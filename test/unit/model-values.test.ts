import t from 'tap';
import { formatIPv6, parseIpAddress, parseIPv4, parseIPv6 } from '../../src/model/address.js';
import { parseAsNumber } from '../../src/model/asNumber.js';
import { cidrsOverlap, parseCidr } from '../../src/model/cidr.js';
import { checkCustomFilterBody } from '../../src/model/customFilter.js';
import { parseInterfaceName, parseNodeName } from '../../src/model/names.js';
import { parseBirdLogLevel } from '../../src/model/birdLogLevel.js';
import { classifyKey, decodeCidrSegment, keys } from '../../src/model/keys.js';

const ok = <T>(r: { ok: boolean; value?: T }): T | undefined => (r.ok ? r.value : undefined);

t.test('IPv4 addresses: dotted quad only', async (t) => {
  t.equal(ok(parseIPv4('10.0.0.1'))?.text, '10.0.0.1');
  t.equal(ok(parseIPv4('255.255.255.255'))?.value, 0xffffffffn);
  for (const bad of [
    '10.0.0.300',
    '10.0.0',
    '010.0.0.1',
    '10.0.0.1 ',
    ' 10.0.0.1',
    '10.0.0.1\n',
    '10.0.0.1;',
    '1e1.0.0.1',
    '',
    '::1',
    '10.0.0.5; protocol static x { }',
  ]) {
    t.notOk(parseIPv4(bad).ok, `refuses ${JSON.stringify(bad)}`);
  }
});

t.test('IPv6 addresses: canonical RFC 5952 text', async (t) => {
  const cases: [string, string][] = [
    ['2001:DB8::0:1', '2001:db8::1'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd00:1::', 'fd00:1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
  ];
  for (const [input, canonical] of cases) t.equal(ok(parseIPv6(input))?.text, canonical, input);
  for (const bad of [
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    '12345::',
    'g::1',
    '2001:db8::1/64',
    '',
    ':',
    '1:2:3:4:5:6:7',
    '2001:db8::1"',
    '::1.2.3',
  ]) {
    t.notOk(parseIPv6(bad).ok, `refuses ${JSON.stringify(bad)}`);
  }
  t.equal(formatIPv6(0n), '::');
  t.equal(parseIpAddress('10.0.0.1', 6).ok, false, 'family is enforced');
});

t.test('CIDRs: host bits refused, canonical text', async (t) => {
  t.equal(ok(parseCidr('192.168.0.0/16'))?.text, '192.168.0.0/16');
  t.equal(ok(parseCidr('FD00:1::/48'))?.text, 'fd00:1::/48');
  t.equal(ok(parseCidr('0.0.0.0/0'))?.text, '0.0.0.0/0');
  const hostBits = parseCidr('192.168.1.1/16');
  t.equal(hostBits.ok, false);
  t.match(!hostBits.ok && hostBits.reason, /host bits are set \(did you mean 192\.168\.0\.0\/16\?\)/);
  for (const bad of [
    '10.0.0.0/33',
    '10.0.0.0/08',
    '10.0.0.0',
    'fd00::/129',
    '10.0.0.0/-1',
    '10.0.0.0/8 ',
    '10.0.0.0/8;',
  ])
    t.notOk(parseCidr(bad).ok, bad);
  t.ok(cidrsOverlap(ok(parseCidr('10.0.0.0/8'))!, ok(parseCidr('10.1.0.0/16'))!));
  t.notOk(cidrsOverlap(ok(parseCidr('10.0.0.0/16'))!, ok(parseCidr('10.1.0.0/16'))!));
});

t.test('AS numbers: asplain and asdot', async (t) => {
  t.equal(ok(parseAsNumber('64511')), 64511);
  t.equal(ok(parseAsNumber('1.10')), 65546);
  t.equal(ok(parseAsNumber('4294967295')), 4294967295);
  t.equal(ok(parseAsNumber(65000)), 65000, 'a JSON number is read too');
  for (const bad of ['0', '4294967296', 'abc', '', '-1', '01', '1.65536', '0.0', '64511;', ' 64511', 1.5, null, true])
    t.notOk(parseAsNumber(bad).ok, String(bad));
});

t.test('names, interfaces, log levels', async (t) => {
  t.ok(parseNodeName('calico-01').ok);
  t.ok(parseNodeName('node_1.example.com').ok);
  for (const bad of ['bad name!', '', '-x', 'a/b', 'a"b', 'a\nb', 'x'.repeat(254)])
    t.notOk(parseNodeName(bad).ok, JSON.stringify(bad));
  t.ok(parseInterfaceName('tunl0').ok);
  for (const bad of ['tun"0', 'a b', '', 'x'.repeat(16), '..'])
    t.notOk(parseInterfaceName(bad).ok, JSON.stringify(bad));
  t.same(
    ['none', 'debug', 'info'].map((l) => parseBirdLogLevel(l).ok),
    [true, true, true],
  );
  t.notOk(parseBirdLogLevel('verbose').ok);
  t.notOk(parseBirdLogLevel('DEBUG').ok);
});

t.test('custom filter bodies stay inside custom_filters()', async (t) => {
  t.ok(checkCustomFilterBody('if ( net ~ 10.99.0.0/16 ) then reject;').ok);
  t.ok(checkCustomFilterBody('if net ~ 10.0.0.0/8 then { reject; } # a } in a comment\nprint "}";').ok);
  const refused: [string, RegExp][] = [
    ['accept; } protocol static evil { } function x() {', /closes a brace/],
    ['include "/etc/shadow";', /include/],
    ['  INCLUDE "/etc/shadow";', /include/],
    ['if true then {', /unbalanced/],
    ['print "unterminated;', /unterminated string/],
    ['/* swallow the rest', /unterminated \/\* comment/],
    ['reject;\u0000', /control characters/],
    ['   ', /empty/],
    ['x'.repeat(70000), /larger than/],
  ];
  for (const [body, reason] of refused) {
    const result = checkCustomFilterBody(body);
    t.match(!result.ok && result.reason, reason, JSON.stringify(body.slice(0, 40)));
  }
});

t.test('key schema: classify and build agree', async (t) => {
  t.same(classifyKey(keys.globalPeer(4, '10.0.0.1')), { kind: 'globalPeer', family: 4, ip: '10.0.0.1' });
  t.same(classifyKey(keys.hostPeer('n1', 6, '2001:db8::1')), {
    kind: 'hostPeer',
    host: 'n1',
    family: 6,
    ip: '2001:db8::1',
  });
  t.same(classifyKey(keys.pool(6, 'fd00:1::/48')), { kind: 'pool', family: 6, cidr: 'fd00:1::/48' });
  t.equal(keys.pool(4, '192.168.0.0/16'), '/calico/v1/ipam/v4/pool/192.168.0.0-16');
  t.same(classifyKey(keys.block('n1', 4, '192.168.0.0/26')), {
    kind: 'block',
    host: 'n1',
    family: 4,
    cidr: '192.168.0.0/26',
  });
  t.same(classifyKey(keys.routeReflector(4, '10.0.0.9')), { kind: 'routeReflector', family: 4, ip: '10.0.0.9' });
  t.same(classifyKey(keys.customFilter(6, 'x')), { kind: 'customFilter', family: 6, name: 'x' });
  t.same(classifyKey(keys.hostAddress('n1', 6)), { kind: 'hostAddress', host: 'n1', family: 6 });
  t.same(classifyKey('/calico/bgp/v1/host/n1/extra/deep/key'), { kind: 'unknown' });
  t.same(classifyKey('/calico/v1/host/n1/workload/x'), { kind: 'unknown' });
  t.equal(decodeCidrSegment('fd00:1::-48'), 'fd00:1::/48');
});

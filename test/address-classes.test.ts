import t from 'tap';
import { parseBgpAddress, parseIpAddress, unusableBgpAddressReason } from '../src/model/address.js';
import { decodePeer, decodeRouteReflector, parseClusterId } from '../src/model/encodings.js';
import {
  ADDRESS_SAMPLES,
  birdVerdict,
  CLUSTER_ID_SAMPLES,
  clusterIdConfig,
  rolesOf,
  sweepConfig,
} from './support/addressSweep.js';

/**
 * The classification of addresses BIRD cannot peer with, against the real bird -p / bird6 -p: every class
 * BIRD refuses in some role is refused by the model, and every class the model refuses is either refused by
 * BIRD or one a BGP session can never reach (multicast, broadcast, IPv4-mapped; see src/model/address.ts).
 */

t.test('the sweep: bird -p / bird6 -p on each class in each role, and the model agrees', async (t) => {
  for (const sample of ADDRESS_SAMPLES) {
    const parsed = parseIpAddress(sample.text, sample.family);
    t.ok(parsed.ok, `${sample.text} parses`);
    if (!parsed.ok) continue;
    const refusedByBird: string[] = [];
    for (const role of rolesOf(sample)) {
      const verdict = await birdVerdict(sample.family, sweepConfig(sample.family, role, sample.text));
      if (verdict !== undefined) refusedByBird.push(role);
    }
    t.same(
      refusedByBird,
      sample.birdRefuses,
      `${sample.text} (${sample.addressClass}): BIRD refuses it as ${sample.birdRefuses.join(', ') || 'nothing'}`,
    );
    const reason = unusableBgpAddressReason(parsed.value);
    t.equal(
      reason === undefined,
      sample.usable,
      `${sample.text} (${sample.addressClass}) is ${sample.usable ? 'usable' : `refused: ${reason}`}`,
    );
    if (refusedByBird.length > 0) t.not(reason, undefined, `what BIRD refuses, the model refuses (${sample.text})`);
  }
});

t.test('IPv4 router id 0.0.0.0 passes bird -p but is not a router id: the model refuses it', async (t) => {
  t.equal(
    await birdVerdict(4, sweepConfig(4, 'router id', '0.0.0.0')),
    undefined,
    'bird -p accepts it (BIRD treats 0 as unset at start)',
  );
  t.match(parseBgpAddress('0.0.0.0', 4), { ok: false, reason: /unspecified/ });
});

t.test('reasons name the address and the class', async (t) => {
  const reason = (text: string): string | undefined => {
    const parsed = parseBgpAddress(text);
    return parsed.ok ? undefined : parsed.reason;
  };
  t.equal(reason('fe80::1'), '"fe80::1" is an IPv6 link-local address (fe80::/10); BIRD needs an interface for it');
  t.match(reason('::'), /^"::" is the unspecified address/);
  t.match(reason('224.0.0.5'), /^"224\.0\.0\.5" is an IPv4 multicast address \(224\.0\.0\.0\/4\)/);
  t.match(reason('255.255.255.255'), /broadcast/);
  t.match(reason('FF02::1'), /^"ff02::1" is an IPv6 multicast address/);
  t.match(
    reason('::ffff:10.0.0.1'),
    /^"::ffff:a00:1" is an IPv4-mapped IPv6 address \(::ffff:0:0\/96\) for 10\.0\.0\.1; /,
  );
  // The class edges, one past each side.
  for (const usable of [
    '223.255.255.255',
    '240.0.0.0',
    '255.255.255.254',
    'fe7f:ffff::1',
    'fec0::',
    'feff::1',
    '::fffe:0:1',
    '0:1:ffff::1',
    '::1:0:0:0',
    '0.0.0.1',
  ]) {
    t.equal(reason(usable), undefined, `${usable} is usable`);
  }
  for (const refused of [
    '224.0.0.0',
    '239.255.255.255',
    'fe80::',
    'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'ff00::',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '::ffff:0.0.0.0',
    '::ffff:255.255.255.255',
  ]) {
    t.not(reason(refused), undefined, `${refused} is refused`);
  }
  t.match(parseBgpAddress('10.0.0.1', 6), { ok: false }, 'the family is still enforced');
});

t.test('peer and reflector values: an unusable address refuses the entry with the class as reason', async (t) => {
  t.match(decodePeer('{"ip":"fe80::1","as_num":"64512"}', 6, 'fe80::1'), {
    ok: false,
    reason: '"fe80::1" is an IPv6 link-local address (fe80::/10); BIRD needs an interface for it',
  });
  t.match(decodePeer('{"ip":"0.0.0.0","as_num":"64512"}', 4, '0.0.0.0'), { ok: false, reason: /unspecified/ });
  t.match(decodeRouteReflector('{"ip":"ff02::1"}', 6, 'ff02::1'), { ok: false, reason: /multicast/ });
  t.match(
    decodePeer('{"ip":"127.0.0.2","as_num":"64512"}', 4, '127.0.0.2'),
    { ok: true },
    'loopback is kept: a speaker on the same host',
  );
});

t.test('rr cluster id: what bird -p accepts, minus 0 (BIRD takes 0 as unset)', async (t) => {
  for (const sample of CLUSTER_ID_SAMPLES) {
    for (const family of [4, 6] as const) {
      const verdict = await birdVerdict(family, clusterIdConfig(family, sample.text));
      t.equal(
        verdict === undefined,
        sample.birdAccepts,
        `bird${family === 6 ? '6' : ''} -p ${sample.birdAccepts ? 'accepts' : 'refuses'} rr cluster id ${sample.text}`,
      );
    }
    const parsed = parseClusterId(sample.text);
    const zero = sample.text === '0' || sample.text === '0.0.0.0';
    t.equal(parsed.ok, sample.birdAccepts && !zero, `the model ${parsed.ok ? 'accepts' : 'refuses'} ${sample.text}`);
    // What the model accepts renders to something BIRD accepts.
    if (parsed.ok)
      t.equal(
        await birdVerdict(4, clusterIdConfig(4, parsed.value)),
        undefined,
        `rendered ${parsed.value} passes bird -p`,
      );
  }
  t.same(
    [parseClusterId('1'), parseClusterId('0x10'), parseClusterId('1.0.0.1')].map((r) => (r.ok ? r.value : r.reason)),
    ['1', '16', '1.0.0.1'],
  );
  t.match(parseClusterId('0'), { ok: false, reason: /0 means "not set"/ });
});

t.test('a reflector with a bad cluster_id keeps the reflector and drops the field', async (t) => {
  const decoded = decodeRouteReflector('{"ip":"10.0.0.9","cluster_id":"1.2"}', 4, '10.0.0.9');
  t.ok(decoded.ok);
  if (!decoded.ok) return;
  t.equal(decoded.value.value.address.text, '10.0.0.9');
  t.equal(decoded.value.value.clusterId, undefined);
  t.same(decoded.value.droppedFields, [
    '"cluster_id": must be a dotted quad such as 1.0.0.1 or a number 1-4294967295; the reflector is kept without rr cluster id',
  ]);
  const numeric = decodeRouteReflector('{"ip":"10.0.0.9","cluster_id":5}', 4, '10.0.0.9');
  t.match(numeric, {
    ok: true,
    value: { value: { clusterId: undefined }, droppedFields: [/"cluster_id": must be a string/] },
  });
  t.match(decodeRouteReflector('{"ip":"10.0.0.9","cluster_id":"7"}', 4, '10.0.0.9'), {
    ok: true,
    value: { value: { clusterId: '7' }, droppedFields: [] },
  });
});

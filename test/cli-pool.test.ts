import t from 'tap';
import { startEtcdForTest } from './harness/etcd.js';
import { cli } from './support/cli.js';
import { operatorCli } from './support/operatorTest.js';
import { clearKeyspace, currentRevision, dumpKeyspace, keyValues } from './support/etcdKeyspace.js';
import { putKeyspace } from './support/etcdLoad.js';

// `pool add|remove|show` against a real etcd: the exact keys and values calicoctl wrote (keyspace.md,
// "What calicoctl wrote"), refusals that write nothing, and the overlap check racing other writers.

const etcd = await startEtcdForTest(t);
const { run, refused } = operatorCli(etcd.endpoints);

t.beforeEach(() => clearKeyspace(etcd.endpoints));

t.test('pool add --ipip --nat-outgoing: the seed tutorial pool, byte for byte, in one transaction', async (t) => {
  const result = await run('pool', 'add', '192.168.0.0/16', '--ipip', '--nat-outgoing');
  t.equal(result.code, 0, result.stderr);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/v1/ipam/v4/pool/192.168.0.0-16': '{"cidr":"192.168.0.0/16","ipip":"tunl0","masquerade":true}',
    '/calico/v1/config/IpInIpEnabled': 'true',
  });
  const dump = await dumpKeyspace(etcd.endpoints);
  t.equal(
    dump.get('/calico/v1/config/IpInIpEnabled')?.modRevision,
    dump.get('/calico/v1/ipam/v4/pool/192.168.0.0-16')?.modRevision,
    'one revision',
  );
  t.match(
    result.stdout,
    /^set \/calico\/v1\/ipam\/v4\/pool\/192\.168\.0\.0-16 = \{"cidr":"192\.168\.0\.0\/16","ipip":"tunl0","masquerade":true\}$/m,
  );
  t.match(result.stdout, /^set \/calico\/v1\/config\/IpInIpEnabled = true$/m);
});

t.test('pool add without options, IPv6, and --ipip-mode', async (t) => {
  t.equal((await run('pool', 'add', '10.10.0.0/16')).code, 0);
  t.equal((await run('pool', 'add', 'fd80:24e2:f998:72d6::/64')).code, 0);
  t.equal((await run('pool', 'add', '172.16.0.0/20', '--ipip', '--ipip-mode', 'cross-subnet')).code, 0);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/v1/ipam/v4/pool/10.10.0.0-16': '{"cidr":"10.10.0.0/16"}',
    '/calico/v1/ipam/v6/pool/fd80:24e2:f998:72d6::-64': '{"cidr":"fd80:24e2:f998:72d6::/64"}',
    '/calico/v1/ipam/v4/pool/172.16.0.0-20': '{"cidr":"172.16.0.0/20","ipip":"tunl0","ipip_mode":"cross-subnet"}',
    '/calico/v1/config/IpInIpEnabled': 'true',
  });
});

t.test('pool add of the same CIDR replaces its options (as calicoctl did)', async (t) => {
  t.equal((await run('pool', 'add', '192.168.0.0/16')).code, 0);
  const again = await run('pool', 'add', '192.168.0.0/16', '--nat-outgoing');
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /note: pool 192\.168\.0\.0\/16 already existed: its options were replaced/);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/v1/ipam/v4/pool/192.168.0.0-16': '{"cidr":"192.168.0.0/16","masquerade":true}',
  });
});

t.test('refusals write nothing', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/v1/ipam/v4/pool/192.168.0.0-16', '{"cidr":"192.168.0.0/16"}'],
      ['/calico/v1/ipam/v6/pool/fd00::-48', '{"cidr":"fd00::/48"}'],
    ]),
  );
  await refused(
    t,
    ['pool', 'add', '192.168.1.0/24'],
    /^error: CIDR "192\.168\.1\.0\/24": overlaps the existing pool 192\.168\.0\.0\/16 \(\/calico\/v1\/ipam\/v4\/pool\/192\.168\.0\.0-16\)$/,
  );
  await refused(
    t,
    ['pool', 'add', '192.0.0.0/8'],
    /CIDR "192\.0\.0\.0\/8": overlaps the existing pool 192\.168\.0\.0\/16/,
  );
  await refused(
    t,
    ['pool', 'add', 'fd00:0:0:1::/64'],
    /CIDR "fd00:0:0:1::\/64": overlaps the existing pool fd00::\/48/,
  );
  await refused(
    t,
    ['pool', 'add', '10.0.0.1/8'],
    /^error: CIDR "10\.0\.0\.1\/8": host bits are set \(did you mean 10\.0\.0\.0\/8\?\)$/,
  );
  await refused(t, ['pool', 'add', '10.0.0.0/33'], /CIDR "10\.0\.0\.0\/33": prefix length must be 0-32/);
  await refused(t, ['pool', 'add', '10.0.0.0'], /CIDR "10\.0\.0\.0": not a CIDR/);
  await refused(
    t,
    ['pool', 'add', 'fd01::/64', '--ipip'],
    /^error: --ipip: IPIP is IPv4 only \(fd01::\/64 is an IPv6 pool\)$/,
  );
  await refused(
    t,
    ['pool', 'add', '10.0.0.0/8', '--ipip-mode', 'cross-subnet'],
    /--ipip-mode "cross-subnet": needs --ipip/,
  );
  await refused(
    t,
    ['pool', 'add', '10.0.0.0/8', '--ipip', '--ipip-mode', 'sometimes'],
    /--ipip-mode "sometimes": expected always or cross-subnet/,
  );
  await refused(t, ['pool', 'remove', '10.0.0.1/8'], /CIDR "10\.0\.0\.1\/8": host bits are set/);
});

t.test('pool remove deletes only the pool key; a missing pool is exit 1', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/v1/ipam/v4/pool/192.168.0.0-16', '{"cidr":"192.168.0.0/16","ipip":"tunl0"}'],
      ['/calico/v1/config/IpInIpEnabled', 'true'],
      ['/calico/ipam/v2/host/calico-01/ipv4/block/192.168.47.0-26', '{}'],
    ]),
  );
  const removed = await run('pool', 'remove', '192.168.0.0/16');
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stdout, /^deleted \/calico\/v1\/ipam\/v4\/pool\/192\.168\.0\.0-16$/m);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/v1/config/IpInIpEnabled': 'true',
    '/calico/ipam/v2/host/calico-01/ipv4/block/192.168.47.0-26': '{}',
  });
  const revision = await currentRevision(etcd.endpoints);
  const missing = await run('pool', 'remove', '192.168.0.0/16');
  t.equal(missing.code, 1);
  t.match(
    missing.stderr,
    /^error: no pool 192\.168\.0\.0\/16 \(\/calico\/v1\/ipam\/v4\/pool\/192\.168\.0\.0-16 does not exist\); nothing removed$/,
  );
  t.equal(await currentRevision(etcd.endpoints), revision);
});

t.test('pool show: table, family filters, JSON, and a warning for an unreadable pool', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/v1/ipam/v4/pool/192.168.0.0-16', '{"cidr": "192.168.0.0/16", "ipip": "tunl0", "masquerade": true}'],
      ['/calico/v1/ipam/v4/pool/10.0.0.0-8', '{"cidr":"10.0.0.0/8","disabled":true}'],
      ['/calico/v1/ipam/v4/pool/172.16.0.0-12', 'not json'],
      ['/calico/v1/ipam/v6/pool/fd00::-48', '{"cidr":"fd00::/48"}'],
    ]),
  );
  const table = await run('pool', 'show');
  t.equal(table.code, 0, table.stderr);
  t.equal(
    table.stdout,
    [
      '+----------------+----------------+--------------+----------+',
      '| IPv4 CIDR      | IPIP           | NAT outgoing | Flags    |',
      '+----------------+----------------+--------------+----------+',
      '| 10.0.0.0/8     | no             | no           | disabled |',
      '| 192.168.0.0/16 | tunl0 (always) | yes          |          |',
      '+----------------+----------------+--------------+----------+',
      '+-----------+------+--------------+-------+',
      '| IPv6 CIDR | IPIP | NAT outgoing | Flags |',
      '+-----------+------+--------------+-------+',
      '| fd00::/48 | no   | no           |       |',
      '+-----------+------+--------------+-------+',
    ].join('\n'),
  );
  t.match(
    table.stderr,
    /^warning: \/calico\/v1\/ipam\/v4\/pool\/172\.16\.0\.0-12 = "not json": value is not valid JSON \(skipped\)$/,
  );
  const v6 = await run('pool', 'show', '--ipv6');
  t.notMatch(v6.stdout, /IPv4/);
  const json = await run('pool', 'show', '--ipv4', '--json');
  t.same(JSON.parse(json.stdout), {
    pools: [
      {
        family: 4,
        cidr: '10.0.0.0/8',
        ipip: null,
        ipipMode: null,
        natOutgoing: false,
        disabled: true,
        ipam: true,
        key: '/calico/v1/ipam/v4/pool/10.0.0.0-8',
      },
      {
        family: 4,
        cidr: '192.168.0.0/16',
        ipip: 'tunl0',
        ipipMode: 'always',
        natOutgoing: true,
        disabled: false,
        ipam: true,
        key: '/calico/v1/ipam/v4/pool/192.168.0.0-16',
      },
    ],
  });
  await clearKeyspace(etcd.endpoints);
  t.equal((await run('pool', 'show')).stdout, 'No IPv4 pools.\nNo IPv6 pools.');
});

t.test('concurrent overlapping pool adds: exactly one wins, the others are refused', async (t) => {
  for (let round = 0; round < 8; round++) {
    await clearKeyspace(etcd.endpoints);
    const candidates = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.0.0.0/9'];
    const results = await Promise.all(candidates.map((cidr) => run('pool', 'add', cidr)));
    const winners = results.filter((r) => r.code === 0);
    t.equal(winners.length, 1, `round ${round}: one add succeeded`);
    t.ok(
      results.every((r) => r.code === 0 || (r.code === 2 && /overlaps the existing pool/.test(r.stderr))),
      'the rest were refused for overlap',
    );
    t.equal(Object.keys(await keyValues(etcd.endpoints)).length, 1, 'one pool stored');
  }
});

t.test('etcd unreachable: exit 1, one line', async (t) => {
  const result = await cli(['pool', 'add', '10.0.0.0/8', '--etcd-endpoints', 'http://127.0.0.1:1']);
  t.equal(result.code, 1);
  t.match(result.stderr, /^error: etcd unreachable: /);
  t.equal(result.stderr.split('\n').length, 1);
});

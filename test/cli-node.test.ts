import t from 'tap';
import { startEtcdForTest } from './harness/etcd.js';
import { cli } from './support/cli.js';
import { operatorCli } from './support/operatorTest.js';
import { clearKeyspace, currentRevision, dumpKeyspace, keyValues } from './support/etcdKeyspace.js';
import { putKeyspace } from './support/etcdLoad.js';

// `node register|remove|show` against a real etcd: calicoctl `node --ip --ip6 --as` keys and values.

const etcd = await startEtcdForTest(t);
const env = { ETCD_ENDPOINTS: etcd.endpoints.join(',') };
const { run, refused } = operatorCli(etcd.endpoints);

t.beforeEach(() => clearKeyspace(etcd.endpoints));

t.test(
  'node register: ip_addr_v4, ip_addr_v6 ("" without --ip6), as_num only with --as; one transaction',
  async (t) => {
    const first = await run('node', 'register', '--node', 'calico-01', '--ip', '172.17.8.101');
    t.equal(first.code, 0, first.stderr);
    t.equal(
      first.stdout,
      [
        'set /calico/bgp/v1/host/calico-01/ip_addr_v4 = 172.17.8.101',
        'set /calico/bgp/v1/host/calico-01/ip_addr_v6 = ""',
        `(one etcd transaction, revision ${await currentRevision(etcd.endpoints)})`,
        'note: node calico-01 is new',
      ].join('\n'),
    );
    const second = await run(
      'node',
      'register',
      '--node',
      'calico-02',
      '--ip',
      '172.17.8.102',
      '--ip6',
      'FD80:24E2:F998:72D7:0:0:0:2',
      '--as',
      '64512',
      '--network',
      '172.17.8.0/24',
    );
    t.equal(second.code, 0, second.stderr);
    t.same(await keyValues(etcd.endpoints), {
      '/calico/bgp/v1/host/calico-01/ip_addr_v4': '172.17.8.101',
      '/calico/bgp/v1/host/calico-01/ip_addr_v6': '',
      '/calico/bgp/v1/host/calico-02/ip_addr_v4': '172.17.8.102',
      '/calico/bgp/v1/host/calico-02/ip_addr_v6': 'fd80:24e2:f998:72d7::2',
      '/calico/bgp/v1/host/calico-02/as_num': '64512',
      '/calico/bgp/v1/host/calico-02/network_v4': '172.17.8.0/24',
    });
    const dump = await dumpKeyspace(etcd.endpoints);
    const revisions = new Set([...dump].filter(([k]) => k.includes('calico-02')).map(([, v]) => v.modRevision));
    t.equal(revisions.size, 1, "all of calico-02's keys at one revision");

    const again = await run('node', 'register', '--node', 'calico-02', '--ip', '172.17.8.102');
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /^deleted \/calico\/bgp\/v1\/host\/calico-02\/as_num$/m);
    t.match(again.stdout, /note: the node's AS override \(64512\) was removed/);
    t.match(again.stdout, /note: the node's IPv6 address \(fd80:24e2:f998:72d7::2\) was cleared/);
    const values = await keyValues(etcd.endpoints);
    t.notOk('/calico/bgp/v1/host/calico-02/as_num' in values, 'as_num deleted without --as (as calicoctl did)');
    t.equal(values['/calico/bgp/v1/host/calico-02/ip_addr_v6'], '');
    t.equal(values['/calico/bgp/v1/host/calico-02/network_v4'], '172.17.8.0/24', 'network_v4 kept without --network');
    const fromEnv = await cli(['node', 'register', '--ip', '172.17.8.103'], { ...env, NODENAME: 'calico-03' });
    t.equal(fromEnv.code, 0, fromEnv.stderr);
    t.equal(
      (await keyValues(etcd.endpoints))['/calico/bgp/v1/host/calico-03/ip_addr_v4'],
      '172.17.8.103',
      'NODENAME names the node',
    );
  },
);

t.test('node register refusals write nothing', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/bgp/v1/host/calico-01/ip_addr_v4', '172.17.8.101'],
      ['/calico/bgp/v1/host/calico-01/ip_addr_v6', 'fd80::1'],
    ]),
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.101'],
    /^error: --ip "172\.17\.8\.101": is already the address of node calico-01 \(\/calico\/bgp\/v1\/host\/calico-01\/ip_addr_v4\)$/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.102', '--ip6', 'FD80::1'],
    /^error: --ip6 "fd80::1": is already the address of node calico-01/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', 'fd80::2'],
    /^error: --ip "fd80::2": not an IPv4 address/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.102', '--ip6', '172.17.8.102'],
    /^error: --ip6 "172\.17\.8\.102": not an IPv6 address/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.102', '--as', '65536.0'],
    /^error: --as "65536\.0": asdot parts/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.102', '--network', '172.17.9.0/24'],
    /^error: --network "172\.17\.9\.0\/24": does not contain the node's address 172\.17\.8\.102$/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.102', '--network', '172.17.8.1/24'],
    /^error: --network "172\.17\.8\.1\/24": host bits are set/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico 02', '--ip', '172.17.8.102'],
    /^error: --node "calico 02": node name must be/,
  );
  await refused(
    t,
    ['node', 'register', '--node', 'calico-02'],
    /^error: --ip: required: the node's IPv4 address \(--ip or IP; IP=autodetect finds it on this host\)$/,
  );
  t.equal(
    (await run('node', 'register', '--node', 'calico-01', '--ip', '172.17.8.101', '--ip6', 'fd80::1')).code,
    0,
    're-registering a node with its own addresses is fine',
  );
});

t.test('node remove: the host BGP prefix goes, IPAM blocks and other hosts stay', async (t) => {
  const keyspace = new Map([
    ['/calico/bgp/v1/host/calico-01/ip_addr_v4', '172.17.8.101'],
    ['/calico/bgp/v1/host/calico-01/ip_addr_v6', ''],
    ['/calico/bgp/v1/host/calico-01/as_num', '64512'],
    ['/calico/bgp/v1/host/calico-01/loglevel', 'debug'],
    ['/calico/bgp/v1/host/calico-01/peer_v4/10.0.0.5', '{"ip":"10.0.0.5","as_num":"64600"}'],
    ['/calico/bgp/v1/host/calico-010/ip_addr_v4', '172.17.8.110'],
    ['/calico/bgp/v1/host/calico-02/ip_addr_v4', '172.17.8.102'],
    ['/calico/ipam/v2/host/calico-01/ipv4/block/192.168.47.0-26', '{}'],
    ['/calico/ipam/v2/host/calico-01/ipv4/block/192.168.47.64-26', '{}'],
  ]);
  await putKeyspace(etcd.endpoints, keyspace);
  const before = BigInt(await currentRevision(etcd.endpoints));
  const removed = await run('node', 'remove', '--node', 'calico-01');
  t.equal(removed.code, 0, removed.stderr);
  t.equal(BigInt(await currentRevision(etcd.endpoints)), before + 1n, 'one transaction');
  t.match(removed.stdout, /^deleted \/calico\/bgp\/v1\/host\/calico-01\/peer_v4\/10\.0\.0\.5$/m);
  t.match(removed.stdout, /note: kept 2 IPAM blocks under \/calico\/ipam\/v2\/host\/calico-01\//);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/bgp/v1/host/calico-010/ip_addr_v4': '172.17.8.110',
    '/calico/bgp/v1/host/calico-02/ip_addr_v4': '172.17.8.102',
    '/calico/ipam/v2/host/calico-01/ipv4/block/192.168.47.0-26': '{}',
    '/calico/ipam/v2/host/calico-01/ipv4/block/192.168.47.64-26': '{}',
  });
  await refused(
    t,
    ['node', 'remove', '--node', 'calico-01'],
    /^error: node calico-01 has no BGP keys \(nothing under \/calico\/bgp\/v1\/host\/calico-01\/\); nothing removed$/,
    1,
  );
  await refused(t, ['node', 'remove'], /required option '--node <name>' not specified/);
});

t.test('node show: addresses, own AS, effective AS', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/bgp/v1/global/as_num', '64520'],
      ['/calico/bgp/v1/host/calico-01/ip_addr_v4', '172.17.8.101'],
      ['/calico/bgp/v1/host/calico-01/ip_addr_v6', ''],
      ['/calico/bgp/v1/host/calico-02/ip_addr_v4', '172.17.8.102'],
      ['/calico/bgp/v1/host/calico-02/ip_addr_v6', 'fd80::2'],
      ['/calico/bgp/v1/host/calico-02/as_num', '64512'],
      ['/calico/bgp/v1/host/calico-02/network_v4', '172.17.8.0/24'],
      ['/calico/bgp/v1/host/calico-03/ip_addr_v4', '172.17.8.999'],
    ]),
  );
  const table = await run('node', 'show');
  t.equal(table.code, 0);
  t.equal(
    table.stdout,
    [
      '+-----------+--------------+--------------+-------+----------------+',
      '| Node      | IPv4 address | IPv6 address | AS    | Effective AS   |',
      '+-----------+--------------+--------------+-------+----------------+',
      '| calico-01 | 172.17.8.101 |              |       | 64520 (global) |',
      '| calico-02 | 172.17.8.102 | fd80::2      | 64512 | 64512          |',
      '| calico-03 | (none)       |              |       | 64520 (global) |',
      '+-----------+--------------+--------------+-------+----------------+',
    ].join('\n'),
  );
  t.match(
    table.stderr,
    /warning: \/calico\/bgp\/v1\/host\/calico-03\/ip_addr_v4 = "172\.17\.8\.999": not an IPv4 address/,
  );
  const json = JSON.parse((await run('node', 'show', '--json')).stdout);
  t.same(json.nodes[1], {
    name: 'calico-02',
    ipv4: '172.17.8.102',
    ipv6: 'fd80::2',
    asNumber: 64512,
    effectiveAsNumber: 64512,
    networkV4: '172.17.8.0/24',
  });
  t.equal(json.globalAsNumber, 64520);
  await clearKeyspace(etcd.endpoints);
  t.equal((await run('node', 'show')).stdout, 'No nodes.');
});

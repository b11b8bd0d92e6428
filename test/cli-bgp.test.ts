import t from 'tap';
import { startEtcdForTest } from './harness/etcd.js';
import { cli } from './support/cli.js';
import { operatorCli } from './support/operatorTest.js';
import { clearKeyspace, currentRevision, dumpKeyspace, keyValues } from './support/etcdKeyspace.js';
import { putKeyspace } from './support/etcdLoad.js';

// `bgp peer`, `node bgp peer`, `bgppeer rr`, `bgp node-mesh`, `bgp default-node-as`, `config bgp loglevel`
// against a real etcd: calicoctl's exact keys and values, one transaction where keys belong together.

const etcd = await startEtcdForTest(t);
const env = { ETCD_ENDPOINTS: etcd.endpoints.join(',') };
const { run, refused } = operatorCli(etcd.endpoints);

const registered = new Map([
  ['/calico/bgp/v1/host/calico-01/ip_addr_v4', '172.17.8.101'],
  ['/calico/bgp/v1/host/calico-01/ip_addr_v6', 'fd80:24e2:f998:72d7::1'],
]);

t.beforeEach(() => clearKeyspace(etcd.endpoints));

t.test('bgp peer add/remove: global/peer_v4|v6/<ip> = {"ip":…,"as_num":"<AS>"} (AS a string)', async (t) => {
  const added = await run('bgp', 'peer', 'add', '10.0.0.1', 'as', '64567');
  t.equal(added.code, 0, added.stderr);
  t.equal(
    added.stdout.split('\n')[0],
    'set /calico/bgp/v1/global/peer_v4/10.0.0.1 = {"ip":"10.0.0.1","as_num":"64567"}',
  );
  t.equal((await run('bgp', 'peer', 'add', '2001:DB8:0::1', 'as', '1.10')).code, 0, 'IPv6, non-canonical text; asdot');
  t.same(await keyValues(etcd.endpoints), {
    '/calico/bgp/v1/global/peer_v4/10.0.0.1': '{"ip":"10.0.0.1","as_num":"64567"}',
    '/calico/bgp/v1/global/peer_v6/2001:db8::1': '{"ip":"2001:db8::1","as_num":"65546"}',
  });
  const replaced = await run('bgp', 'peer', 'add', '10.0.0.1', 'as', '64568');
  t.match(replaced.stdout, /note: replaced the previous value \{"ip":"10\.0\.0\.1","as_num":"64567"\}/);
  const removed = await run('bgp', 'peer', 'remove', '2001:db8::1');
  t.equal(removed.code, 0);
  t.match(removed.stdout, /^deleted \/calico\/bgp\/v1\/global\/peer_v6\/2001:db8::1$/m);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/bgp/v1/global/peer_v4/10.0.0.1': '{"ip":"10.0.0.1","as_num":"64568"}',
  });
  await refused(
    t,
    ['bgp', 'peer', 'remove', '10.0.0.2'],
    /^error: no global BGP peer 10\.0\.0\.2 \(\/calico\/bgp\/v1\/global\/peer_v4\/10\.0\.0\.2 does not exist\); nothing removed$/,
    1,
  );
});

t.test('bgp peer refusals', async (t) => {
  await refused(
    t,
    ['bgp', 'peer', 'add', '10.0.0.256', 'as', '64567'],
    /^error: IP "10\.0\.0\.256": not an IPv4 address/,
  );
  await refused(
    t,
    ['bgp', 'peer', 'add', '10.0.0.1', 'AS', '64567'],
    /^error: as "AS": expected the keyword "as" between the address and the AS number; did you mean: birdwatch bgp peer add 10\.0\.0\.1 as 64567$/,
  );
  await refused(
    t,
    ['bgp', 'peer', 'add', '172.17.8.1', '64567'],
    /^error: as: the keyword "as" is missing before the AS number; did you mean: birdwatch bgp peer add 172\.17\.8\.1 as 64567$/,
  );
  await refused(
    t,
    ['node', 'bgp', 'peer', 'add', '172.17.8.1', '64567', '--node', 'n1'],
    /did you mean: birdwatch node bgp peer add 172\.17\.8\.1 as 64567$/,
  );
  await refused(t, ['bgp', 'peer', 'add', '10.0.0.1', 'as', '0'], /^error: AS "0": AS number must be/);
  await refused(
    t,
    ['bgp', 'peer', 'add', '10.0.0.1', 'as', '4294967296'],
    /^error: AS "4294967296": AS number must be 1-4294967295/,
  );
  await refused(t, ['bgp', 'peer', 'add', '10.0.0.1', 'as', '65536.1'], /AS "65536\.1": asdot parts must be 0-65535/);
  const incomplete = await run('bgp', 'peer', 'add', '10.0.0.1');
  t.equal(incomplete.code, 2);
  t.equal(incomplete.stderr, 'error: AS: missing; usage: birdwatch bgp peer add 10.0.0.1 as <AS>');
  const help = await run('bgp', 'peer', 'add', '--help');
  t.match(help.stdout, /^Usage: birdwatch bgp peer add <IP> as <AS> \[options\]$/m, 'help shows `as` as a literal');
  await refused(t, ['bgp', 'peer', 'remove', 'host.example'], /^error: IP "host\.example": not an IPv4 address/);
});

t.test('bgp peer show: table, filters and JSON', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/bgp/v1/global/peer_v4/10.0.0.2', '{"ip":"10.0.0.2","as_num":"64512"}'],
      ['/calico/bgp/v1/global/peer_v4/10.0.0.10', '{"ip": "10.0.0.10", "as_num": "64513"}'],
      ['/calico/bgp/v1/global/peer_v6/2001:db8::1', '{"ip":"2001:db8::1","as_num":"64514"}'],
      ['/calico/bgp/v1/global/peer_v4/10.0.0.3', '{"ip":"10.0.0.4","as_num":"64512"}'],
    ]),
  );
  const table = await run('bgp', 'peer', 'show');
  t.equal(
    table.stdout,
    [
      'IPv4 global BGP peers',
      '+--------------+-----------+',
      '| Peer address | AS number |',
      '+--------------+-----------+',
      '| 10.0.0.2     | 64512     |',
      '| 10.0.0.10    | 64513     |',
      '+--------------+-----------+',
      'IPv6 global BGP peers',
      '+--------------+-----------+',
      '| Peer address | AS number |',
      '+--------------+-----------+',
      '| 2001:db8::1  | 64514     |',
      '+--------------+-----------+',
    ].join('\n'),
  );
  t.match(
    table.stderr,
    /warning: \/calico\/bgp\/v1\/global\/peer_v4\/10\.0\.0\.3 = .*does not match the key's address/,
  );
  const json = await run('bgp', 'peer', 'show', '--ipv6', '--json');
  t.same(JSON.parse(json.stdout), {
    peers: [{ family: 6, address: '2001:db8::1', asNumber: 64514, key: '/calico/bgp/v1/global/peer_v6/2001:db8::1' }],
  });
});

t.test('node bgp peer add/remove/show: host/<node>/peer_v4|v6/<ip>; --node, else NODENAME', async (t) => {
  await putKeyspace(etcd.endpoints, registered);
  const added = await run('node', 'bgp', 'peer', 'add', '10.0.0.5', 'as', '64600', '--node', 'calico-01');
  t.equal(added.code, 0, added.stderr);
  const fromEnv = await cli(['node', 'bgp', 'peer', 'add', 'fd80::5', 'as', '64601'], {
    ...env,
    NODENAME: 'calico-01',
  });
  t.equal(fromEnv.code, 0, fromEnv.stderr);
  t.same(await keyValues(etcd.endpoints), {
    ...Object.fromEntries(registered),
    '/calico/bgp/v1/host/calico-01/peer_v4/10.0.0.5': '{"ip":"10.0.0.5","as_num":"64600"}',
    '/calico/bgp/v1/host/calico-01/peer_v6/fd80::5': '{"ip":"fd80::5","as_num":"64601"}',
  });
  const show = await run('node', 'bgp', 'peer', 'show', '--node', 'calico-01', '--json');
  t.same(JSON.parse(show.stdout), {
    node: 'calico-01',
    peers: [
      { family: 4, address: '10.0.0.5', asNumber: 64600, key: '/calico/bgp/v1/host/calico-01/peer_v4/10.0.0.5' },
      { family: 6, address: 'fd80::5', asNumber: 64601, key: '/calico/bgp/v1/host/calico-01/peer_v6/fd80::5' },
    ],
  });
  const table = await run('node', 'bgp', 'peer', 'show', '--node', 'calico-01', '--ipv4');
  t.match(table.stdout, /^IPv4 BGP peers of node calico-01\n\+-+\+-+\+\n\| Peer address \| AS number \|/);
  t.equal((await run('node', 'bgp', 'peer', 'remove', '10.0.0.5', '--node', 'calico-01')).code, 0);
  t.notOk('/calico/bgp/v1/host/calico-01/peer_v4/10.0.0.5' in (await keyValues(etcd.endpoints)));
  const unregistered = await run('node', 'bgp', 'peer', 'add', '10.0.0.5', 'as', '64600', '--node', 'calico-09');
  t.equal(unregistered.code, 0);
  t.match(unregistered.stdout, /note: node calico-09 is not registered yet/);
});

t.test("node bgp peer refusals: the node's own address, bad node names", async (t) => {
  await putKeyspace(etcd.endpoints, registered);
  await refused(
    t,
    ['node', 'bgp', 'peer', 'add', '172.17.8.101', 'as', '64600', '--node', 'calico-01'],
    /^error: IP "172\.17\.8\.101": is node calico-01's own address/,
  );
  await refused(
    t,
    ['node', 'bgp', 'peer', 'add', 'FD80:24E2:F998:72D7::1', 'as', '64600', '--node', 'calico-01'],
    /IP "fd80:24e2:f998:72d7::1": is node calico-01's own address/,
  );
  await refused(
    t,
    ['node', 'bgp', 'peer', 'add', '10.0.0.5', 'as', '64600', '--node', 'calico/01'],
    /^error: --node "calico\/01": node name must be/,
  );
  await refused(
    t,
    ['node', 'bgp', 'peer', 'remove', '10.0.0.5', '--node', 'calico-01'],
    /no BGP peer of node calico-01 10\.0\.0\.5/,
    1,
  );
});

t.test(
  'bgppeer rr add: rr_v4/<ip> and global/peer_v4/<ip> in ONE transaction; AS defaults to the global AS',
  async (t) => {
    const added = await run('bgppeer', 'rr', 'add', '10.0.0.9', '--cluster-id', '1.0.0.1');
    t.equal(added.code, 0, added.stderr);
    const dump = await dumpKeyspace(etcd.endpoints);
    const rr = dump.get('/calico/bgp/v1/rr_v4/10.0.0.9');
    const peer = dump.get('/calico/bgp/v1/global/peer_v4/10.0.0.9');
    t.equal(rr?.value, '{"ip":"10.0.0.9","cluster_id":"1.0.0.1"}');
    t.equal(peer?.value, '{"ip":"10.0.0.9","as_num":"64511"}', 'no global AS set: 64511');
    t.equal(rr?.modRevision, peer?.modRevision, 'both keys appeared at one revision: one transaction');
    t.equal(dump.size, 2);
    t.match(
      added.stdout,
      /note: the node-to-node mesh is still on: nodes keep their mesh sessions as well as the reflector; turn it off with `birdwatch bgp node-mesh off`/,
    );

    await putKeyspace(
      etcd.endpoints,
      new Map([
        ['/calico/bgp/v1/global/as_num', '64520'],
        ['/calico/bgp/v1/global/node_mesh', '{"enabled": false}'],
      ]),
    );
    const second = await run('bgppeer', 'rr', 'add', 'fd00::9');
    t.equal(second.code, 0, second.stderr);
    t.notMatch(second.stdout, /node-to-node mesh/, 'no mesh note when the mesh is off');
    const third = await run('bgppeer', 'rr', 'add', '10.0.0.10', '--as', '64999');
    t.equal(third.code, 0);
    const values = await keyValues(etcd.endpoints);
    t.equal(values['/calico/bgp/v1/rr_v6/fd00::9'], '{"ip":"fd00::9"}', 'no cluster_id field without --cluster-id');
    t.equal(values['/calico/bgp/v1/global/peer_v6/fd00::9'], '{"ip":"fd00::9","as_num":"64520"}', 'the global AS');
    t.equal(values['/calico/bgp/v1/global/peer_v4/10.0.0.10'], '{"ip":"10.0.0.10","as_num":"64999"}', '--as');

    const show = await run('bgppeer', 'rr', 'show');
    t.equal(
      show.stdout,
      [
        '+-------------------+------------+-----------------------+',
        '| Reflector address | Cluster ID | Peering               |',
        '+-------------------+------------+-----------------------+',
        '| 10.0.0.9          | 1.0.0.1    | global peer, AS 64511 |',
        '| 10.0.0.10         | (none)     | global peer, AS 64999 |',
        '| fd00::9           | (none)     | global peer, AS 64520 |',
        '+-------------------+------------+-----------------------+',
      ].join('\n'),
    );
    const json = await run('bgppeer', 'rr', 'show', '--json');
    t.same(JSON.parse(json.stdout).routeReflectors[0], {
      family: 4,
      address: '10.0.0.9',
      clusterId: '1.0.0.1',
      peerAsNumber: 64511,
      key: '/calico/bgp/v1/rr_v4/10.0.0.9',
    });
  },
);

t.test('bgppeer rr remove: both keys in one transaction', async (t) => {
  t.equal((await run('bgppeer', 'rr', 'add', '10.0.0.9')).code, 0);
  await putKeyspace(
    etcd.endpoints,
    new Map([['/calico/bgp/v1/global/peer_v4/10.0.0.1', '{"ip":"10.0.0.1","as_num":"64567"}']]),
  );
  const before = await currentRevision(etcd.endpoints);
  const removed = await run('bgppeer', 'rr', 'remove', '10.0.0.9');
  t.equal(removed.code, 0, removed.stderr);
  t.match(
    removed.stdout,
    /deleted \/calico\/bgp\/v1\/rr_v4\/10\.0\.0\.9\ndeleted \/calico\/bgp\/v1\/global\/peer_v4\/10\.0\.0\.9/,
  );
  t.equal(BigInt(await currentRevision(etcd.endpoints)), BigInt(before) + 1n, 'one revision for both deletes');
  t.same(await keyValues(etcd.endpoints), {
    '/calico/bgp/v1/global/peer_v4/10.0.0.1': '{"ip":"10.0.0.1","as_num":"64567"}',
  });
  await refused(
    t,
    ['bgppeer', 'rr', 'remove', '10.0.0.1'],
    /no route reflector 10\.0\.0\.1 .*it is a plain global peer: use `birdwatch bgp peer remove 10\.0\.0\.1`/,
    1,
  );
});

t.test('bgppeer rr refusals', async (t) => {
  await refused(t, ['bgppeer', 'rr', 'add', '10.0.0.999'], /^error: IP "10\.0\.0\.999": not an IPv4 address/);
  await refused(
    t,
    ['bgppeer', 'rr', 'add', '10.0.0.9', '--cluster-id', '1.0.0'],
    /^error: --cluster-id "1\.0\.0": cluster id must be a dotted quad/,
  );
  await refused(t, ['bgppeer', 'rr', 'add', '10.0.0.9', '--as', 'x'], /^error: --as "x": AS number must be/);
});

t.test('bgp node-mesh and default-node-as: write, show, refuse', async (t) => {
  t.equal(
    (await run('bgp', 'node-mesh')).stdout,
    'node-to-node mesh: on (default: /calico/bgp/v1/global/node_mesh is not set)',
  );
  t.equal((await run('bgp', 'node-mesh', 'off')).code, 0);
  t.same(await keyValues(etcd.endpoints), { '/calico/bgp/v1/global/node_mesh': '{"enabled":false}' });
  t.equal((await run('bgp', 'node-mesh')).stdout, 'node-to-node mesh: off (from /calico/bgp/v1/global/node_mesh)');
  t.same(JSON.parse((await run('bgp', 'node-mesh', '--json')).stdout), { enabled: false, source: 'set' });
  t.equal((await run('bgp', 'node-mesh', 'on')).code, 0);
  t.same(await keyValues(etcd.endpoints), { '/calico/bgp/v1/global/node_mesh': '{"enabled":true}' });
  await refused(t, ['bgp', 'node-mesh', 'maybe'], /^error: node-mesh "maybe": expected on or off$/);

  t.equal(
    (await run('bgp', 'default-node-as')).stdout,
    'default node AS: 64511 (default: /calico/bgp/v1/global/as_num is not set)',
  );
  t.equal((await run('bgp', 'default-node-as', '1.10')).code, 0, 'asdot is stored asplain');
  t.equal((await keyValues(etcd.endpoints))['/calico/bgp/v1/global/as_num'], '65546');
  t.same(JSON.parse((await run('bgp', 'default-node-as', '--json')).stdout), { asNumber: 65546, source: 'set' });
  await refused(t, ['bgp', 'default-node-as', '-5'], /error/);
  await refused(t, ['bgp', 'default-node-as', '99999999999'], /^error: AS "99999999999": AS number must be/);
});

t.test('config bgp loglevel: global and per node', async (t) => {
  t.equal((await run('config', 'bgp', 'loglevel', 'debug')).code, 0);
  t.equal((await run('config', 'bgp', 'loglevel', 'none', '--node', 'calico-01')).code, 0);
  t.same(await keyValues(etcd.endpoints), {
    '/calico/bgp/v1/global/loglevel': 'debug',
    '/calico/bgp/v1/host/calico-01/loglevel': 'none',
  });
  await refused(
    t,
    ['config', 'bgp', 'loglevel', 'verbose'],
    /^error: level "verbose": log level must be one of none, debug, info$/,
  );
  await refused(t, ['config', 'bgp', 'loglevel', 'info', '--node', '-x'], /^error: --node "-x": node name must be/);
});

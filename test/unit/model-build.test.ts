import t from 'tap';
import { buildNodeModel } from '../../src/model/buildNodeModel.js';
import { encodeNodeMesh, encodePeer } from '../../src/model/encodings.js';
import { NodeConfigError } from '../../src/model/errors.js';
import { keys } from '../../src/model/keys.js';

const base = (): Map<string, string> =>
  new Map([
    [keys.hostAddress('me', 4), '10.0.0.1'],
    [keys.hostAddress('me', 6), '2001:db8::1'],
    [keys.hostAddress('b', 4), '10.0.0.2'],
    [keys.hostAddress('b', 6), '2001:db8::2'],
    [keys.hostAddress('c', 4), '10.0.0.10'],
  ]);
const names = (ks: Map<string, string>, family: 4 | 6 = 4): string[] => {
  const model = buildNodeModel(ks, { nodeName: 'me' });
  return (family === 4 ? model.v4 : model.v6).peers.map((p) => p.protocolName);
};

t.test('defaults when global keys are missing: AS 64511, mesh on, debug { states }', async (t) => {
  const model = buildNodeModel(base(), { nodeName: 'me' });
  t.equal(model.asNumber, 64511);
  t.equal(model.meshEnabled, true);
  t.equal(model.logLevel, 'info');
  t.same(model.diagnostics, []);
  t.same(names(base()), ['Mesh_10_0_0_2', 'Mesh_10_0_0_10'], 'peers sorted numerically, not as text');
  t.same(names(base(), 6), ['Mesh_2001_db8__2']);
  const other = buildNodeModel(base(), { nodeName: 'b' });
  // Calico's rule compares the address texts: "10.0.0.10" < "10.0.0.2" as text, so b (10.0.0.2) dials 10.0.0.10.
  t.same(
    other.v4.peers.map((p) => [p.protocolName, p.passive]),
    [
      ['Mesh_10_0_0_1', false],
      ['Mesh_10_0_0_10', false],
    ],
    'passive toward a peer whose address text sorts after ours',
  );
  const ten = buildNodeModel(base(), { nodeName: 'me' });
  t.same(
    ten.v4.peers.map((p) => [p.protocolName, p.passive]),
    [
      ['Mesh_10_0_0_2', true],
      ['Mesh_10_0_0_10', true],
    ],
    'me (10.0.0.1) waits for both',
  );
});

t.test('mesh passive side: exactly one side of every pair waits, by address text (Calico gt on strings)', async (t) => {
  const pairs: [string, string][] = [
    ['203.0.113.11', '203.0.113.102'],
    ['10.0.0.5', '10.0.0.10'],
    ['9.0.0.1', '10.0.0.1'],
    ['172.17.8.101', '172.17.8.99'],
  ];
  for (const [a, b] of pairs) {
    const ks = new Map([
      [keys.hostAddress('a', 4), a],
      [keys.hostAddress('b', 4), b],
    ]);
    const passiveOf = (node: string): boolean => buildNodeModel(ks, { nodeName: node }).v4.peers[0]!.passive;
    t.not(passiveOf('a'), passiveOf('b'), `${a} / ${b}: one side waits`);
    t.equal(passiveOf('a'), b > a, `${a} waits for ${b} exactly when "${b}" > "${a}"`);
  }
});

t.test('the node needs its own IPv4 address; the error names the key', async (t) => {
  const ks = base();
  ks.delete(keys.hostAddress('me', 4));
  t.throws(() => buildNodeModel(ks, { nodeName: 'me' }), {
    name: 'NodeConfigError',
    message: '/calico/bgp/v1/host/me/ip_addr_v4 is missing: node me needs an IPv4 address (BGP router id)',
  });
  ks.set(keys.hostAddress('me', 4), '10.0.0.1; protocol static x { }');
  try {
    buildNodeModel(ks, { nodeName: 'me' });
    t.fail('should throw');
  } catch (error) {
    t.ok(error instanceof NodeConfigError);
    t.match((error as Error).message, /ip_addr_v4 = "10\.0\.0\.1; protocol static x \{ \}": not an IPv4 address/);
  }
  t.throws(() => buildNodeModel(base(), { nodeName: 'bad name' }), /node name/);
});

t.test('one protocol per neighbor: node-specific beats global beats mesh', async (t) => {
  const ks = base();
  ks.set(keys.globalPeer(4, '10.0.0.2'), encodePeer('10.0.0.2', 65001));
  ks.set(keys.globalPeer(4, '10.0.0.10'), encodePeer('10.0.0.10', 65002));
  ks.set(keys.hostPeer('me', 4, '10.0.0.10'), encodePeer('10.0.0.10', 65003));
  const model = buildNodeModel(ks, { nodeName: 'me' });
  t.same(
    model.v4.peers.map((p) => [p.protocolName, p.asNumber]),
    [
      ['Global_10_0_0_2', 65001],
      ['Node_10_0_0_10', 65003],
    ],
  );
  t.same(
    model.diagnostics.map((d) => [d.key, d.action]),
    [
      [keys.globalPeer(4, '10.0.0.10'), 'overridden'],
      [keys.hostAddress('b', 4), 'overridden'],
      [keys.hostAddress('c', 4), 'overridden'],
    ],
  );
});

t.test("the node's own address is never a peer", async (t) => {
  const ks = base();
  ks.set(keys.globalPeer(4, '10.0.0.1'), encodePeer('10.0.0.1', 65001));
  ks.set(keys.hostPeer('me', 6, '2001:db8::1'), encodePeer('2001:db8::1', 65001));
  ks.set(keys.hostAddress('clone', 4), '10.0.0.1');
  const model = buildNodeModel(ks, { nodeName: 'me' });
  t.same(
    model.v4.peers.map((p) => p.protocolName),
    ['Mesh_10_0_0_2', 'Mesh_10_0_0_10'],
  );
  t.same(
    model.v6.peers.map((p) => p.protocolName),
    ['Mesh_2001_db8__2'],
  );
  t.equal(model.diagnostics.length, 3);
  t.ok(model.diagnostics.every((d) => /own address/.test(d.reason)));
});

t.test('AS: node override for local AS and for neighbor AS of other nodes; asdot converted', async (t) => {
  const ks = base();
  ks.set(keys.globalAsNumber, '64512');
  ks.set(keys.hostAsNumber('me'), '65010');
  ks.set(keys.hostAsNumber('b'), '1.10');
  const model = buildNodeModel(ks, { nodeName: 'me' });
  t.equal(model.asNumber, 65010);
  t.same(
    model.v4.peers.map((p) => p.asNumber),
    [65546, 64512],
  );
});

t.test('mesh off removes mesh peers only; a missing directory is never a failure', async (t) => {
  const ks = base();
  ks.set(keys.nodeMesh, encodeNodeMesh(false));
  ks.set(keys.globalPeer(4, '10.0.0.100'), encodePeer('10.0.0.100', 64511));
  ks.set(keys.hostAsNumber('ghost'), '65000');
  const model = buildNodeModel(ks, { nodeName: 'me' });
  t.same(
    model.v4.peers.map((p) => p.protocolName),
    ['Global_10_0_0_100'],
  );
  t.same(model.diagnostics, []);
  ks.set(keys.nodeMesh, '{"enabled": true}');
  t.equal(buildNodeModel(ks, { nodeName: 'me' }).meshEnabled, true, 'Python-style JSON with a space');
});

t.test('route reflectors mark the peers that are reflectors', async (t) => {
  const ks = base();
  ks.set(keys.routeReflector(4, '10.0.0.100'), '{"ip":"10.0.0.100","cluster_id":"1.0.0.1"}');
  ks.set(keys.globalPeer(4, '10.0.0.100'), encodePeer('10.0.0.100', 64511));
  const model = buildNodeModel(ks, { nodeName: 'me' });
  t.same(
    model.v4.routeReflectors.map((r) => [r.address.text, r.clusterId]),
    [['10.0.0.100', '1.0.0.1']],
  );
  t.same(
    model.v4.peers.filter((p) => p.routeReflector).map((p) => p.protocolName),
    ['Global_10_0_0_100'],
  );
});

t.test('pools: overlapping pools keep the first, blocks only of this node', async (t) => {
  const ks = base();
  ks.set(keys.pool(4, '10.0.0.0/8'), '{"cidr":"10.0.0.0/8"}');
  ks.set(keys.pool(4, '10.1.0.0/16'), '{"cidr":"10.1.0.0/16","ipip":"tunl0"}');
  ks.set(keys.block('me', 4, '10.2.0.0/26'), '');
  ks.set(keys.block('b', 4, '10.2.0.64/26'), '{}');
  const model = buildNodeModel(ks, { nodeName: 'me' });
  t.same(
    model.v4.pools.map((p) => p.cidr.text),
    ['10.0.0.0/8'],
  );
  t.match(model.diagnostics, [{ key: keys.pool(4, '10.1.0.0/16'), reason: /overlaps pool 10\.0\.0\.0\/8/ }]);
  t.same(
    model.v4.blocks.map((b) => b.text),
    ['10.2.0.0/26'],
  );
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startEtcdForTest } from './harness/etcd.js';
import { cli } from './support/cli.js';
import { keyValues } from './support/etcdKeyspace.js';

// The seed tutorial's steps as birdwatch commands → `birdwatch render --datastore etcd` → the protocols and
// filters BIRD gets (validated by bird -p inside render). Data written by the CLI is what the renderer reads.

const etcd = await startEtcdForTest(t);
const env = { ETCD_ENDPOINTS: etcd.endpoints.join(',') };
const dir = mkdtempSync(join(tmpdir(), 'birdwatch-roundtrip-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function step(t: Test, args: string[]): Promise<void> {
  const result = await cli(args, env);
  t.equal(result.code, 0, `birdwatch ${args.join(' ')}: ${result.stderr}`);
}

async function render(t: Test, node: string, out: string): Promise<Record<string, string>> {
  const result = await cli(['render', '--datastore', 'etcd', '--node', node, '--out', out, '--ipip', 'off'], env);
  t.equal(result.code, 0, `render ${node}: ${result.stderr}`);
  t.notMatch(
    result.stderr,
    /warning: (?!this bird does not support krt_tunnel)/,
    'no skipped entries: every CLI write is valid for the renderer',
  );
  const read = (file: string) => readFileSync(join(out, file), 'utf8');
  return {
    bird: read('bird.cfg'),
    bird6: read('bird6.cfg'),
    ipam: read('bird_ipam.cfg'),
    ipam6: read('bird6_ipam.cfg'),
  };
}

const protocols = (config: string): string[] =>
  [...config.matchAll(/^protocol bgp (\S+) from bgp_template \{\n {2}neighbor (\S+) as (\d+);/gm)].map(
    (m) => `${m[1]} ${m[2]} ${m[3]}`,
  );

t.test(
  'seed tutorial: pool, two nodes, a global and a node peer → Mesh_/Global_/Node_ and the pool filter',
  async (t) => {
    await step(t, ['pool', 'add', '192.168.0.0/16', '--ipip', '--nat-outgoing']);
    await step(t, ['pool', 'add', 'fd80:24e2:f998:72d6::/64']);
    await step(t, [
      'node',
      'register',
      '--node',
      'calico-01',
      '--ip',
      '172.17.8.101',
      '--ip6',
      'fd80:24e2:f998:72d7::1',
    ]);
    await step(t, [
      'node',
      'register',
      '--node',
      'calico-02',
      '--ip',
      '172.17.8.102',
      '--ip6',
      'fd80:24e2:f998:72d7::2',
      '--as',
      '64512',
    ]);
    await step(t, ['bgp', 'peer', 'add', '172.17.8.1', 'as', '64567']);
    await step(t, ['node', 'bgp', 'peer', 'add', '10.20.0.1', 'as', '64600', '--node', 'calico-01']);
    await step(t, ['node', 'bgp', 'peer', 'add', 'fd80::99', 'as', '64601', '--node', 'calico-01']);
    await step(t, ['config', 'bgp', 'loglevel', 'debug', '--node', 'calico-01']);

    const files = await render(t, 'calico-01', join(dir, 'one'));
    t.same(protocols(files.bird!), [
      'Mesh_172_17_8_102 172.17.8.102 64512',
      'Global_172_17_8_1 172.17.8.1 64567',
      'Node_10_20_0_1 10.20.0.1 64600',
    ]);
    t.same(protocols(files.bird6!), [
      'Mesh_fd80_24e2_f998_72d7__2 fd80:24e2:f998:72d7::2 64512',
      'Node_fd80__99 fd80::99 64601',
    ]);
    t.match(files.bird!, /router id 172\.17\.8\.101;/);
    t.match(files.bird!, /debug all;/, 'the node log level');
    t.match(files.ipam!, /if \( net ~ 192\.168\.0\.0\/16 \) then \{\n {4}accept;\n {2}\}/, 'the pool is exported');
    t.match(files.ipam6!, /if \( net ~ fd80:24e2:f998:72d6::\/64 \) then/);
    const other = await render(t, 'calico-02', join(dir, 'two'));
    t.same(
      protocols(other.bird!),
      ['Mesh_172_17_8_101 172.17.8.101 64511', 'Global_172_17_8_1 172.17.8.1 64567'],
      "calico-01's node peer is not calico-02's",
    );
    t.match(other.bird!, /local as 64512;/);
  },
);

t.test('route reflector, mesh off, default AS → Global_<rr> only; removing things removes protocols', async (t) => {
  await step(t, ['bgp', 'default-node-as', '64520']);
  await step(t, ['bgppeer', 'rr', 'add', '172.17.8.200', '--cluster-id', '1.0.0.1']);
  await step(t, ['bgp', 'node-mesh', 'off']);
  t.equal(
    (await keyValues(etcd.endpoints))['/calico/bgp/v1/global/peer_v4/172.17.8.200'],
    '{"ip":"172.17.8.200","as_num":"64520"}',
  );
  const files = await render(t, 'calico-01', join(dir, 'one'));
  t.same(protocols(files.bird!), [
    'Global_172_17_8_1 172.17.8.1 64567',
    'Global_172_17_8_200 172.17.8.200 64520',
    'Node_10_20_0_1 10.20.0.1 64600',
  ]);
  t.match(files.bird!, /local as 64520;/, 'the new default AS');

  await step(t, ['bgppeer', 'rr', 'remove', '172.17.8.200']);
  await step(t, ['bgp', 'peer', 'remove', '172.17.8.1']);
  await step(t, ['node', 'bgp', 'peer', 'remove', '10.20.0.1', '--node', 'calico-01']);
  await step(t, ['bgp', 'node-mesh', 'on']);
  await step(t, ['node', 'remove', '--node', 'calico-02']);
  await step(t, ['pool', 'remove', '192.168.0.0/16']);
  const after = await render(t, 'calico-01', join(dir, 'one'));
  t.same(protocols(after.bird!), [], 'no peers left');
  t.notMatch(after.ipam!, /192\.168\.0\.0\/16/, 'the pool is no longer exported');
});

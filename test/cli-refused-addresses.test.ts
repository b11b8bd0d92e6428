import t from 'tap';
import { parseIpAddress } from '../src/model/address.js';
import { startEtcdForTest } from './harness/etcd.js';
import { ADDRESS_SAMPLES } from './support/addressSweep.js';
import { clearKeyspace, keyValues } from './support/etcdKeyspace.js';
import { putKeyspace } from './support/etcdLoad.js';
import { operatorCli } from './support/operatorTest.js';

// The calicoctl-style writers refuse the addresses the model would skip (the same function decides: see
// src/model/address.ts): exit 2, one `error:` line naming the argument and the reason, nothing written. Real etcd.

const etcd = await startEtcdForTest(t);
const { run, refused } = operatorCli(etcd.endpoints);
t.beforeEach(() => clearKeyspace(etcd.endpoints));

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const unusable = ADDRESS_SAMPLES.filter((s) => !s.usable);
const canonical = (text: string): string => {
  const parsed = parseIpAddress(text);
  return parsed.ok ? parsed.value.text : text;
};

t.test('bgp peer add / node bgp peer add / bgppeer rr add refuse every unusable class', async (t) => {
  await putKeyspace(etcd.endpoints, new Map([['/calico/bgp/v1/host/calico-01/ip_addr_v4', '172.17.8.101']]));
  for (const s of unusable) {
    const reason = new RegExp(
      `^error: IP ${escape(JSON.stringify(s.text))}: ${escape(JSON.stringify(canonical(s.text)))} is (the|an) `,
    );
    await refused(t, ['bgp', 'peer', 'add', s.text, 'as', '64512'], reason);
    await refused(t, ['node', 'bgp', 'peer', 'add', s.text, 'as', '64512', '--node', 'calico-01'], reason);
    await refused(t, ['bgppeer', 'rr', 'add', s.text], reason);
  }
});

t.test('the message names the argument, the address and the class', async (t) => {
  await refused(
    t,
    ['bgp', 'peer', 'add', 'fe80::1', 'as', '64512'],
    /^error: IP "fe80::1": "fe80::1" is an IPv6 link-local address \(fe80::\/10\); BIRD needs an interface for it$/,
  );
  await refused(
    t,
    ['bgp', 'peer', 'add', '0.0.0.0', 'as', '64512'],
    /^error: IP "0\.0\.0\.0": "0\.0\.0\.0" is the unspecified address; BIRD refuses it as a neighbor/,
  );
  await refused(
    t,
    ['bgp', 'peer', 'add', '::FFFF:10.0.0.1', 'as', '64512'],
    /^error: IP "::FFFF:10\.0\.0\.1": "::ffff:a00:1" is an IPv4-mapped IPv6 address \(::ffff:0:0\/96\) for 10\.0\.0\.1;/,
  );
});

t.test('node register refuses an unusable --ip or --ip6', async (t) => {
  for (const s of unusable) {
    const args = s.family === 4 ? ['--ip', s.text] : ['--ip', '10.0.0.5', '--ip6', s.text];
    await refused(
      t,
      ['node', 'register', '--node', 'calico-05', ...args],
      new RegExp(`^error: --ip6? ${escape(JSON.stringify(s.text))}: ${escape(JSON.stringify(canonical(s.text)))} is `),
    );
  }
});

t.test('bgppeer rr add --cluster-id: what BIRD takes (a quad or a number), not 0', async (t) => {
  await refused(
    t,
    ['bgppeer', 'rr', 'add', '10.0.0.9', '--cluster-id', '0'],
    /^error: --cluster-id "0": cluster id 0 means "not set" to BIRD \(it would use the router id\)$/,
  );
  await refused(
    t,
    ['bgppeer', 'rr', 'add', '10.0.0.9', '--cluster-id', '1.2'],
    /^error: --cluster-id "1\.2": cluster id must be a dotted quad such as 1\.0\.0\.1 or a number 1-4294967295$/,
  );
  await refused(
    t,
    ['bgppeer', 'rr', 'add', '10.0.0.9', '--cluster-id', '4294967296'],
    /^error: --cluster-id "4294967296": /,
  );
  const added = await run('bgppeer', 'rr', 'add', '10.0.0.9', '--cluster-id', '7');
  t.equal(added.code, 0, added.stderr);
  t.equal((await keyValues(etcd.endpoints))['/calico/bgp/v1/rr_v4/10.0.0.9'], '{"ip":"10.0.0.9","cluster_id":"7"}');
});

t.test(
  'usable classes are written; an unusable entry written earlier can still be shown (warned) and removed',
  async (t) => {
    for (const text of ['127.0.0.2', '240.0.0.1', 'fec0::1', '192.0.2.1'])
      t.equal((await run('bgp', 'peer', 'add', text, 'as', '64512')).code, 0, `${text} is written`);
    await putKeyspace(
      etcd.endpoints,
      new Map([
        ['/calico/bgp/v1/global/peer_v6/fe80::1', '{"ip":"fe80::1","as_num":"64512"}'],
        ['/calico/bgp/v1/rr_v4/224.0.0.1', '{"ip":"224.0.0.1"}'],
        ['/calico/bgp/v1/global/peer_v4/224.0.0.1', '{"ip":"224.0.0.1","as_num":"64512"}'],
      ]),
    );
    const show = await run('bgp', 'peer', 'show');
    t.equal(show.code, 0);
    t.match(
      show.stderr,
      /warning: \/calico\/bgp\/v1\/global\/peer_v6\/fe80::1 = .*: "fe80::1" is an IPv6 link-local address/,
    );
    const removed = await run('bgp', 'peer', 'remove', 'fe80::1');
    t.equal(removed.code, 0, removed.stderr);
    const rrRemoved = await run('bgppeer', 'rr', 'remove', '224.0.0.1');
    t.equal(rrRemoved.code, 0, rrRemoved.stderr);
    const left = Object.keys(await keyValues(etcd.endpoints)).sort();
    t.same(left, [
      '/calico/bgp/v1/global/peer_v4/127.0.0.2',
      '/calico/bgp/v1/global/peer_v4/192.0.2.1',
      '/calico/bgp/v1/global/peer_v4/240.0.0.1',
      '/calico/bgp/v1/global/peer_v6/fec0::1',
    ]);
  },
);

t.test('node show warns about a stored address the renderer would skip, and shows none for it', async (t) => {
  await putKeyspace(
    etcd.endpoints,
    new Map([
      ['/calico/bgp/v1/host/calico-07/ip_addr_v4', '10.0.0.7'],
      ['/calico/bgp/v1/host/calico-07/ip_addr_v6', 'fe80::7'],
    ]),
  );
  const show = await run('node', 'show', '--json');
  t.equal(show.code, 0);
  t.match(
    show.stderr,
    /^warning: \/calico\/bgp\/v1\/host\/calico-07\/ip_addr_v6 = "fe80::7": "fe80::7" is an IPv6 link-local address/,
  );
  t.match(JSON.parse(show.stdout), { nodes: [{ name: 'calico-07', ipv4: '10.0.0.7', ipv6: null }] });
});

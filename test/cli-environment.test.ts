/**
 * calico-node's environment: ETCD_ENDPOINTS / ETCD_AUTHORITY / ETCD_SCHEME / ETCD_*_FILE (an empty variable
 * is unset, as in calico.env), and IP / IP6 / AS for `node register` and `run --register`, `autodetect`
 * included (through a fake HostAddresses here; test/autodetect-netns.test.ts runs the real one in namespaces).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { HostAddresses, HostInterface } from '../src/cli/addressAutodetection.js';
import { resolveEtcdOptions } from '../src/cli/commonOptions.js';
import { UsageError } from '../src/cli/usageError.js';
import { runCli } from '../src/cli/program.js';
import { startEtcdForTest } from './harness/etcd.js';
import { clearKeyspace, keyValues, dumpKeyspace } from './support/etcdKeyspace.js';

t.test('etcd endpoints and files from the environment', async (t) => {
  const resolve = (env: Record<string, string>) => resolveEtcdOptions({}, env);
  t.same(resolve({}).endpoints, ['http://127.0.0.1:2379'], 'nothing set: local etcd');
  t.same(resolve({ ETCD_ENDPOINTS: 'http://10.0.0.1:2379,http://10.0.0.2:2379' }).endpoints, [
    'http://10.0.0.1:2379',
    'http://10.0.0.2:2379',
  ]);
  t.same(
    resolve({ ETCD_ENDPOINTS: '', ETCD_AUTHORITY: '10.0.0.9:2379' }).endpoints,
    ['http://10.0.0.9:2379'],
    'empty ETCD_ENDPOINTS: ETCD_AUTHORITY, http',
  );
  t.same(
    resolve({ ETCD_ENDPOINTS: ' ', ETCD_AUTHORITY: '10.0.0.9:2379', ETCD_SCHEME: 'https' }).endpoints,
    ['https://10.0.0.9:2379'],
    'with ETCD_SCHEME',
  );
  t.same(
    resolve({ ETCD_ENDPOINTS: '', ETCD_AUTHORITY: '' }).endpoints,
    ['http://127.0.0.1:2379'],
    'both empty: local etcd',
  );
  t.same(
    resolveEtcdOptions({ etcdEndpoints: 'http://10.0.0.3:2379' }, { ETCD_ENDPOINTS: 'http://10.0.0.1:2379' }).endpoints,
    ['http://10.0.0.3:2379'],
    'the flag wins',
  );
  const files = resolve({ ETCD_CA_CERT_FILE: '', ETCD_CERT_FILE: '', ETCD_KEY_FILE: '', ETCD_USERNAME: '' });
  t.same(
    [files.caFile, files.certFile, files.keyFile, files.username],
    [undefined, undefined, undefined, undefined],
    'calico.env\'s empty ETCD_*_FILE="" mean none',
  );
  const tls = resolve({ ETCD_CA_CERT_FILE: '/ca.pem', ETCD_CERT_FILE: '/c.pem', ETCD_KEY_FILE: '/k.pem' });
  t.same([tls.caFile, tls.certFile, tls.keyFile], ['/ca.pem', '/c.pem', '/k.pem']);
  t.throws(
    () => resolve({ ETCD_AUTHORITY: '10.0.0.9:2379', ETCD_SCHEME: 'ftp' }),
    /ETCD_SCHEME "ftp": expected http or https/,
  );
  t.throws(
    () => resolve({ ETCD_CERT_FILE: '/c.pem', ETCD_KEY_FILE: '' }),
    /--etcd-key: the client certificate and key must be given together/,
  );
  try {
    resolve({ ETCD_ENDPOINTS: 'etcd:2379' });
    t.fail('refused');
  } catch (e) {
    t.ok(e instanceof UsageError && e.argument === 'ETCD_ENDPOINTS', 'a bad ETCD_ENDPOINTS is named');
  }
});

const etcd = await startEtcdForTest(t);
t.beforeEach(() => clearKeyspace(etcd.endpoints));

/** A host with eth0 (10.0.5.7/24, fd00:5::7/64) and ens3 (192.168.9.4/16), routing everything via ens3. */
const fakeHost: HostAddresses = {
  interfaces: (): HostInterface[] => [
    {
      name: 'lo',
      addresses: [
        { address: '127.0.0.1', family: 4, prefixLength: 8 },
        { address: '::1', family: 6, prefixLength: 128 },
      ],
    },
    { name: 'docker0', addresses: [{ address: '172.17.0.1', family: 4, prefixLength: 16 }] },
    {
      name: 'eth0',
      addresses: [
        { address: 'fe80::1', family: 6, prefixLength: 64 },
        { address: '10.0.5.7', family: 4, prefixLength: 24 },
        { address: 'fd00:5::7', family: 6, prefixLength: 64 },
      ],
    },
    { name: 'ens3', addresses: [{ address: '192.168.9.4', family: 4, prefixLength: 16 }] },
  ],
  sourceAddressToward: (_destination, family) => Promise.resolve(family === 4 ? '192.168.9.4' : 'fd00:5::7'),
};

async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  await runCli(args, {
    env: { ETCD_ENDPOINTS: etcd.endpoints.join(','), ...env },
    hostAddresses: fakeHost,
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    setExitCode: (c) => {
      code = c;
    },
    shutdownSignal: () => new AbortController().signal,
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const host = (name: string) => `/calico/bgp/v1/host/${name}`;

t.test('node register reads IP, IP6 and AS', async (t) => {
  const plain = await cli(['node', 'register', '--node', 'calico-01'], { IP: '172.17.8.101' });
  t.equal(plain.code, 0, `IP=172.17.8.101 birdwatch node register --node calico-01 ${plain.stderr}`);
  let values = await keyValues(etcd.endpoints);
  t.equal(values[`${host('calico-01')}/ip_addr_v4`], '172.17.8.101');
  t.equal(values[`${host('calico-01')}/ip_addr_v6`], '');

  const all = await cli(['node', 'register'], {
    NODENAME: 'calico-02',
    IP: '172.17.8.102',
    IP6: 'fd80::2',
    AS: '64513',
  });
  t.equal(all.code, 0, all.stderr);
  values = await keyValues(etcd.endpoints);
  t.same(
    [
      values[`${host('calico-02')}/ip_addr_v4`],
      values[`${host('calico-02')}/ip_addr_v6`],
      values[`${host('calico-02')}/as_num`],
    ],
    ['172.17.8.102', 'fd80::2', '64513'],
  );

  const flagsWin = await cli(['node', 'register', '--node', 'calico-02', '--ip', '172.17.8.112', '--as', '64514'], {
    IP: '172.17.8.102',
    IP6: 'none',
    AS: '64513',
  });
  t.equal(flagsWin.code, 0, flagsWin.stderr);
  values = await keyValues(etcd.endpoints);
  t.same(
    [
      values[`${host('calico-02')}/ip_addr_v4`],
      values[`${host('calico-02')}/ip_addr_v6`],
      values[`${host('calico-02')}/as_num`],
    ],
    ['172.17.8.112', '', '64514'],
    'flags over variables; IP6=none clears IPv6',
  );

  const empty = await cli(['node', 'register', '--node', 'calico-03', '--ip', '172.17.8.103'], { IP6: '', AS: '' });
  t.equal(empty.code, 0, 'empty IP6 and AS are unset');
});

t.test('node register with IP=autodetect / IP6=autodetect and the methods', async (t) => {
  const first = await cli(['node', 'register', '--node', 'n1'], { IP: 'autodetect', IP6: 'autodetect' });
  t.equal(first.code, 0, first.stderr);
  t.match(
    first.stdout,
    /^IPv4 address 10\.0\.5\.7 autodetected \(first-found\) on eth0$/m,
    'says what it found, skipping lo and docker0',
  );
  t.match(
    first.stdout,
    /^IPv6 address fd00:5::7 autodetected \(first-found\) on eth0$/m,
    'a global IPv6 address, not the link-local one',
  );
  let values = await keyValues(etcd.endpoints);
  t.same(
    [values[`${host('n1')}/ip_addr_v4`], values[`${host('n1')}/ip_addr_v6`], values[`${host('n1')}/network_v4`]],
    ['10.0.5.7', 'fd00:5::7', '10.0.5.0/24'],
    'network_v4 from the interface prefix',
  );

  const byInterface = await cli(['node', 'register', '--node', 'n2'], {
    IP: 'autodetect',
    IP_AUTODETECTION_METHOD: 'interface=ens.*,wlan0',
  });
  t.equal(byInterface.code, 0, byInterface.stderr);
  const skipping = await cli(['node', 'register', '--node', 'n3', '--ip', 'autodetect'], {
    IP_AUTODETECTION_METHOD: 'skip-interface=eth0,ens3',
  });
  t.equal(skipping.code, 1, 'no interface left: exit 1');
  t.match(
    skipping.stderr,
    /^error: IPv4 autodetection \(skip-interface=eth0,ens3\): no usable IPv4 address on a matching interface/,
  );
  const reach = await cli(['node', 'register', '--node', 'n4'], {
    IP: 'autodetect',
    IP_AUTODETECTION_METHOD: 'can-reach=8.8.8.8',
  });
  t.equal(reach.code, 2, "can-reach finds ens3 — already n2's address: refused like any address");
  t.match(reach.stderr, /^error: IP "192\.168\.9\.4": is already the address of node n2/);
  values = await keyValues(etcd.endpoints);
  t.equal(values[`${host('n2')}/ip_addr_v4`], '192.168.9.4');
  t.notOk(`${host('n3')}/ip_addr_v4` in values, 'nothing written for n3');
  t.notOk(`${host('n4')}/ip_addr_v4` in values, 'nothing written for n4');
});

t.test('bad IP, IP6, AS or method: one line naming the variable, nothing written', async (t) => {
  const before = await dumpKeyspace(etcd.endpoints);
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /^error: --ip: required: the node's IPv4 address \(--ip or IP; IP=autodetect finds it on this host\)$/],
    [{ IP: 'none' }, /^error: IP "none": birdwatch needs the node's IPv4 address/],
    [{ IP: '10.0.0.300' }, /^error: IP "10\.0\.0\.300": not an IPv4 address/],
    [{ IP: '10.0.0.1', IP6: '10.0.0.2' }, /^error: IP6 "10\.0\.0\.2": not an IPv6 address/],
    [{ IP: '10.0.0.1', AS: 'sixty' }, /^error: AS "sixty": /],
    [
      { IP: 'autodetect', IP_AUTODETECTION_METHOD: 'nearest' },
      /^error: IP_AUTODETECTION_METHOD "nearest": expected first-found, can-reach=DEST, interface=REGEX or skip-interface=REGEX$/,
    ],
    [
      { IP: '10.0.0.1', IP6: 'autodetect', IP6_AUTODETECTION_METHOD: 'interface=(' },
      /^error: IP6_AUTODETECTION_METHOD "interface=\(": "\(" is not a regular expression/,
    ],
    [
      { IP: 'autodetect', IP_AUTODETECTION_METHOD: 'can-reach=' },
      /^error: IP_AUTODETECTION_METHOD "can-reach=": can-reach needs a destination/,
    ],
  ];
  for (const [env, message] of cases) {
    const result = await cli(['node', 'register', '--node', 'bad-1'], env);
    t.equal(result.code, 2, `${JSON.stringify(env)}: exit 2`);
    t.match(result.stderr, message);
    t.equal(result.stderr.split('\n').length, 1, 'one line');
  }
  t.same(await dumpKeyspace(etcd.endpoints), before, 'nothing written');
});

t.test('run --once --register: registers as calico-node did, keeping what is unset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-register-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = (env: Record<string, string>, extra: string[] = []) =>
    cli(
      [
        'run',
        '--once',
        '--register',
        '--config-dir',
        dir,
        '--bird-socket',
        join(dir, 'b.ctl'),
        '--bird6-socket',
        join(dir, 'b6.ctl'),
        '--ipip',
        'off',
        '--log-format',
        'json',
        ...extra,
      ],
      env,
    );

  const first = await run({ NODENAME: 'r1', IP: 'autodetect', IP6: 'fd80::11', AS: '64600' });
  t.equal(first.code, 0, first.stderr);
  let values = await keyValues(etcd.endpoints);
  t.same(
    [
      values[`${host('r1')}/ip_addr_v4`],
      values[`${host('r1')}/ip_addr_v6`],
      values[`${host('r1')}/as_num`],
      values[`${host('r1')}/network_v4`],
    ],
    ['10.0.5.7', 'fd80::11', '64600', '10.0.5.0/24'],
    'registered from IP=autodetect, IP6, AS',
  );
  const again = await run({ NODENAME: 'r1' });
  t.equal(again.code, 0, again.stderr);
  values = await keyValues(etcd.endpoints);
  t.same(
    [values[`${host('r1')}/ip_addr_v4`], values[`${host('r1')}/ip_addr_v6`], values[`${host('r1')}/as_num`]],
    ['10.0.5.7', 'fd80::11', '64600'],
    'IP, IP6, AS unset: the registered values stay',
  );
  const cleared = await run({ NODENAME: 'r1', IP6: 'none' });
  t.equal(cleared.code, 0, cleared.stderr);
  t.equal((await keyValues(etcd.endpoints))[`${host('r1')}/ip_addr_v6`], '', 'IP6=none clears IPv6');
  const fresh = await run({ NODENAME: 'r2' });
  t.equal(fresh.code, 2, "a new node with IP unset autodetects (first-found): eth0 is r1's — refused");
  t.match(fresh.stderr, /IP "10\.0\.5\.7": is already the address of node r1/);
  const reflector = await cli(['run', '--once', '--register', '--role', 'route-reflector', '--ip', '10.0.0.1'], {});
  t.equal(reflector.code, 2);
  t.match(reflector.stderr, /^error: --register: registers a node \(--role node\)/);
});

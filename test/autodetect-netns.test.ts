/**
 * calico-node's autodetection methods against real interfaces: a network namespace with a container bridge
 * (docker0, never chosen), eth0 (10.77.0.2/24, fd77::2/64) and ens5 (10.88.0.5/16, fd88::5/64, default
 * route), each a veth whose peer is up in a second namespace. The probe runs the real system source inside.
 */
import { execa } from 'execa';
import t from 'tap';
import { createNamespace } from './harness/netns.js';
import { skipWithoutNamespaces } from './lab/e2e.js';
import { REPO_ROOT } from './lab/lab.js';

interface ProbeResult {
  readonly family: 4 | 6;
  readonly method: string;
  readonly address?: string;
  readonly source?: string;
  readonly prefixLength?: number | null;
  readonly error?: string;
}

t.test('first-found, interface=, skip-interface=, can-reach= in a namespace', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const host = await createNamespace(t, 'bwad');
  const peer = await createNamespace(t, 'bwadp');
  const ip = (...args: string[]) => execa('ip', args);
  // Created in this order, so the kernel lists docker0 first: first-found must still skip it.
  await ip('-n', host.name, 'link', 'add', 'docker0', 'type', 'veth', 'peer', 'name', 'dockerpeer');
  await ip('-n', host.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0', 'netns', peer.name);
  await ip('-n', host.name, 'link', 'add', 'ens5', 'type', 'veth', 'peer', 'name', 'p5', 'netns', peer.name);
  await ip('-n', host.name, 'addr', 'add', '172.17.0.1/16', 'dev', 'docker0');
  await ip('-n', host.name, 'addr', 'add', '10.77.0.2/24', 'dev', 'eth0');
  await ip('-n', host.name, '-6', 'addr', 'add', 'fd77::2/64', 'dev', 'eth0', 'nodad');
  await ip('-n', host.name, 'addr', 'add', '10.88.0.5/16', 'dev', 'ens5');
  await ip('-n', host.name, '-6', 'addr', 'add', 'fd88::5/64', 'dev', 'ens5', 'nodad');
  for (const link of ['docker0', 'dockerpeer', 'eth0', 'ens5']) await ip('-n', host.name, 'link', 'set', link, 'up');
  for (const link of ['p0', 'p5']) await ip('-n', peer.name, 'link', 'set', link, 'up');
  await ip('-n', host.name, 'route', 'add', 'default', 'via', '10.88.0.1', 'dev', 'ens5');

  const cases = [
    { family: 4, method: 'first-found' },
    { family: 6, method: 'first-found' },
    { family: 4, method: 'interface=^ens' },
    { family: 6, method: 'interface=nomatch,ens.*' },
    { family: 4, method: 'skip-interface=eth.*' },
    { family: 4, method: 'can-reach=192.0.2.7' },
    { family: 4, method: 'can-reach=10.77.0.9' },
    { family: 6, method: 'can-reach=fd77::9' },
    { family: 6, method: 'can-reach=2001:db8::1' },
    { family: 4, method: 'interface=^wlan' },
    { family: 4, method: 'interface=docker0' },
  ];
  const probe = await execa(
    'ip',
    [
      'netns',
      'exec',
      host.name,
      process.execPath,
      '--import',
      'tsx',
      'test/support/autodetectProbe.ts',
      JSON.stringify(cases),
    ],
    { cwd: REPO_ROOT, reject: false },
  );
  t.equal(probe.exitCode, 0, probe.stderr);
  const results = JSON.parse(probe.stdout) as ProbeResult[];
  const result = (i: number): ProbeResult => results[i] ?? { family: 4, method: '?', error: 'no result' };
  t.match(
    result(0),
    { address: '10.77.0.2', source: 'eth0', prefixLength: 24 },
    'first-found v4: eth0, past docker0 and lo',
  );
  t.match(
    result(1),
    { address: 'fd77::2', source: 'eth0', prefixLength: 64 },
    'first-found v6: eth0 global address (link-local skipped)',
  );
  t.match(result(2), { address: '10.88.0.5', source: 'ens5', prefixLength: 16 }, 'interface=^ens');
  t.match(result(3), { address: 'fd88::5', source: 'ens5' }, 'interface= takes a comma list');
  t.match(result(4), { address: '10.88.0.5', source: 'ens5' }, 'skip-interface=eth.*');
  t.match(
    result(5),
    { address: '10.88.0.5', source: 'route to 192.0.2.7', prefixLength: 16 },
    'can-reach= follows the default route',
  );
  t.match(result(6), { address: '10.77.0.2', source: 'route to 10.77.0.9' }, 'can-reach= a connected subnet');
  t.match(result(7), { address: 'fd77::2' }, 'can-reach= v6');
  t.match(
    result(8),
    { error: /^IPv6 autodetection \(can-reach=2001:db8::1\): no route/ },
    'no IPv6 route: an error naming the method',
  );
  t.match(
    result(9),
    {
      error:
        /^IPv4 autodetection \(interface=\^wlan\): no usable IPv4 address on a matching interface \(interfaces up: /,
    },
    'no matching interface: an error naming the method',
  );
  const listed = /interfaces up: ([^)]*)\)/
    .exec(result(9).error ?? '')?.[1]
    ?.split(', ')
    .sort();
  t.same(listed, ['dockerpeer', 'docker0', 'ens5', 'eth0', 'lo'].sort(), 'and the interfaces it saw');
  t.match(
    result(10),
    { error: /no usable IPv4 address/ },
    'an interface calico-node excludes (docker0) is never chosen, even when named',
  );
});

/**
 * calico-node's start-up, through the shipped runit services: each host's birdwatch service registers its
 * node itself (BIRDWATCH_REGISTER → `run --once --register`) from IP / IP6 / AS, autodetecting the
 * addresses on the host namespace's own interfaces, and the mesh comes up on what it registered.
 */
import t from 'tap';
import { labForTest, skipWithoutNamespaces } from './lab/e2e.js';
import type { LabHost } from './lab/lab.js';
import { expectSessions, protocolName } from './lab/observe.js';
import { keyValues } from './support/etcdKeyspace.js';

const TIMEOUT = 40_000;

t.test('hosts register themselves at start (IP=autodetect, IP6=autodetect, AS) and mesh', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, { hosts: 2, register: false, start: false });
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  await lab.startHost(h1.name, {
    env: {
      BIRDWATCH_REGISTER: '1',
      IP: 'autodetect',
      IP_AUTODETECTION_METHOD: 'interface=^eth0$',
      IP6: 'autodetect',
      AS: '64512',
    },
  });
  await lab.startHost(h2.name, {
    env: {
      BIRDWATCH_REGISTER: '1',
      IP: h2.ip4,
      IP6: 'autodetect',
      IP6_AUTODETECTION_METHOD: `can-reach=${h1.ip6}`,
      AS: '64512',
    },
  });
  const values = await keyValues(lab.etcd.endpoints);
  const key = (h: LabHost, leaf: string): string | undefined => values[`/calico/bgp/v1/host/${h.name}/${leaf}`];
  t.same(
    [key(h1, 'ip_addr_v4'), key(h1, 'network_v4'), key(h1, 'ip_addr_v6'), key(h1, 'as_num')],
    [h1.ip4, '10.99.0.0/24', h1.ip6, '64512'],
    'h1: autodetected on eth0 (with its subnet), AS',
  );
  t.same(
    [key(h2, 'ip_addr_v4'), key(h2, 'ip_addr_v6'), key(h2, 'as_num')],
    [h2.ip4, h2.ip6, '64512'],
    'h2: IP as given, IPv6 by can-reach',
  );
  await expectSessions(t, h1, 4, [protocolName('Mesh', h2.ip4)], { timeoutMs: TIMEOUT });
  await expectSessions(t, h2, 6, [protocolName('Mesh', h1.ip6)], { timeoutMs: TIMEOUT });
});

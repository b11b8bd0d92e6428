/**
 * End to end: a node-specific eBGP peering between two hosts in different ASes (`node bgp peer add`
 * on both sides, each with the other's AS), mesh off: the only sessions are `Node_` ones, Established,
 * IPv4 and IPv6, and each host's block reaches the other with the other's AS in its path.
 */
import t from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { addBlock, addNodePeer, addPool, setNodeMesh } from './lab/keyspace.js';
import { block4, block6, labForTest, POOL4, POOL6, skipWithoutNamespaces } from './lab/e2e.js';
import type { LabHost } from './lab/lab.js';
import { expectRoute, expectSessions, protocolName } from './lab/observe.js';

const TIMEOUT = 40_000;

t.test('node-specific eBGP peers between hosts with different AS numbers', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, {
    hosts: [
      { name: 'a1', as: '64512' },
      { name: 'b1', as: '64513' },
    ],
    start: false,
  });
  const [a, b] = lab.hosts as [LabHost, LabHost];
  const client = lab.client();
  await setNodeMesh(client, false);
  await addPool(client, POOL4);
  await addPool(client, POOL6);
  for (const h of [a, b]) {
    await addBlock(client, h.name, block4(h.index));
    await addBlock(client, h.name, block6(h.index));
  }
  for (const h of lab.hosts) await lab.startHost(h.name);
  await expectSessions(t, a, 4, [], { timeoutMs: TIMEOUT });

  await addNodePeer(client, a.name, b.ip4, '64513');
  await addNodePeer(client, a.name, b.ip6, '64513');
  await addNodePeer(client, b.name, a.ip4, '64512');
  await addNodePeer(client, b.name, a.ip6, '64512');

  for (const [h, other] of [
    [a, b],
    [b, a],
  ] as const) {
    await expectSessions(t, h, 4, [protocolName('Node', other.ip4)], { timeoutMs: TIMEOUT });
    await expectSessions(t, h, 6, [protocolName('Node', other.ip6)], { timeoutMs: TIMEOUT });
    const details = await runBirdCommand(h.sockets.bird, `show protocols all ${protocolName('Node', other.ip4)}`);
    const text = details.lines.map((l) => l.text).join('\n');
    t.match(text, new RegExp(`Neighbor AS:\\s+${other.as ?? '?'}\\b`), `${h.name}: neighbor AS ${other.as ?? '?'}`);
    await expectRoute(t, h, block4(other.index), other.ip4, { timeoutMs: TIMEOUT });
    await expectRoute(t, h, block6(other.index), other.ip6, { timeoutMs: TIMEOUT });
    const route = await runBirdCommand(h.sockets.bird, `show route ${block4(other.index)} all`);
    t.match(
      route.lines.map((l) => l.text).join('\n'),
      new RegExp(`BGP\\.as_path: ${other.as ?? '?'}\\b`),
      `${h.name}: the route's AS path is the other host's AS`,
    );
  }
});

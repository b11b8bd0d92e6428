/**
 * End to end: two nodes and a route reflector (`birdwatch run --role route-reflector`), each a network
 * namespace with real BIRD/BIRD6. Mesh first; then the reflector is registered and peered with (as
 * `bgppeer rr add` does) and the mesh is turned off: the nodes keep exchanging their blocks through the
 * reflector. Removing the reflector leaves no session behind; turning the mesh on again restores it.
 */
import t from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import {
  addBlock,
  addGlobalPeer,
  addPool,
  addRouteReflector,
  removeGlobalPeer,
  removeRouteReflector,
  setNodeMesh,
} from './lab/keyspace.js';
import { block4, block6, labForTest, POOL4, POOL6, skipWithoutNamespaces } from './lab/e2e.js';
import type { LabHost } from './lab/lab.js';
import { expectRoute, expectSessions, kernelRoutes, protocolName } from './lab/observe.js';

const TIMEOUT = 40_000;
const AS = '64511'; // the default global AS (no global as_num key)

t.test(
  'route reflector: mesh off + reflector, routes through it; reflector removed leaves a clean state',
  async (t) => {
    if (await skipWithoutNamespaces(t)) return;
    const lab = await labForTest(t, {
      hosts: [{ name: 'n1' }, { name: 'n2' }, { name: 'rr', role: 'route-reflector' }],
    });
    const [n1, n2, rr] = lab.hosts as [LabHost, LabHost, LabHost];
    const client = lab.client();
    await addPool(client, POOL4);
    await addPool(client, POOL6);
    for (const n of [n1, n2]) {
      await addBlock(client, n.name, block4(n.index));
      await addBlock(client, n.name, block6(n.index));
    }
    const v4 = { n1: protocolName('Mesh', n2.ip4), n2: protocolName('Mesh', n1.ip4) };
    const v6 = { n1: protocolName('Mesh', n2.ip6), n2: protocolName('Mesh', n1.ip6) };

    await t.test('before: n1 and n2 mesh; the reflector has no client yet', async (t) => {
      await expectSessions(t, n1, 4, [v4.n1], { timeoutMs: TIMEOUT });
      await expectSessions(t, n2, 6, [v6.n2], { timeoutMs: TIMEOUT });
      await expectSessions(t, rr, 4, [], { timeoutMs: TIMEOUT });
      await expectSessions(t, rr, 6, [], { timeoutMs: TIMEOUT });
    });

    await t.test(
      'reflector registered and peered, mesh off: both nodes Established with it; blocks via the reflector',
      async (t) => {
        for (const ip of [rr.ip4, rr.ip6]) {
          await addRouteReflector(client, ip);
          await addGlobalPeer(client, ip, AS);
        }
        await setNodeMesh(client, false);
        const checks = [
          ...[n1, n2].flatMap((n) => [
            expectSessions(t, n, 4, [protocolName('Global', rr.ip4)], { timeoutMs: TIMEOUT }),
            expectSessions(t, n, 6, [protocolName('Global', rr.ip6)], { timeoutMs: TIMEOUT }),
          ]),
          expectSessions(t, rr, 4, [protocolName('Client', n1.ip4), protocolName('Client', n2.ip4)], {
            timeoutMs: TIMEOUT,
          }),
          expectSessions(t, rr, 6, [protocolName('Client', n1.ip6), protocolName('Client', n2.ip6)], {
            timeoutMs: TIMEOUT,
          }),
        ];
        await Promise.all(checks);
        // Reflected routes keep the announcing node as next hop.
        await expectRoute(t, n1, block4(n2.index), n2.ip4, { timeoutMs: TIMEOUT });
        await expectRoute(t, n1, block6(n2.index), n2.ip6, { timeoutMs: TIMEOUT });
        await expectRoute(t, n2, block4(n1.index), n1.ip4, { timeoutMs: TIMEOUT });
        await expectRoute(t, n2, block6(n1.index), n1.ip6, { timeoutMs: TIMEOUT });
        for (const [h, o] of [
          [n1, n2],
          [n2, n1],
        ] as const) {
          for (const [cidr, rrIp, socket] of [
            [block4(o.index), rr.ip4, h.sockets.bird],
            [block6(o.index), rr.ip6, h.sockets.bird6],
          ] as const) {
            const reply = await runBirdCommand(socket, `show route ${cidr}`);
            const text = reply.lines.map((l) => l.text).join('\n');
            t.match(text, `[${protocolName('Global', rrIp)} `, `${h.name}: ${cidr} is learned from the reflector`);
            t.match(text, ` from ${rrIp}]`, `${h.name}: ${cidr} comes from ${rrIp}`);
          }
        }
        t.same(await kernelRoutes(rr, 4), [], 'the reflector programs no kernel routes (v4)');
        t.same(await kernelRoutes(rr, 6), [], 'the reflector programs no kernel routes (v6)');
      },
    );

    await t.test(
      'reflector removed: no Global_ session on the nodes, no Client_ session on the reflector, routes withdrawn',
      async (t) => {
        for (const ip of [rr.ip4, rr.ip6]) {
          await removeGlobalPeer(client, ip);
          await removeRouteReflector(client, ip);
        }
        const checks = [n1, n2, rr].flatMap((h) => [
          expectSessions(t, h, 4, [], { timeoutMs: TIMEOUT }),
          expectSessions(t, h, 6, [], { timeoutMs: TIMEOUT }),
        ]);
        await Promise.all(checks);
        await expectRoute(t, n1, block4(n2.index), undefined, { timeoutMs: TIMEOUT });
        await expectRoute(t, n2, block6(n1.index), undefined, { timeoutMs: TIMEOUT });
      },
    );

    await t.test('mesh on again: n1 and n2 mesh and exchange blocks again', async (t) => {
      await setNodeMesh(client, true);
      await expectSessions(t, n1, 4, [v4.n1], { timeoutMs: TIMEOUT });
      await expectSessions(t, n2, 6, [v6.n2], { timeoutMs: TIMEOUT });
      await expectRoute(t, n1, block4(n2.index), n2.ip4, { timeoutMs: TIMEOUT });
      await expectRoute(t, n2, block6(n1.index), n1.ip6, { timeoutMs: TIMEOUT });
    });
  },
);

/**
 * End to end: three hosts (network namespaces on a bridge) with real BIRD/BIRD6 configured by
 * `birdwatch run` from a real etcd. Full mesh over IPv4 and IPv6; each host's IPAM block reaches the
 * other hosts' kernels; a host deleted from etcd drops out of the others' BIRDs, and comes back.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { addBlock, addPool, registerHost, removeHost } from './lab/keyspace.js';
import { labForTest, skipWithoutNamespaces, block4, block6, POOL4, POOL6 } from './lab/e2e.js';
import { guardArgs } from './lab/guard.js';
import type { Lab, LabHost } from './lab/lab.js';
import { expectRoute, expectSessions, protocolName, type Family } from './lab/observe.js';

const TIMEOUT = 40_000;

const meshNames = (lab: Lab, host: LabHost, family: Family, without: readonly string[] = []): string[] =>
  lab.hosts
    .filter((o) => o !== host && !without.includes(o.name))
    .map((o) => protocolName('Mesh', family === 4 ? o.ip4 : o.ip6));

async function expectFullMesh(t: Test, lab: Lab, without: readonly string[] = []): Promise<void> {
  const live = lab.hosts.filter((h) => !without.includes(h.name));
  await Promise.all(
    live.flatMap((h) =>
      ([4, 6] as const).map((f) => expectSessions(t, h, f, meshNames(lab, h, f, without), { timeoutMs: TIMEOUT })),
    ),
  );
}

async function expectBlockRoutes(t: Test, lab: Lab): Promise<void> {
  const checks = lab.hosts.flatMap((h) =>
    lab.hosts
      .filter((o) => o !== h)
      .flatMap((o) => [
        expectRoute(t, h, block4(o.index), o.ip4, { timeoutMs: TIMEOUT }),
        expectRoute(t, h, block6(o.index), o.ip6, { timeoutMs: TIMEOUT }),
      ]),
  );
  await Promise.all(checks);
}

t.test(
  'three hosts: full mesh over IPv4 and IPv6, blocks in every other kernel; a host removed and re-added',
  async (t) => {
    if (await skipWithoutNamespaces(t)) return;
    const lab = await labForTest(t, { hosts: 3, start: false });
    const client = lab.client();
    await addPool(client, POOL4);
    await addPool(client, POOL6);
    for (const h of lab.hosts) {
      await addBlock(client, h.name, block4(h.index));
      await addBlock(client, h.name, block6(h.index));
    }
    // The guard stays on, with the guard tests' short settle window: a host's removal arrives as several etcd
    // events, and each apply after the first waits for the window before it (30 s by default).
    await Promise.all(
      lab.hosts.map((h) => lab.startHost(h.name, { extraArgs: guardArgs(join(lab.stateDir, `templates-${h.name}`)) })),
    );

    await t.test('every pair of hosts has an Established Mesh_ session, v4 and v6', async (t) => {
      await expectFullMesh(t, lab);
    });
    await t.test("each host's blocks are in the other hosts' kernels via that host", async (t) => {
      await expectBlockRoutes(t, lab);
    });

    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    await t.test(
      'h3 deleted from etcd (its BGP keys; IPAM blocks stay): its sessions and routes disappear on h1 and h2',
      async (t) => {
        await removeHost(client, h3.name);
        await expectFullMesh(t, lab, [h3.name]);
        for (const h of [h1, h2]) {
          await expectRoute(t, h, block4(h3.index), undefined, { timeoutMs: TIMEOUT });
          await expectRoute(t, h, block6(h3.index), undefined, { timeoutMs: TIMEOUT });
        }
        // h1's and h2's blocks are still exchanged between them.
        await expectRoute(t, h1, block4(h2.index), h2.ip4, { timeoutMs: TIMEOUT });
        await expectRoute(t, h2, block6(h1.index), h1.ip6, { timeoutMs: TIMEOUT });
      },
    );

    await t.test('h3 registered again: the full mesh and its block routes come back', async (t) => {
      await registerHost(client, { name: h3.name, ip4: h3.ip4, ip6: h3.ip6 });
      await expectFullMesh(t, lab);
      await expectBlockRoutes(t, lab);
    });
  },
);

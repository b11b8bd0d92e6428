/**
 * End to end with a 3-member etcd cluster: the member a host's `birdwatch run` is connected to is
 * SIGKILLed during the test, and that host still applies the next change (its new block reaches the
 * other host's kernel). Then the member is restarted and the same is done for the other host.
 */
import t, { type Test } from 'tap';
import { addBlock, addPool, removeBlock } from './lab/keyspace.js';
import { labForTest, skipWithoutNamespaces, POOL4 } from './lab/e2e.js';
import type { LabHost } from './lab/lab.js';
import { etcdMembersUsedBy, expectRoute, expectSessions, protocolName, waitUntil } from './lab/observe.js';

const TIMEOUT = 40_000;

t.test('3-member etcd: killing the member birdwatch uses does not stop the lab from converging', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, { hosts: 2, etcdMembers: 3 });
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  const client = lab.client();
  await addPool(client, POOL4);
  await expectSessions(t, h1, 4, [protocolName('Mesh', h2.ip4)], { timeoutMs: TIMEOUT });
  await expectSessions(t, h2, 4, [protocolName('Mesh', h1.ip4)], { timeoutMs: TIMEOUT });

  const round = async (t: Test, owner: LabHost, other: LabHost, cidr: string): Promise<void> => {
    const pid = owner.pid('birdwatch');
    if (pid === undefined) throw new Error(`${owner.name}: birdwatch is not running`);
    let used: number[] = [];
    await waitUntil(
      `${owner.name}: birdwatch (PID ${pid}) connected to an etcd member`,
      async () => {
        used = await etcdMembersUsedBy(lab, owner, pid);
        return { ok: used.length > 0, seen: `members [${used.join(', ')}]` };
      },
      { timeoutMs: 10_000 },
    );
    const victim = used[0] ?? 0;
    const leaderBefore = await lab.etcd.waitForLeader();
    await lab.etcd.kill(victim);
    t.comment(`killed etcd member m${victim} (used by ${owner.name}'s birdwatch; leader was m${leaderBefore})`);
    const leader = await lab.etcd.waitForLeader(15_000);
    t.not(leader, victim, `a leader among the members left: m${leader}`);
    const started = Date.now();
    await addBlock(client, owner.name, cidr);
    await expectRoute(t, other, cidr, owner.ip4, { timeoutMs: TIMEOUT });
    t.comment(`${owner.name}'s new block reached ${other.name}'s kernel ${Date.now() - started} ms after the write`);
    t.ok(owner.pid('birdwatch') === pid, `${owner.name}'s birdwatch kept running (same PID)`);
    await removeBlock(client, owner.name, cidr);
    await expectRoute(t, other, cidr, undefined, { timeoutMs: TIMEOUT });
    await lab.etcd.restart(victim);
    // restart() waits until the member answers healthy; every running member then agrees on one leader.
    t.comment(`m${victim} restarted; the members agree m${await lab.etcd.waitForLeader(15_000)} leads`);
  };

  await t.test(`kill the member h1's birdwatch uses; h1 still applies its new block`, (t) =>
    round(t, h1, h2, '192.168.10.0/26'),
  );
  await t.test(`kill the member h2's birdwatch uses; h2 still applies its new block`, (t) =>
    round(t, h2, h1, '192.168.20.0/26'),
  );
  await expectSessions(t, h1, 4, [protocolName('Mesh', h2.ip4)], { timeoutMs: TIMEOUT });
});

import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { encodePeer } from '../src/model/encodings.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { cli } from './support/cli.js';
import { createWorld, waitFor } from './support/world.js';
import { linesOf } from './support/logLines.js';

// The failure: one address BIRD refuses (a host's link-local IPv6, a global peer `::`/`0.0.0.0`/
// `fe80::1`) made `bird -p`/`bird6 -p` reject the whole set, so no later change reached BIRD. Now the model skips
// such entries: `run` keeps applying, with real etcd and real BIRD/BIRD6 (in a namespace of the test's own).

const keyspace = loopbackKeyspace([keys.hostAddress('n2', 6), '::2']);

if (!(await canCreateNamespaces())) {
  t.test('run with refused addresses', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test('addresses BIRD refuses are skipped and later changes still reach both daemons', async (t) => {
    const h = await createWorld(t, { keyspace });
    const once = await cli([...h.runArgv(), '--once', '--log-level', 'silent']);
    t.equal(once.code, 0, `--once writes the first configuration: ${once.stderr}`);
    await h.startBirds();
    const controller = await h.startController();
    await waitFor(
      'mesh with n2',
      async () => [...(await h.protocols('bird')), ...(await h.protocols('bird6'))],
      (p) => p.join() === 'Mesh_127_0_0_2,Mesh___2',
    );

    const refused: [string, string][] = [
      [keys.hostAddress('n3', 4), '127.0.0.3'],
      [keys.hostAddress('n3', 6), 'fe80::7'],
      [keys.globalPeer(6, 'fe80::1'), encodePeer('fe80::1', 64600)],
      [keys.globalPeer(6, '::'), encodePeer('::', 64600)],
      [keys.globalPeer(4, '0.0.0.0'), encodePeer('0.0.0.0', 64600)],
      [keys.globalPeer(4, '224.0.0.5'), encodePeer('224.0.0.5', 64600)],
      [keys.routeReflector(6, 'ff02::1'), JSON.stringify({ ip: 'ff02::1' })],
    ];
    for (const [key, value] of refused) await h.client.put(key).value(value);
    // The usable half of n3 (its IPv4) is applied in the same cycles as the refused entries.
    await waitFor(
      'Mesh_127_0_0_3',
      () => h.protocols('bird'),
      (p) => p.includes('Mesh_127_0_0_3'),
    );
    // Later changes, in both families, still reach BIRD.
    await h.client.put(keys.hostAddress('n4', 4)).value('127.0.0.4');
    await h.client.put(keys.hostAddress('n4', 6)).value('::4');
    t.same(
      await waitFor(
        'n4 in bird',
        () => h.protocols('bird'),
        (p) => p.includes('Mesh_127_0_0_4'),
      ),
      ['Mesh_127_0_0_2', 'Mesh_127_0_0_3', 'Mesh_127_0_0_4'],
    );
    t.same(
      await waitFor(
        'n4 in bird6',
        () => h.protocols('bird6'),
        (p) => p.includes('Mesh___4'),
      ),
      ['Mesh___2', 'Mesh___4'],
    );
    // BIRD takes the staged set before the cycle logs its skipped entries (a loaded machine can put every refused
    // entry into the cycle that also carries n4): judge the log once that cycle has finished.
    await controller.idle();
    for (const [key] of refused.slice(1))
      t.ok(linesOf(h.logLines(), 'entry-skipped', { key, level: 40 }).length > 0, `logged: ${key}`);
    t.same(linesOf(h.logLines(), 'apply-failed', { failure: 'validation' }), [], 'no validation failure was logged');
  });
}

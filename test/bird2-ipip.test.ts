import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { parseBirdVersionOption } from '../src/bird/birdVersion.js';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { buildNodeModel } from '../src/model/buildNodeModel.js';
import { keys } from '../src/model/keys.js';
import { BIRD2_NODE_LAYOUT } from '../src/render/layouts.js';
import { renderBird2FileSet } from '../src/render/renderBird2FileSet.js';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { compileTemplateSet } from '../src/render/templateSet.js';
import { startBirdForTest } from './harness/bird.js';
import { canCreateNamespaces, createNamespace } from './harness/netns.js';
import { delay } from './harness/process.js';
import { startBgpSpeaker } from './support/bgpSpeaker.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';

/**
 * IPIP without Calico's fork (README "What is rendered"): with an IPIP pool and `--ipip onlink`, the BIRD 2/3
 * rendering sends BGP routes inside the pool through the tunnel device — the kernel route is `via <peer> dev tunl0
 * onlink`, the shape Calico's fork made with krt_tunnel — and, cross-subnet, only for next hops outside the node's
 * subnet. The real BIRD (2.0.12 and 3.3.2; 3.1.0 has no `onlink`) in one namespace, the test speaker in another,
 * a veth pair between them. This kernel has no ipip (nor dummy) link type: the `tunl0` here is a veth end, which
 * carries an onlink route the same way (the kernel only needs the device up).
 */
const versions = ['2.0.12', '3.3.2'];
const sources = await loadTemplateSources();
const templates = compileTemplateSet(sources, BIRD2_NODE_LAYOUT);

/** Node n1 (10.0.0.1, subnet 10.0.0.0/24) meshes with n2 (10.0.0.2, same subnet) and n3 (10.1.0.2, another). */
const keyspace = new Map([
  [keys.globalAsNumber, '64511'],
  [keys.hostAddress('n1', 4), '10.0.0.1'],
  [keys.hostNetwork('n1'), '10.0.0.0/24'],
  [keys.hostAddress('n2', 4), '10.0.0.2'],
  [keys.hostAddress('n3', 4), '10.1.0.2'],
  [keys.ipInIpEnabled, 'true'],
  [
    keys.pool(4, '192.168.0.0/16'),
    JSON.stringify({ cidr: '192.168.0.0/16', ipip: 'tunl0', ipip_mode: 'cross-subnet' }),
  ],
]);

if (!(await canCreateNamespaces())) {
  t.test('IPIP through onlink', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  for (const version of versions) {
    const installed = birdOfVersion(version);
    if (isMissing(installed)) {
      t.test(`BIRD ${version}: IPIP through onlink`, { skip: installed.missing }, () => undefined);
      continue;
    }
    t.test(
      `BIRD ${version}: an IPIP pool's routes go through tunl0 (onlink); cross-subnet only off-subnet`,
      async (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'birdwatch-ipip-'));
        t.teardown(() => rmSync(dir, { recursive: true, force: true }));
        const node = await createNamespace(t, 'bwipn');
        const peers = await createNamespace(t, 'bwipp');
        const ip = (ns: string, ...args: string[]) => execa('ip', ['-n', ns, ...args]);
        // The wire: n1's eth0 ↔ the peers' eth0; n2 at 10.0.0.2 on it, n3 at 10.1.0.2 one hop behind it.
        await ip(node.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peers.name);
        await ip(node.name, 'addr', 'add', '10.0.0.1/24', 'dev', 'eth0');
        await ip(node.name, 'link', 'set', 'eth0', 'up');
        await ip(peers.name, 'addr', 'add', '10.0.0.2/24', 'dev', 'eth0');
        await ip(peers.name, 'addr', 'add', '10.1.0.2/24', 'dev', 'eth0');
        await ip(peers.name, 'link', 'set', 'eth0', 'up');
        await ip(node.name, 'route', 'add', '10.1.0.0/24', 'via', '10.0.0.2', 'dev', 'eth0');
        // `tunl0`: a veth end (no ipip module here), up.
        await ip(node.name, 'link', 'add', 'tunl0', 'type', 'veth', 'peer', 'name', 'tunl0p');
        await ip(node.name, 'link', 'set', 'tunl0', 'up');
        await ip(node.name, 'link', 'set', 'tunl0p', 'up');

        const bird = parseBirdVersionOption(version);
        if (!bird.ok) throw new Error(bird.reason);
        const model = buildNodeModel(keyspace, { nodeName: 'n1' });
        const files = renderBird2FileSet(model, templates, { ipip: 'onlink', bird: bird.value }).files;
        for (const [name, text] of files) writeFileSync(join(dir, name), text);
        t.match(files.get('bird_ipam.cfg'), 'ifname = "tunl0"; onlink = true; gw = bgp_next_hop; onlink = true;');
        const proc = await startBirdForTest(t, {
          family: 4,
          binary: installed.bird,
          configPath: join(dir, 'bird.cfg'),
          socketPath: join(dir, 'bird.ctl'),
          logFile: join(dir, 'bird.log'),
          wrapper: node.exec,
        });
        t.ok(proc.running());

        const speaker = await startBgpSpeaker(t, peers.exec);
        const session = (local: string, announce: string, i: number) => ({
          id: `Mesh_${local.replace(/\./g, '_')}`,
          family: 4 as const,
          local,
          remote: '10.0.0.1',
          as: 64511,
          routerId: `10.9.9.${i}`,
          ebgp: false,
          announce,
        });
        // n1 is passive toward both (their address text sorts after its own): the speaker dials.
        await delay(500);
        const results = await speaker.round(
          [session('10.0.0.2', '192.168.2.0/26', 1), session('10.1.0.2', '192.168.3.0/26', 2)],
          5_000,
        );
        t.same(
          results.map((r) => [r.id, r.established]),
          [
            ['Mesh_10_0_0_2', true],
            ['Mesh_10_1_0_2', true],
          ],
          'both sessions Established',
        );

        const routes = async (): Promise<string[]> =>
          (await ip(node.name, 'route', 'show', 'proto', 'bird')).stdout
            .split('\n')
            .map((l) => l.trim().replace(/\s+/g, ' '))
            .filter((l) => l.startsWith('192.168.'));
        let seen: string[] = [];
        for (const until = Date.now() + 5_000; Date.now() < until; await delay(50)) {
          seen = await routes();
          if (seen.length >= 2) break;
        }
        // What BIRD made of the routes, for a failure's report.
        if (seen.length < 2)
          t.comment((await runBirdCommand(proc.socketPath, 'show route all')).lines.map((l) => l.text).join('\n'));
        t.same(
          seen.sort(),
          [
            // From n2, inside the node's subnet: reached directly (cross-subnet).
            '192.168.2.0/26 via 10.0.0.2 dev eth0',
            // From n3, outside it: through the tunnel, onlink — as Calico's fork programmed it.
            '192.168.3.0/26 via 10.1.0.2 dev tunl0 onlink',
          ],
          `the kernel's routes from BIRD ${version}`,
        );
      },
    );
  }
}

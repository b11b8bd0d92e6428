/**
 * End to end: a mesh pair of one birdwatch node and one node whose BIRD configuration follows Calico's own
 * templates (hand-written here: `passive on` toward a peer whose address *string* is greater, Go's `gt`).
 * The addresses are chosen so that the numeric and the text order disagree (10.99.0.9 < 10.99.0.10 as
 * numbers, "10.99.0.9" > "10.99.0.10" as text; fd99::9 / fd99::10 likewise): with the numeric rule both
 * sides would be passive and the session would never come up.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { startBirdForTest } from './harness/bird.js';
import { labForTest, skipWithoutNamespaces } from './lab/e2e.js';
import { registerHost } from './lab/keyspace.js';
import type { LabHost } from './lab/lab.js';
import { HOST_INTERFACE } from './lab/network.js';
import { expectSessions, type Family, protocolName, waitUntil } from './lab/observe.js';
import { showProtocols } from '../src/bird/showProtocolsCommand.js';

const TIMEOUT = 40_000;
const BW = { ip4: '10.99.0.9', ip6: 'fd99::9' };
const CALICO = { ip4: '10.99.0.10', ip6: 'fd99::10' };

/** Go's `gt` on two strings: bytewise, which for ASCII is JavaScript's `>`. */
const goGt = (a: string, b: string): boolean => a > b;

/** The mesh part of Calico's bird.cfg.template / bird6.cfg.template for one peer, with its passive rule. */
function calicoConfig(family: Family, own: string, peer: string): string {
  return [
    `router id ${CALICO.ip4};`,
    'protocol device { scan time 2; }',
    'protocol direct { interface -"cali*", "*"; }',
    'template bgp bgp_template {',
    '  description "Connection to BGP peer";',
    '  local as 64511;',
    '  multihop;',
    '  gateway recursive;',
    '  import all;',
    '  export none;',
    `  source address ${own};`,
    '  add paths on;',
    '  graceful restart;',
    '}',
    `protocol bgp ${protocolName('Mesh', peer)} from bgp_template {`,
    `  neighbor ${peer} as 64511;`,
    ...(goGt(peer, own) ? ['  passive on; # Mesh is unidirectional, peer will connect to us.'] : []),
    '}',
    '',
  ].join('\n');
}

async function addAddresses(host: LabHost, addresses: { ip4: string; ip6: string }): Promise<void> {
  await execa('ip', ['-n', host.namespace, 'addr', 'add', `${addresses.ip4}/24`, 'dev', HOST_INTERFACE]);
  await execa('ip', ['-n', host.namespace, '-6', 'addr', 'add', `${addresses.ip6}/64`, 'dev', HOST_INTERFACE, 'nodad']);
}

t.test('a birdwatch node and a Calico-templated node agree on the passive side: sessions Established', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, { hosts: ['bw', 'calico'], register: false, start: false });
  const [bw, calico] = [lab.host('bw'), lab.host('calico')];
  await addAddresses(bw, BW);
  await addAddresses(calico, CALICO);
  t.ok(
    BigInt(BW.ip4.split('.')[3]!) < BigInt(CALICO.ip4.split('.')[3]!) && goGt(BW.ip4, CALICO.ip4),
    'the numeric and the text order disagree for this pair',
  );
  const client = lab.client();
  await registerHost(client, { name: 'bw', ...BW });
  await registerHost(client, { name: 'calico', ...CALICO });

  const bird = await Promise.all(
    ([4, 6] as const).map(async (family) => {
      const [own, peer] = family === 4 ? [CALICO.ip4, BW.ip4] : [CALICO.ip6, BW.ip6];
      const configPath = join(lab.stateDir, `calico-bird${family === 6 ? '6' : ''}.cfg`);
      await writeFile(configPath, calicoConfig(family, own, peer));
      return startBirdForTest(t, {
        family,
        configPath,
        socketPath: join(lab.stateDir, `calico-bird${family === 6 ? '6' : ''}.ctl`),
        logFile: join(lab.stateDir, `calico-bird${family === 6 ? '6' : ''}.log`),
        wrapper: ['ip', 'netns', 'exec', calico.namespace],
      });
    }),
  );
  await lab.startHost('bw');

  await t.test('birdwatch renders the side Calico expects: it dials, the Calico node waits', async (t) => {
    for (const [family, file, peer] of [
      [4, 'bird.cfg', CALICO.ip4],
      [6, 'bird6.cfg', CALICO.ip6],
    ] as const) {
      const text = await readFile(join(bw.configDir, file), 'utf8');
      const block = new RegExp(`protocol bgp ${protocolName('Mesh', peer)} from bgp_template \\{[^}]*\\}`).exec(
        text,
      )?.[0];
      t.ok(block, `bird${family === 6 ? '6' : ''}.cfg has the mesh session to ${peer}`);
      t.notMatch(block ?? '', /passive on/, `birdwatch (${family === 4 ? BW.ip4 : BW.ip6}) is active toward ${peer}`);
    }
    t.match(
      await readFile(bird[0]!.configPath, 'utf8'),
      /passive on/,
      'the Calico-templated node is passive toward birdwatch',
    );
  });

  await t.test('both families Established on both ends', async (t) => {
    await expectSessions(t, bw, 4, [protocolName('Mesh', CALICO.ip4)], { timeoutMs: TIMEOUT });
    await expectSessions(t, bw, 6, [protocolName('Mesh', CALICO.ip6)], { timeoutMs: TIMEOUT });
    for (const [i, peer] of [BW.ip4, BW.ip6].entries()) {
      const socket = bird[i]!.socketPath;
      const name = protocolName('Mesh', peer);
      let state: string | undefined;
      await waitUntil(
        `calico node bird${i === 1 ? '6' : ''}: ${name} Established`,
        async () => {
          const rows = await showProtocols(socket).catch(() => []);
          const row = rows.find((r) => r.kind === 'protocol' && r.name === name);
          state = row?.kind === 'protocol' ? row.bgpState : undefined;
          return {
            ok: state === 'Established',
            seen: `${row?.kind === 'protocol' ? `${row.state} ${row.bgpState ?? ''} ${row.lastError ?? ''}` : 'no such protocol'}`,
          };
        },
        { timeoutMs: TIMEOUT },
      );
      t.equal(state, 'Established', `calico node bird${i === 1 ? '6' : ''}: ${name}`);
    }
  });
});

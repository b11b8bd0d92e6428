/**
 * `configure timeout` / `confirm` / `undo` against a real BIRD in a namespace the test makes (README "The apply
 * guard") — BIRD 1.6, 2.0.12 and
 * 3.3.2: the replies, BIRD reverting by itself when the timeout expires, undo after a confirm, a staged file named
 * with the timeout, and `show protocols all` export counts (per channel in BIRD 2/3).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { configureWithTimeout, confirmConfigure, undoConfigure } from '../src/bird/configureGuarded.js';
import { parseProtocolStats } from '../src/bird/protocolStats.js';
import { showProtocolStats } from '../src/bird/protocolStatsCommand.js';
import { startBirdForTest } from './harness/bird.js';
import { canCreateNamespaces, createNamespace } from './harness/netns.js';
import { delay } from './harness/process.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';

/** BIRD 2/3 need the static protocol's channel (`ipv4;`): without it, `Channel not specified`. */
const configFor = (statics: readonly string[], bird2: boolean): string =>
  [
    'router id 10.0.0.1;',
    'protocol device { scan time 10; }',
    `protocol static st { ${bird2 ? 'ipv4; ' : ''}${statics.map((r) => `route ${r} blackhole;`).join(' ')} }`,
    '',
  ].join('\n');

const staticCount = async (socket: string): Promise<number> => {
  const reply = await runBirdCommand(socket, 'show route count');
  // BIRD 1.6: `0014 2 of 2 routes for 2 networks`; BIRD 2/3: one line per table, then `0014 Total: 2 of 2 …`.
  return Number(/^(?:Total: )?(\d+) of/.exec(reply.lines.at(-1)?.text ?? '')?.[1] ?? NaN);
};

for (const version of [undefined, '2.0.12', '3.3.2'] as const) {
  t.test(`configure timeout, confirm and undo against a real BIRD ${version ?? '1.6'}`, async (t) => {
    if (!(await canCreateNamespaces())) {
      t.plan(0, 'network namespaces cannot be created here (root needed)');
      return;
    }
    const installed = version === undefined ? undefined : birdOfVersion(version);
    if (installed !== undefined && isMissing(installed)) {
      t.plan(0, installed.missing);
      return;
    }
    const bird2 = installed !== undefined;
    const config = (statics: readonly string[]): string => configFor(statics, bird2);
    const ns = await createNamespace(t, 'bwg');
    const dir = await mkdtemp(join(tmpdir(), 'birdwatch-guarded-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const cfg = join(dir, 'bird.cfg');
    const log = join(dir, 'bird.log');
    await writeFile(cfg, config(['192.168.1.0/26', '192.168.1.64/26']));
    const bird = await startBirdForTest(t, {
      family: 4,
      ...(installed && { binary: installed.bird }),
      configPath: cfg,
      socketPath: join(dir, 'bird.ctl'),
      logFile: log,
      wrapper: ns.exec,
    });
    const socket = bird.socketPath;
    t.equal(await staticCount(socket), 2);

    await writeFile(cfg, config(['192.168.1.0/26']));
    const applied = await configureWithTimeout(socket, 2);
    t.ok(applied.ok, 'configure timeout applied');
    t.equal(applied.ok && applied.undoInSeconds, 2, '0022 Undo scheduled in 2 s');
    t.equal(await staticCount(socket), 1, 'the new configuration runs at once');
    const deadline = Date.now() + 10_000;
    while ((await staticCount(socket)) !== 2 && Date.now() < deadline) await delay(200);
    t.equal(await staticCount(socket), 2, 'BIRD reverted by itself when the timeout expired');
    t.match(await bird.output(), /Config timeout expired, starting undo/, 'and logged it');
    t.same(await confirmConfigure(socket), { outcome: 'nothing-to-do', message: '0019 Nothing to do' });

    t.ok((await configureWithTimeout(socket, 30)).ok);
    t.same(await confirmConfigure(socket), { outcome: 'confirmed', message: '0018 Reconfiguration confirmed' });
    t.equal(await staticCount(socket), 1);
    const undone = await undoConfigure(socket);
    t.same(undone.outcome, 'reverted', `undo works after a confirm (${undone.message})`);
    t.equal(await staticCount(socket), 2);
    t.same(await undoConfigure(socket), { outcome: 'nothing-to-do', message: '0019 Nothing to do' }, 'only once');

    // A staged set named with the timeout (the guarded apply): BIRD runs it, its own file stays what it started with.
    const staged = join(dir, 'staged.cfg');
    await writeFile(staged, config(['192.168.2.0/26', '192.168.2.64/26', '192.168.2.128/26']));
    const stagedApplied = await configureWithTimeout(socket, 30, { configPath: staged });
    t.ok(stagedApplied.ok, `configure "<staged>" timeout 30 (${stagedApplied.message})`);
    t.equal(await staticCount(socket), 3, 'the staged set runs');
    const stagedUndone = await undoConfigure(socket);
    t.equal(stagedUndone.outcome, 'reverted', `undo of a staged set (${stagedUndone.message})`);
    t.equal(await staticCount(socket), 2, 'back to what ran before');

    await writeFile(cfg, 'router id 10.0.0.1;\nprotocol static st { route 1.2.3.0/24 nonsense; }\n');
    const refused = await configureWithTimeout(socket, 5);
    t.notOk(refused.ok, 'a file that does not parse is refused');
    t.match(!refused.ok && refused.message, /^8002 /);
    t.equal(await staticCount(socket), 2, 'nothing applied');

    const stats = await showProtocolStats(socket);
    t.same(
      stats.map((s) => [s.protocol.name, s.exported]),
      [
        // BIRD 2/3: a device protocol has no channel, so no `Routes:` line.
        ['device1', bird2 ? undefined : 0],
        ['st', 0],
      ],
      'per-protocol export counts (device and static protocols export nothing)',
    );
    t.ok((await readFile(log, 'utf8')).length > 0);
  });
}

t.test('show protocols all: export counts per protocol from BIRD 1.6 text', async (t) => {
  const lines = [
    { code: 2002, text: 'name     proto    table    state  since       info' },
    { code: 1002, text: 'Peer_b   BGP      master   up     14:47:26    Established   ' },
    { code: 1006, text: '  Preference:     100' },
    { code: 1006, text: '  Routes:         1 imported, 2 exported, 1 preferred' },
    { code: 1002, text: 'Peer_c   BGP      master   start  14:47:14    Active        Socket: Connection closed' },
    { code: 1006, text: '  Routes:         0 imported, 3 filtered, 0 exported, 0 preferred' },
    { code: 1002, text: 'Peer_d   BGP      master   down   14:47:14    ' },
    { code: 0, text: '' },
  ];
  t.same(
    parseProtocolStats(lines).map((s) => [s.protocol.name, s.protocol.bgpState, s.exported]),
    [
      ['Peer_b', 'Established', 2],
      ['Peer_c', 'Active', 0],
      ['Peer_d', undefined, undefined],
    ],
  );
});

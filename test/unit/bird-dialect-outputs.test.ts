import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { parseBirdConfigError } from '../../src/bird/configError.js';
import { classifyConfigureReply } from '../../src/bird/configureReply.js';
import {
  classifyConfigureTimeoutReply,
  classifyConfirmReply,
  classifyUndoReply,
  parseConfigureStatus,
} from '../../src/bird/configureGuardedReply.js';
import { decodeBirdReplies, type BirdReply } from '../../src/bird/replyDecoder.js';
import { parseProtocolDetails } from '../../src/bird/protocolDetails.js';
import { parseProtocolStats } from '../../src/bird/protocolStats.js';
import { parseShowProtocols, type ProtocolEntry } from '../../src/bird/showProtocols.js';
import { birdTimeMs, parseBirdStatus } from '../../src/bird/showStatus.js';
import { parseBirdGreeting } from '../../src/bird/birdVersion.js';

/**
 * One set of parsers for BIRD 1.6, 2 and 3, on what the real daemons said: fixtures/bird-outputs/bird-<version>/,
 * captured by scripts/capture-bird-outputs.ts (two daemons per version in a namespace; see its header for the
 * sessions it sets up). The same facts must come out of every version's wording and layout.
 */
const OUTPUTS = new URL('../../fixtures/bird-outputs/', import.meta.url);
const versions = readdirSync(OUTPUTS)
  .filter((d) => d.startsWith('bird-'))
  .map((d) => d.slice('bird-'.length));
const read = (version: string, file: string): string =>
  readFileSync(new URL(`bird-${version}/${file}`, OUTPUTS), 'utf8');
/** The replies after the greeting. */
const replies = (version: string, file: string): BirdReply[] => decodeBirdReplies(read(version, file)).slice(1);

t.same(versions.sort(), ['1.6.8', '2.0.12', '3.1.0', '3.3.2'], 'captures of every BIRD the tests run against');

for (const version of versions) {
  const bird1 = version.startsWith('1.');
  t.test(`BIRD ${version}`, async (t) => {
    const greeting = decodeBirdReplies(read(version, 'socket-show-protocols.raw.txt'))[0]!;
    t.equal(greeting.lines[0]?.text, `BIRD ${version} ready.`, 'greeting');

    t.test('show protocols', async (t) => {
      const [reply] = replies(version, 'socket-show-protocols.raw.txt');
      const rows = parseShowProtocols(
        reply!.lines.filter((l) => l.code === 1002 || l.code === 2002).map((l) => l.text),
      );
      t.same(
        rows.filter((r) => r.kind === 'unparsed'),
        [],
        'every row parses; the heading (`name …` or `Name …`) is skipped',
      );
      const row = (name: string): ProtocolEntry =>
        rows.find((r): r is ProtocolEntry => r.kind === 'protocol' && r.name === name)!;
      t.match(row('Mesh_127_0_0_2'), {
        proto: 'BGP',
        state: 'up',
        bgpState: 'Established',
        table: bird1 ? 'master' : '---',
      });
      t.notOk('lastError' in row('Mesh_127_0_0_2'));
      t.match(row('Global_127_0_0_4_with_a_very_long_name'), {
        state: 'start',
        bgpState: 'Active',
        lastError: 'Socket: Connection refused',
      });
      t.match(row('Node_127_0_0_5'), { state: 'down', info: '' });
      t.match(row('Global_127_0_0_7'), { state: 'start', bgpState: 'Passive' });
      t.match(row('Mesh_127_0_0_2').since, bird1 ? /^\d\d:\d\d:\d\d$/ : /^\d\d:\d\d:\d\d\.\d{3}$/, 'since');
      if (!bird1) {
        t.match(row('Mesh_127_0_0_3'), { state: 'start', bgpState: 'Idle', lastError: 'BGP Error: Bad peer AS' });
        t.match(row('Node_127_0_0_6'), { state: 'down', lastError: 'BGP Error: Bad peer AS' });
        t.match(row('Mesh_fd00__2'), { bgpState: 'Established' });
        t.match(row('s4'), { proto: 'Static', table: 'master4', state: 'up' });
        const [peer] = replies(version, 'socket-show-protocols-peer.raw.txt');
        const peerRows = parseShowProtocols(peer!.lines.map((l) => l.text));
        t.match(
          peerRows.find((r) => r.kind === 'protocol' && r.name === 'b'),
          { bgpState: 'Idle', lastError: 'Received: Bad peer AS' },
          'the other side of the wrong AS',
        );
      }
    });

    t.test('show protocols all: sessions and per-channel route counts', async (t) => {
      const [reply] = replies(version, 'socket-show-protocols-all.raw.txt');
      const details = parseProtocolDetails(reply!.lines);
      const of = (name: string) => details.find((d) => d.protocol.name === name)!;
      const mesh = of('Mesh_127_0_0_2');
      t.match(mesh.bgp, {
        state: 'Established',
        neighborAddress: '127.0.0.2',
        neighborAs: 64511,
        localAs: bird1 ? undefined : 64511,
        neighborId: '127.0.0.2',
        session: ['internal', 'multihop', 'AS4'],
        sourceAddress: '127.0.0.1',
      });
      t.same(
        mesh.channels.map((c) => [c.name, c.routes?.imported, c.routes?.exported, c.routes?.preferred]),
        [[bird1 ? undefined : 'ipv4', 2, 1, 2]],
        bird1 ? 'BIRD 1.6: the counts at protocol level' : 'one channel block, its counts',
      );
      if (!bird1)
        t.match(mesh.channels[0], { state: 'UP', table: 'master4', inputFilter: 'ACCEPT', outputFilter: 'ACCEPT' });
      t.match(of('Global_127_0_0_7').bgp, { state: 'Passive', neighborAddress: '127.0.0.7', neighborAs: 64511 });
      t.match(of('Global_127_0_0_4_with_a_very_long_name').bgp, {
        neighborAs: 64512,
        lastError: 'Socket: Connection refused',
      });
      t.same(of('Node_127_0_0_5').bgp?.session, undefined, 'no Session line before Established');
      const stats = parseProtocolStats(reply!.lines);
      const exported = (name: string) => stats.find((s) => s.protocol.name === name)?.exported;
      t.equal(exported('Mesh_127_0_0_2'), 1, 'the guard’s export count');
      t.equal(exported('Node_127_0_0_5'), undefined, 'a down session has no count');
      t.equal(exported('s4'), 0);
      if (!bird1) {
        t.equal(exported('Mesh_fd00__2'), 1, 'IPv6 session, ipv6 channel');
        t.same(
          of('Mesh_fd00__2').channels.map((c) => c.name),
          ['ipv6'],
        );
        t.match(of('Mesh_127_0_0_3').bgp, { lastError: 'BGP Error: Bad peer AS', localAs: 64511 });
      } else {
        const [reply6] = replies(version, 'socket-show-protocols-all-bird6.raw.txt');
        t.match(parseProtocolDetails(reply6!.lines).find((d) => d.protocol.name === 'Mesh_fd00__2')?.bgp, {
          state: 'Established',
          neighborAddress: 'fd00::2',
          sourceAddress: 'fd00::1',
        });
      }
    });

    t.test('configure replies', async (t) => {
      const [plain, check, bad, missing, nonsense] = replies(version, 'socket-configure.raw.txt');
      t.match(classifyConfigureReply(plain!), { ok: true }, `plain configure (code ${plain!.code})`);
      t.ok([3, 4].includes(plain!.code));
      t.match(classifyConfigureReply(check!, true), { ok: true, code: 20 });
      t.match(classifyConfigureReply(bad!), {
        ok: false,
        code: 8002,
        location: { file: '/tmp/bwcap/bad.cfg', line: 3, column: 3, message: /^syntax error/ },
      });
      t.match(classifyConfigureReply(missing!), { ok: false, code: 8002, location: undefined });
      t.match(classifyConfigureReply(nonsense!), { ok: false, code: 9001 });
    });

    t.test('the guard’s commands', async (t) => {
      const [timeout, status, confirm, confirmAgain, undo, undoAgain] = replies(
        version,
        'socket-configure-guarded.raw.txt',
      );
      t.match(classifyConfigureTimeoutReply(timeout!), { ok: true, undoInSeconds: 30 });
      t.match(
        parseConfigureStatus(status!),
        bird1 ? { state: 'unknown', undoInSeconds: undefined } : { state: 'done', undoInSeconds: Number },
        bird1 ? 'BIRD 1.6 has no `configure status` (9001)' : '`configure status` names the pending undo',
      );
      if (!bird1) t.ok(parseConfigureStatus(status!).undoInSeconds! > 29);
      t.equal(classifyConfirmReply(confirm!).outcome, 'confirmed');
      t.equal(classifyConfirmReply(confirmAgain!).outcome, 'nothing-to-do');
      t.equal(classifyUndoReply(undo!).outcome, 'reverted');
      t.equal(classifyUndoReply(undoAgain!).outcome, 'nothing-to-do');
    });

    t.test('the greeting names the version (status, undo and diags pick the dialect by it)', async (t) => {
      t.match(parseBirdGreeting(greeting.lines[0]!.text), { text: version, dialect: bird1 ? 'bird1' : 'bird2' });
    });

    t.test('show status (the BIRD watcher)', async (t) => {
      const [reply] = replies(version, 'socket-misc.raw.txt');
      const status = parseBirdStatus(reply!);
      t.match(status, { version, routerId: '127.0.0.1', state: 'Daemon is up and running' });
      t.match(status.startedAt, bird1 ? /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/ : /\.\d{3}$/, 'to the ms in 2/3');
      t.ok(birdTimeMs(status.startedAt)! <= birdTimeMs(status.reconfiguredAt)!, 'configured after its start');
      if (!bird1) t.equal(status.hostname, 'vm', 'BIRD 2/3 say their host name');
    });

    t.test('bird -p errors', async (t) => {
      const [bad, second, missing] = read(version, 'bird-p-errors.txt').trim().split('\n');
      t.match(parseBirdConfigError(bad!), { file: '/tmp/bwcap/bad.cfg', line: 3, column: 3, message: /^syntax error/ });
      t.match(parseBirdConfigError(second!), {
        file: '/tmp/bwcap/ebgp.cfg',
        message: bird1 ? 'Symbol already defined' : 'EBGP requires explicit export policy',
      });
      t.equal(parseBirdConfigError(missing!), undefined, 'no location: the file cannot be opened');
    });
  });
}

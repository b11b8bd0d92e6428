import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseShowProtocols } from '../../src/bird/showProtocols.js';
import { formatFamilyStatus, unreachableReason } from '../../src/cli/commands/status.js';
import { formatTable } from '../../src/cli/table.js';
import { parseIpAddress } from '../../src/model/address.js';
import { parseProtocolName, protocolName } from '../../src/model/protocolName.js';
import { sessionInfo, sessionsFromRows, summaryLine, type FamilyStatus } from '../../src/observe/bgpStatus.js';
import { FIXTURES_DIR } from '../support/fixtures.js';

// `status` formatting on captured `show protocols` outputs (the parser has its own tests): which rows are
// sessions, the peer address recovered from the protocol name, the calicoctl table and the summary line.

const capture = (name: string): string[] => readFileSync(join(FIXTURES_DIR, 'bird-outputs', name), 'utf8').split('\n');
const statusOf = (name: string, family: 4 | 6): FamilyStatus => ({
  family,
  socketPath: '/run/bird.ctl',
  reachable: true,
  sessions: sessionsFromRows(parseShowProtocols(capture(name)), family),
});

t.test('protocol name → peer type and address', async (t) => {
  const cases: [string, 4 | 6, string | undefined, string | undefined][] = [
    ['Mesh_10_0_0_2', 4, 'mesh', '10.0.0.2'],
    ['Global_127_0_0_3', 4, 'global', '127.0.0.3'],
    ['Node_192_168_255_1', 4, 'node', '192.168.255.1'],
    ['Mesh_2001_db8__1', 6, 'mesh', '2001:db8::1'],
    ['Mesh_fd00__1_2', 6, 'mesh', 'fd00::1:2'],
    ['Node_fd80_24e2_f998_72d7__1', 6, 'node', 'fd80:24e2:f998:72d7::1'],
    ['Mesh___1', 6, 'mesh', '::1'],
    ['Global_1_2_3_4', 6, 'global', '1.2.3.4'],
    ['Reflector_10_0_0_9', 4, 'reflector', '10.0.0.9'],
    ['Client_10_0_0_5', 4, 'client', '10.0.0.5'],
    ['Node_2001_db8__1', 4, 'node', '2001:db8::1'],
    ['Global_127_0_0_4_with_a_very_long_name', 4, 'global', undefined],
    ['Mesh_10_0_0_256', 4, 'mesh', undefined],
    ['Mesh_', 4, 'mesh', undefined],
    ['kernel1', 4, undefined, undefined],
    ['mesh_10_0_0_2', 4, undefined, undefined],
  ];
  for (const [name, family, type, address] of cases) {
    const parsed = parseProtocolName(name, family);
    t.equal(parsed?.kind, type, `${name}: type`);
    t.equal(parsed?.address?.text, address, `${name}: address`);
  }
});

t.test('the renderer’s names round-trip for every kind and family', async (t) => {
  for (const text of [
    '10.0.0.2',
    '172.17.8.101',
    '2001:db8::1',
    'fd80:24e2:f998:72d7::2',
    '::1',
    '2001:db8:0:1:2:3:4:5',
    '::ffff:a00:1',
  ]) {
    const address = parseIpAddress(text);
    if (!address.ok) throw new Error(text);
    for (const kind of ['mesh', 'global', 'node', 'reflector', 'client'] as const) {
      const parsed = parseProtocolName(protocolName(kind, address.value), address.value.family);
      t.equal(parsed?.address?.text, address.value.text, `${kind} ${text}`);
    }
  }
});

t.test('birdc capture: only peer protocols, calicoctl columns, n of m established', async (t) => {
  t.same(formatFamilyStatus(statusOf('show-protocols-birdc.txt', 4)), [
    'IPv4 BGP status',
    '+----------------------------------------+-------------------+-------+----------+-------------------------------------+',
    '| Peer address                           | Peer type         | State | Since    | Info                                |',
    '+----------------------------------------+-------------------+-------+----------+-------------------------------------+',
    '| 127.0.0.2                              | node-to-node mesh | up    | 12:23:01 | Established                         |',
    '| 127.0.0.3                              | node-to-node mesh | start | 12:26:59 | Idle (BGP Error: Bad peer AS)       |',
    '| Global_127_0_0_4_with_a_very_long_name | global            | start | 12:22:56 | Active (Socket: Connection refused) |',
    '| 127.0.0.6                              | node specific     | down  | 12:28:36 | BGP Error: Bad peer AS              |',
    '| 127.0.0.5                              | node specific     | down  | 12:28:32 |                                     |',
    '| 127.0.0.7                              | global            | start | 12:28:32 | Passive                             |',
    '+----------------------------------------+-------------------+-------+----------+-------------------------------------+',
    '1 of 6 sessions established',
  ]);
});

t.test('every capture form gives the same sessions (birdc, birdc -v, piped birdc)', async (t) => {
  const plain = statusOf('show-protocols-birdc.txt', 4);
  t.same(statusOf('show-protocols-birdc-v.txt', 4), plain);
  t.same(statusOf('show-protocols-birdc-piped.txt', 4), plain);
});

t.test('dates and ISO times in since; bird6 capture', async (t) => {
  const dated = statusOf('show-protocols-date-since.txt', 4);
  t.ok(dated.reachable && dated.sessions.every((s) => s.since === '2026-11-25'));
  const iso = statusOf('show-protocols-iso-long-since.txt', 4);
  t.ok(iso.reachable && iso.sessions[0]?.since === '2026-11-25 12:23:01');
  const v6 = formatFamilyStatus(statusOf('show-protocols-bird6.txt', 6));
  t.equal(v6[0], 'IPv6 BGP status');
  t.match(v6[4]!, /^\| 2001:db8::2 +\| node-to-node mesh \| start \| 12:29:04 \| Active +\|$/);
  t.match(
    v6[5]!,
    /^\| fd00::1:2 +\| node-to-node mesh \| start \| 12:29:04 \| Active \(Socket: Connection refused\) \|$/,
  );
  t.equal(v6.at(-1), '0 of 2 sessions established');
});

t.test('synthetic states: feed+Established counts, unreadable peer rows are kept, others dropped', async (t) => {
  const status = statusOf('show-protocols-synthetic-states.txt', 4);
  if (!status.reachable) throw new Error('unreachable');
  t.same(
    status.sessions.map((s) => [s.peerAddress, s.state, sessionInfo(s), s.established]),
    [
      ['10.0.0.2', 'stop', 'Close (Received: Administrative shutdown)', false],
      ['10.0.0.3', 'feed', 'Established', true],
      ['10.0.0.4', 'flush', '', false],
      ['10.0.0.8', 'start', 'Connect (Socket: Connection refused)', false],
      ['10.0.0.9', 'start', 'OpenSent', false],
      ['10.0.0.10', 'start', 'OpenConfirm', false],
      ['2001:db8::1', 'start', 'Idle (Error: Hold timer expired)', false],
      ['10.0.0.7', 'down', 'Automatic shutdown: Route limit exceeded', false],
      ['10.0.0.5', '???', 'unreadable row (unknown state "???")', false],
      ['10.0.0.6', '?', 'unreadable row (fewer than 5 columns)', false],
    ],
  );
  t.equal(summaryLine(status.sessions), '1 of 10 sessions established');
});

t.test('no peers, a single session, an unreachable daemon', async (t) => {
  const none = formatFamilyStatus({
    family: 4,
    socketPath: '/x',
    reachable: true,
    sessions: sessionsFromRows(parseShowProtocols(capture('show-protocols-peer-received-error.txt')), 4),
  });
  t.same(none, ['IPv4 BGP status', 'No BGP peers.', '0 of 0 sessions established'], 'p3 is not a birdwatch peer name');
  const one = sessionsFromRows(parseShowProtocols(['Mesh_10_0_0_2 BGP master up 13:57:18 Established']), 4);
  t.equal(summaryLine(one), '1 of 1 session established');
  t.same(
    formatFamilyStatus({
      family: 6,
      socketPath: '/run/bird6.ctl',
      reachable: false,
      error: 'cannot connect to BIRD control socket /run/bird6.ctl: ENOENT',
    }),
    ['IPv6 BGP status', 'bird6 is not reachable'],
    'the reason goes to stderr, once',
  );
  t.equal(
    unreachableReason({
      family: 6,
      socketPath: '/run/bird6.ctl',
      reachable: false,
      error: 'cannot connect to BIRD control socket /run/bird6.ctl: connect ECONNREFUSED /run/bird6.ctl',
    }),
    'connection refused (is it running?) [ECONNREFUSED]',
  );
  t.equal(
    unreachableReason({
      family: 4,
      socketPath: '/run/bird.ctl',
      reachable: false,
      error: 'BIRD control socket /run/bird.ctl: no complete reply to greeting within 5000 ms',
    }),
    'no complete reply to greeting within 5000 ms',
    'the path is not repeated',
  );
});

t.test('table formatter: widths, empty bodies, control characters escaped', async (t) => {
  t.same(
    formatTable(
      ['A', 'Long header'],
      [
        ['x', 1],
        [undefined, 'yy'],
      ],
    ),
    [
      '+---+-------------+',
      '| A | Long header |',
      '+---+-------------+',
      '| x | 1           |',
      '|   | yy          |',
      '+---+-------------+',
    ],
  );
  t.same(formatTable(['A'], []), ['+---+', '| A |', '+---+']);
  t.same(formatTable(['A'], [['a\nb\x1b']]), [
    '+------------+',
    '| A          |',
    '+------------+',
    '| a\\x0ab\\x1b |',
    '+------------+',
  ]);
});

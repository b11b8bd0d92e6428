import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { decodeBirdReplies } from '../../src/bird/replyDecoder.js';
import {
  BGP_STATES,
  PROTOCOL_STATES,
  parseShowProtocols,
  type ProtocolEntry,
  type ProtocolRow,
} from '../../src/bird/showProtocols.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/bird-outputs/${name}`, import.meta.url), 'latin1');
const fixtureLines = (name: string): string[] => fixture(name).split('\n');

function entries(rows: readonly ProtocolRow[]): ProtocolEntry[] {
  return rows.filter((r): r is ProtocolEntry => r.kind === 'protocol');
}
function byName(rows: readonly ProtocolRow[], name: string): ProtocolEntry {
  const row = entries(rows).find((r) => r.name === name);
  if (row === undefined) throw new Error(`no row ${name}`);
  return row;
}
/** What a row says, without the raw text (which differs between capture forms). */
function essence(rows: readonly ProtocolRow[]): unknown[] {
  return rows.map((r) => {
    if (r.kind === 'unparsed') return r;
    const { raw: _raw, ...rest } = r;
    return rest;
  });
}

t.test('birdc capture with HH:MM:SS since: every row shape BIRD produced', async (t) => {
  const rows = parseShowProtocols(fixtureLines('show-protocols-birdc.txt'));
  t.equal(rows.length, 10, 'greeting and header are skipped');
  t.equal(entries(rows).length, 10, 'no unparsed rows');

  t.match(byName(rows, 'kernel1'), { proto: 'Kernel', table: 'master', state: 'up', since: '12:22:56', info: '' });
  t.notOk('bgpState' in byName(rows, 'kernel1'), 'non-BGP rows carry no bgpState');
  t.notOk('lastError' in byName(rows, 'kernel1'));

  t.same(
    { ...byName(rows, 'Mesh_127_0_0_2') },
    {
      kind: 'protocol',
      name: 'Mesh_127_0_0_2',
      proto: 'BGP',
      table: 'master',
      state: 'up',
      since: '12:23:01',
      info: 'Established',
      bgpState: 'Established',
      raw: 'Mesh_127_0_0_2 BGP      master   up     12:23:01    Established',
    },
    'established session: trailing spaces trimmed, no lastError',
  );
  t.notOk('lastError' in byName(rows, 'Mesh_127_0_0_2'));

  t.match(byName(rows, 'Mesh_127_0_0_3'), {
    state: 'start',
    bgpState: 'Idle',
    lastError: 'BGP Error: Bad peer AS',
    info: 'Idle          BGP Error: Bad peer AS',
  });
  t.match(
    byName(rows, 'Global_127_0_0_4_with_a_very_long_name'),
    {
      proto: 'BGP',
      table: 'master',
      state: 'start',
      since: '12:22:56',
      bgpState: 'Active',
      lastError: 'Socket: Connection refused',
    },
    'a long name pushes the columns right',
  );

  const downWithError = byName(rows, 'Node_127_0_0_6');
  t.match(downWithError, { state: 'down', info: 'BGP Error: Bad peer AS', lastError: 'BGP Error: Bad peer AS' });
  t.notOk('bgpState' in downWithError, 'a down BGP row shows only the error');

  const downBare = byName(rows, 'Node_127_0_0_5');
  t.match(downBare, { state: 'down', info: '' });
  t.notOk('bgpState' in downBare);
  t.notOk('lastError' in downBare);

  t.match(byName(rows, 'Global_127_0_0_7'), { state: 'start', bgpState: 'Passive', info: 'Passive' });
  t.notOk('lastError' in byName(rows, 'Global_127_0_0_7'));
});

t.test('since as YYYY-MM-DD (uptime over 20 hours)', async (t) => {
  const rows = parseShowProtocols(fixtureLines('show-protocols-date-since.txt'));
  t.equal(entries(rows).length, 9);
  for (const row of entries(rows)) t.match(row.since, /^\d{4}-\d{2}-\d{2}$/, `${row.name} since`);
  t.match(byName(rows, 'Mesh_127_0_0_3'), {
    since: '2026-11-25',
    bgpState: 'Idle',
    lastError: 'BGP Error: Bad peer AS',
  });
  t.match(byName(rows, 'Mesh_127_0_0_2'), { since: '2026-11-25', info: 'Established', bgpState: 'Established' });
  t.match(byName(rows, 'kernel1'), { since: '2026-11-25', info: '' });
});

t.test('since as YYYY-MM-DD HH:MM:SS (timeformat protocol iso long) stays one field', async (t) => {
  const rows = parseShowProtocols(fixtureLines('show-protocols-iso-long-since.txt'));
  t.equal(entries(rows).length, 9);
  t.match(byName(rows, 'Mesh_127_0_0_2'), {
    since: '2026-11-25 12:23:01',
    info: 'Established',
    bgpState: 'Established',
  });
  t.match(byName(rows, 'Global_127_0_0_4_with_a_very_long_name'), {
    since: '2026-11-25 12:22:56',
    bgpState: 'Active',
    lastError: 'Socket: Connection refused',
  });
  t.match(byName(rows, 'Node_127_0_0_6'), { since: '2026-11-25 12:28:32', bgpState: 'Active', info: 'Active' });
  t.match(byName(rows, 's1'), { proto: 'Static', since: '2026-11-25 12:22:56', info: '' });
});

t.test('birdc -v, piped interactive birdc and the raw socket give the same rows', async (t) => {
  const plain = essence(parseShowProtocols(fixtureLines('show-protocols-birdc.txt')));
  t.same(
    essence(parseShowProtocols(fixtureLines('show-protocols-birdc-v.txt'))),
    plain,
    'birdc -v (codes, 5-space padding)',
  );
  t.same(
    essence(parseShowProtocols(fixtureLines('show-protocols-birdc-piped.txt'))),
    plain,
    'prompts, echoed command and escape sequences are ignored',
  );

  const raw = fixture('socket-show-protocols.raw.txt');
  const rawRows = essence(parseShowProtocols(raw.split('\n')));
  const [reply] = decodeBirdReplies(raw).slice(1);
  t.ok(reply, 'show protocols reply decoded');
  const decodedRows = essence(
    parseShowProtocols((reply?.lines ?? []).filter((l) => l.code === 1002).map((l) => l.text)),
  );
  t.same(rawRows, decodedRows, 'raw framed lines parse like the decoded 1002 lines');
  t.equal(decodedRows.length, 10);
  t.same(
    entries(parseShowProtocols(raw.split('\n'))).map((r) => [r.name, r.state, r.bgpState, r.lastError]),
    entries(parseShowProtocols(fixtureLines('show-protocols-birdc.txt'))).map((r) => [
      r.name,
      r.state,
      r.bgpState,
      r.lastError,
    ]),
    'same sessions as the birdc capture',
  );
});

t.test('other real captures', async (t) => {
  const peer = parseShowProtocols(fixtureLines('show-protocols-peer-received-error.txt'));
  t.match(byName(peer, 'p3'), { state: 'start', bgpState: 'Idle', lastError: 'Received: Bad peer AS' });

  const noSocket = parseShowProtocols(fixtureLines('show-protocols-down-with-error.txt'));
  const row = byName(noSocket, 'Node_127_0_0_1');
  t.match(row, { state: 'down', lastError: 'Error: No listening socket', info: 'Error: No listening socket' });
  t.notOk('bgpState' in row);

  const six = parseShowProtocols(fixtureLines('show-protocols-bird6.txt'));
  t.equal(entries(six).length, 5);
  t.match(byName(six, 'Mesh_2001_db8__2'), { state: 'start', bgpState: 'Active', info: 'Active' });
  t.notOk('lastError' in byName(six, 'Mesh_2001_db8__2'));
  t.match(byName(six, 'Mesh_fd00__1_2'), { bgpState: 'Active', lastError: 'Socket: Connection refused' });
});

t.test('every state, garbled and unknown rows (synthetic, BIRD row format)', async (t) => {
  const rows = parseShowProtocols(fixtureLines('show-protocols-synthetic-states.txt'));
  t.match(byName(rows, 'Mesh_10_0_0_2'), {
    state: 'stop',
    bgpState: 'Close',
    lastError: 'Received: Administrative shutdown',
  });
  t.match(byName(rows, 'Mesh_10_0_0_3'), { state: 'feed', bgpState: 'Established' });
  t.match(byName(rows, 'static1'), { state: 'wait', proto: 'Static', info: '' });
  t.match(byName(rows, 'Mesh_10_0_0_4'), { state: 'flush', info: '' });
  t.match(byName(rows, 'Global_10_0_0_8'), {
    state: 'start',
    bgpState: 'Connect',
    lastError: 'Socket: Connection refused',
  });
  t.match(byName(rows, 'Mesh_10_0_0_9'), { bgpState: 'OpenSent' });
  t.match(byName(rows, 'Mesh_10_0_0_10'), { bgpState: 'OpenConfirm' });
  t.match(byName(rows, 'Node_2001_db8__1'), { bgpState: 'Idle', lastError: 'Error: Hold timer expired' });
  t.match(byName(rows, 'Node_10_0_0_7'), {
    state: 'down',
    since: '2024-01-31',
    lastError: 'Automatic shutdown: Route limit exceeded',
  });
  t.match(byName(rows, 'pipe1'), { proto: 'Pipe', state: 'up', info: '=> t_other' });
  t.notOk('bgpState' in byName(rows, 'pipe1'));

  const unparsed = rows.filter((r) => r.kind === 'unparsed');
  t.same(
    unparsed.map((r) => r.raw),
    [
      'Mesh_10_0_0_5 BGP      master   ???    14:00:39',
      'this line is garbled',
      'Mesh_10_0_0_6 BGP      master',
      '9002 nosuch is not a protocol',
    ],
    'unknown state, garbage, a truncated row and an error reply are kept raw',
  );
  t.match(unparsed[0], { reason: /unknown state/ });
  const states = new Set(entries(rows).map((r) => r.state));
  for (const s of ['stop', 'feed', 'wait', 'flush', 'start', 'down', 'up'])
    t.ok(states.has(s as ProtocolEntry['state']), s);
});

t.test('edge inputs', async (t) => {
  t.same(parseShowProtocols([]), []);
  t.same(
    parseShowProtocols(['', '   ', 'BIRD 1.6.8 ready.', 'name     proto    table    state  since       info', '0000 ']),
    [],
  );
  t.same(parseShowProtocols(['bird> ', 'bird> show protocols']), [], 'prompt-only and echoed command lines');
  const [row] = parseShowProtocols(['device1  Device   master   up     14:00:34    \r']);
  t.match(row, { kind: 'protocol', name: 'device1', since: '14:00:34', info: '' }, 'CRLF tolerated');
});

t.test('never throws, whatever the lines', async (t) => {
  // Any code point, lone surrogates too (built from integers: fast-check's 'binary' strings are ~250× slower).
  const anyLine = fc
    .array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength: 80 })
    .map((c) => String.fromCodePoint(...c));
  fc.assert(
    fc.property(fc.array(anyLine, { maxLength: 20 }), (lines) => {
      const rows = parseShowProtocols(lines);
      return Array.isArray(rows) && rows.every((r) => r.kind === 'protocol' || r.kind === 'unparsed');
    }),
  );
  t.pass('no throw');
});

t.test('round trip through BIRD row format %-8s %-8s %-8s %-5s  %-10s  %s', async (t) => {
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,40}$/);
  const since = fc.oneof(
    fc.constantFrom('00:00:00', '14:00:34', '23:59:59'),
    fc.constantFrom('2024-01-31', '2026-11-25'),
    fc.constantFrom('2026-11-25 12:22:56'),
  );
  const error = fc.constantFrom(
    '',
    'Socket: Connection refused',
    'BGP Error: Bad peer AS',
    'Received: Administrative shutdown',
  );
  fc.assert(
    fc.property(
      name,
      fc.constantFrom(...PROTOCOL_STATES),
      since,
      fc.constantFrom(...BGP_STATES),
      error,
      (n, state, s, bgp, err) => {
        const info = `${bgp.padEnd(14)}${err}`;
        const line = `${n.padEnd(8)} ${'BGP'.padEnd(8)} ${'master'.padEnd(8)} ${state.padEnd(5)}  ${s.padEnd(10)}  ${info}`;
        const [row] = parseShowProtocols([line]);
        if (row?.kind !== 'protocol') return false;
        return (
          row.name === n &&
          row.proto === 'BGP' &&
          row.table === 'master' &&
          row.state === state &&
          row.since === s &&
          row.bgpState === bgp &&
          row.lastError === (err === '' ? undefined : err)
        );
      },
    ),
  );
  t.pass('round trip holds');
});

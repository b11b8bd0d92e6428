import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { configureBird, configureCommand } from '../src/bird/configure.js';
import { BirdControlClient, runBirdCommand } from '../src/bird/controlSocket.js';
import { BirdReplyDecoder, decodeBirdReplies, parseBirdWireLine, type BirdReply } from '../src/bird/replyDecoder.js';
import { BirdProtocolError, BirdTimeoutError, BirdUnreachableError } from '../src/bird/errors.js';
import type { ProtocolEntry, ProtocolRow } from '../src/bird/showProtocols.js';
import { showProtocols } from '../src/bird/showProtocolsCommand.js';
import { startBirdForTest, writeMinimalConfig, type BirdProcess } from './harness/bird.js';
import { delay, freePort } from './harness/process.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/bird-outputs/${name}`, import.meta.url), 'latin1');

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-bird-control-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function entries(rows: readonly ProtocolRow[]): ProtocolEntry[] {
  return rows.filter((r): r is ProtocolEntry => r.kind === 'protocol');
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

// ------------------------------------------------------------------------------------------
// Framing (pure), on captures from a real bird 1.6.8 socket
// ------------------------------------------------------------------------------------------

t.test('wire lines', async (t) => {
  t.same(parseBirdWireLine('0001 BIRD 1.6.8 ready.'), {
    kind: 'reply',
    code: 1,
    final: true,
    text: 'BIRD 1.6.8 ready.',
  });
  t.same(parseBirdWireLine('1002-kernel1  Kernel'), {
    kind: 'reply',
    code: 1002,
    final: false,
    text: 'kernel1  Kernel',
  });
  t.same(parseBirdWireLine(' device1  Device'), { kind: 'continuation', text: 'device1  Device' });
  t.same(parseBirdWireLine('0000 '), { kind: 'reply', code: 0, final: true, text: '' });
  t.same(parseBirdWireLine('+Config timeout expired, starting undo'), {
    kind: 'async',
    text: 'Config timeout expired, starting undo',
  });
  t.throws(() => parseBirdWireLine('garbage'), BirdProtocolError);
  t.throws(() => parseBirdWireLine(''), BirdProtocolError);
  t.throws(() => parseBirdWireLine('0000'), BirdProtocolError, 'a code needs its separator');
});

t.test('decodes captured replies: show protocols, configure, show status', async (t) => {
  const show = decodeBirdReplies(fixture('socket-show-protocols.raw.txt'));
  t.equal(show.length, 2);
  t.same(show[0], { code: 1, lines: [{ code: 1, text: 'BIRD 1.6.8 ready.' }] });
  const table = show[1] as BirdReply;
  t.equal(table.code, 0, 'table output ends with 0000');
  t.same(table.lines[0], { code: 2002, text: 'name     proto    table    state  since       info' });
  t.same(table.lines[1], { code: 1002, text: 'kernel1  Kernel   master   up     12:22:55    ' });
  t.same(
    table.lines[2],
    { code: 1002, text: 'device1  Device   master   up     12:22:55    ' },
    'continuation inherits 1002',
  );
  t.same(table.lines.at(-1), { code: 0, text: '' });
  t.equal(table.lines.filter((l) => l.code === 1002).length, 10);

  const conf = decodeBirdReplies(fixture('socket-configure.raw.txt'));
  t.same(
    conf.map((r) => [r.code, r.lines.map((l) => `${l.code}:${l.text}`)]),
    [
      [1, ['1:BIRD 1.6.8 ready.']],
      [3, ['2:Reading configuration from bird.cfg', '3:Reconfigured']],
      [20, ['2:Reading configuration from bird.cfg', '20:Configuration OK']],
      [8002, ['2:Reading configuration from /tmp/bwx/bad2.cfg', '8002:/tmp/bwx/bad2.cfg:16:1 syntax error']],
      [8002, ['2:Reading configuration from /tmp/bwx/bad2.cfg', '8002:/tmp/bwx/bad2.cfg:16:1 syntax error']],
      [
        8002,
        ['2:Reading configuration from /tmp/bwx/nonexist.cfg', '8002:/tmp/bwx/nonexist.cfg: No such file or directory'],
      ],
      [9001, ['9001:syntax error']],
    ],
  );

  const progress = decodeBirdReplies(fixture('socket-configure-in-progress.raw.txt'));
  t.equal(progress[1]?.code, 4);
  t.equal(progress[1]?.lines.at(-1)?.text, 'Reconfiguration in progress');

  const misc = decodeBirdReplies(fixture('socket-misc.raw.txt'));
  t.same(misc[1], {
    code: 13,
    lines: [
      { code: 1000, text: 'BIRD 1.6.8' },
      { code: 1011, text: 'Router ID is 127.0.0.1' },
      { code: 1011, text: 'Current server time is 2026-11-25 12:28:47' },
      { code: 1011, text: 'Last reboot on 2026-11-25 12:22:55' },
      { code: 1011, text: 'Last reconfiguration on 2026-11-25 12:28:43' },
      { code: 13, text: 'Daemon is up and running' },
    ],
  });
  t.same(misc[2], { code: 9002, lines: [{ code: 9002, text: 'nosuch is not a protocol' }] });
  t.same(misc[3], {
    code: 0,
    lines: [
      { code: 9, text: 'Node_127_0_0_6: disabled' },
      { code: 0, text: '' },
    ],
  });
});

t.test('decoder: any chunking gives the same replies; async lines are set aside', async (t) => {
  const raw = fixture('socket-misc.raw.txt') + fixture('socket-show-protocols.raw.txt');
  const whole = decodeBirdReplies(raw);
  for (const size of [1, 2, 3, 7, 64]) {
    const decoder = new BirdReplyDecoder();
    const replies: BirdReply[] = [];
    for (let i = 0; i < raw.length; i += size) replies.push(...decoder.push(raw.slice(i, i + size)));
    t.same(replies, whole, `chunks of ${size}`);
    t.notOk(decoder.hasPartial);
  }
  const asyncSeen: string[] = [];
  const decoder = new BirdReplyDecoder((text) => asyncSeen.push(text));
  const replies = decoder.push(
    '0002-Reading configuration from x\n+Config timeout expired, starting undo\n0003 Reconfigured\r\n',
  );
  t.same(replies, [
    {
      code: 3,
      lines: [
        { code: 2, text: 'Reading configuration from x' },
        { code: 3, text: 'Reconfigured' },
      ],
    },
  ]);
  t.same(asyncSeen, ['Config timeout expired, starting undo']);

  t.throws(() => new BirdReplyDecoder().push(' orphan continuation\n'), BirdProtocolError);
  t.throws(() => decodeBirdReplies('1002-half a table\n'), BirdProtocolError, 'ends mid-reply');
});

t.test('configure command line', async (t) => {
  t.equal(configureCommand(), 'configure');
  t.equal(configureCommand({ check: true }), 'configure check');
  t.equal(configureCommand({ configPath: '/etc/bird/bird.cfg' }), 'configure "/etc/bird/bird.cfg"');
  t.equal(configureCommand({ check: true, configPath: '/a b/c.cfg' }), 'configure check "/a b/c.cfg"');
  t.throws(() => configureCommand({ configPath: '/x"y' }), TypeError);
  t.throws(() => configureCommand({ configPath: '/x\ny' }), TypeError);
});

// ------------------------------------------------------------------------------------------
// Against real bird and bird6
// ------------------------------------------------------------------------------------------

interface LiveBird {
  readonly proc: BirdProcess;
  readonly dir: string;
  readonly configPath: string;
  readonly baseConfig: string;
  readonly peerNames: readonly string[];
}

async function startLiveBird(t: Test, family: 4 | 6): Promise<LiveBird> {
  const dir = await tempDir(t);
  const configPath = join(dir, family === 4 ? 'bird.cfg' : 'bird6.cfg');
  const socketPath = join(dir, family === 4 ? 'bird.ctl' : 'bird6.ctl');
  // BGP listens on a free loopback port and the peers are dialled on a port nobody listens on,
  // so sessions sit in Active/Connect with "Connection refused" whatever else runs on the host.
  const loopback = family === 4 ? '127.0.0.1' : '::1';
  const listenPort = await freePort(loopback);
  const deadPort = await freePort(loopback);
  const peers =
    family === 4
      ? [
          ['Mesh_127_0_0_2', '127.0.0.2', 64512],
          ['Global_127_0_0_3_with_a_rather_long_name', '127.0.0.3', 64513],
        ]
      : [['Mesh_fd00__2', '::1', 64512]];
  const baseConfig = [
    'router id 127.0.0.1;',
    `listen bgp address ${loopback} port ${listenPort};`,
    'protocol device { scan time 10; }',
    `protocol static s_base { route ${family === 4 ? '10.122.0.0/24' : 'fd00:122::/64'} blackhole; }`,
    `template bgp bgp_template { local as 64512; multihop; import all; export none; source address ${loopback}; }`,
    ...peers.map(
      ([name, ip, as]) => `protocol bgp ${name} from bgp_template { neighbor ${ip} port ${deadPort} as ${as}; }`,
    ),
    '',
  ].join('\n');
  await writeFile(configPath, baseConfig);
  const proc = await startBirdForTest(t, { family, configPath, socketPath });
  return { proc, dir, configPath, baseConfig, peerNames: peers.map(([name]) => String(name)) };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

for (const family of [4, 6] as const) {
  t.test(`real ${family === 4 ? 'bird' : 'bird6'}`, async (t) => {
    const live = await startLiveBird(t, family);
    const socketPath = live.proc.socketPath;

    t.test('greeting, and several commands on one connection (also concurrent)', async (t) => {
      const client = await BirdControlClient.connect(socketPath);
      t.teardown(() => client.close());
      t.equal(client.greeting, 'BIRD 1.6.8 ready.');
      t.equal(client.version, '1.6.8');
      const [status, protocols, check] = await Promise.all([
        client.command('show status'),
        client.command('show protocols'),
        client.command('configure check'),
      ]);
      t.equal(status.code, 13);
      t.same(status.lines[0], { code: 1000, text: 'BIRD 1.6.8' });
      t.equal(status.lines.at(-1)?.text, 'Daemon is up and running');
      t.equal(protocols.code, 0);
      t.same(protocols.lines[0], { code: 2002, text: 'name     proto    table    state  since       info' });
      t.ok(
        protocols.lines.slice(1, -1).every((l) => l.code === 1002),
        'rows are 1002',
      );
      t.same(protocols.lines.at(-1), { code: 0, text: '' });
      t.equal(check.code, 20);
      const bad = await client.command('frobnicate');
      t.same(bad, { code: 9001, lines: [{ code: 9001, text: 'syntax error' }] }, 'BIRD errors are replies');
      const missing = await client.command('show protocols nosuch');
      t.equal(missing.code, 9002);
      await t.rejects(client.command('show status\nconfigure'), TypeError, 'one line per command');
      t.equal((await client.command('show status')).code, 13, 'still usable');
    });

    t.test('showProtocols returns the rows; unreachable peers sit in Active/Connect', async (t) => {
      const rows = await showProtocols(socketPath);
      t.same(
        entries(rows)
          .map((r) => r.name)
          .sort(),
        ['device1', 's_base', ...live.peerNames].sort(),
      );
      t.equal(rows.length, entries(rows).length, 'no unparsed rows');
      t.match(
        entries(rows).find((r) => r.name === 's_base'),
        { proto: 'Static', table: 'master', state: 'up', info: '' },
      );
      for (const name of live.peerNames) {
        const row = entries(rows).find((r) => r.name === name);
        t.match(row, { proto: 'BGP', state: 'start', since: /^\d\d:\d\d:\d\d$/ }, name);
        t.ok(['Idle', 'Connect', 'Active'].includes(row?.bgpState ?? ''), `${name} bgpState ${row?.bgpState}`);
      }
      const refused = await waitFor('a refused connection to show', async () => {
        const now = entries(await showProtocols(socketPath)).find((r) => r.name === live.peerNames[0]);
        return now?.lastError === undefined ? undefined : now;
      });
      t.match(refused, {
        state: 'start',
        bgpState: /^(Active|Connect|Idle)$/,
        lastError: 'Socket: Connection refused',
      });
    });

    t.test('configure: valid change, check, broken file (old config keeps running), missing file', async (t) => {
      const added = family === 4 ? '10.123.0.0/24' : 'fd00:123::/64';
      await writeFile(live.configPath, `${live.baseConfig}protocol static s_added { route ${added} blackhole; }\n`);
      const applied = await configureBird(socketPath);
      t.same(applied, {
        ok: true,
        code: 3,
        message: 'Reconfigured',
        lines: [
          { code: 2, text: `Reading configuration from ${live.configPath}` },
          { code: 3, text: 'Reconfigured' },
        ],
      });
      t.ok(
        entries(await showProtocols(socketPath)).some((r) => r.name === 's_added'),
        'new protocol is running',
      );

      const checked = await configureBird(socketPath, { check: true });
      t.match(checked, { ok: true, code: 20, message: 'Configuration OK' });

      // Line 3 has a syntax error at column 32 (the '}') (missing ';' before '}').
      const broken = live.baseConfig.replace('protocol device { scan time 10; }', 'protocol device { scan time 10 }');
      await writeFile(live.configPath, broken);
      const rejected = await configureBird(socketPath);
      t.same(rejected, {
        ok: false,
        code: 8002,
        message: `${live.configPath}:3:32 syntax error`,
        location: { file: live.configPath, line: 3, column: 32, message: 'syntax error' },
        lines: [
          { code: 2, text: `Reading configuration from ${live.configPath}` },
          { code: 8002, text: `${live.configPath}:3:32 syntax error` },
        ],
      });
      const still = entries(await showProtocols(socketPath)).map((r) => r.name);
      t.ok(still.includes('s_added'), 'the old configuration is still running');
      t.equal((await runBirdCommand(socketPath, 'show status')).code, 13, 'BIRD is up');
      t.match(await configureBird(socketPath, { check: true }), {
        ok: false,
        code: 8002,
        location: { line: 3, column: 32 },
      });

      const other = join(live.dir, 'other.cfg');
      await writeFile(other, 'router id 127.0.0.1;\nprotocol device {\n  frob;\n}\n');
      t.match(await configureBird(socketPath, { configPath: other }), {
        ok: false,
        code: 8002,
        message: `${other}:3:3 syntax error`,
        location: { file: other, line: 3, column: 3 },
      });

      const missing = join(live.dir, 'missing.cfg');
      t.same(await configureBird(socketPath, { configPath: missing }), {
        ok: false,
        code: 8002,
        message: `${missing}: No such file or directory`,
        location: undefined,
        lines: [
          { code: 2, text: `Reading configuration from ${missing}` },
          { code: 8002, text: `${missing}: No such file or directory` },
        ],
      });

      // Removing a BGP session (and the added static) is applied: 0003, or 0004 while it shuts down.
      const withoutPeer = live.baseConfig
        .split('\n')
        .filter((l) => !l.includes(`protocol bgp ${live.peerNames[0]} `))
        .join('\n');
      await writeFile(live.configPath, withoutPeer);
      const removed = await configureBird(socketPath);
      t.ok(removed.ok, `removal accepted (${removed.code} ${removed.message})`);
      t.ok([3, 4].includes(removed.code));
      const after = await waitFor('the removed peer to disappear', async () => {
        const names = entries(await showProtocols(socketPath)).map((r) => r.name);
        return names.includes(live.peerNames[0] ?? '') ? undefined : names;
      });
      t.notOk(after.includes('s_added'));
      await writeFile(live.configPath, live.baseConfig);
      t.match(await configureBird(socketPath), { ok: true });
    });
  });
}

// ------------------------------------------------------------------------------------------
// Unreachable, dead, slow and broken sockets
// ------------------------------------------------------------------------------------------

t.test('unreachable socket: BirdUnreachableError naming the socket', async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, 'no-such.ctl');
  const e1 = await rejection(configureBird(missing));
  t.ok(e1 instanceof BirdUnreachableError);
  t.match(e1, {
    socketPath: missing,
    code: 'ENOENT',
    message: new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
  });
  t.ok((e1 as Error).cause, 'carries the cause');
  t.ok((await rejection(showProtocols(missing))) instanceof BirdUnreachableError);
  t.ok((await rejection(BirdControlClient.connect(missing))) instanceof BirdUnreachableError);
  t.notOk(e1 instanceof BirdProtocolError);

  // A socket file left behind by a BIRD that was killed: connection refused.
  const configPath = join(dir, 'bird.cfg');
  await writeMinimalConfig(configPath, '127.0.0.1');
  const proc = await startBirdForTest(t, { family: 4, configPath, socketPath: join(dir, 'dead.ctl') });
  const client = await BirdControlClient.connect(proc.socketPath);
  t.ok(proc.kill('SIGKILL'));
  await proc.exited;
  const lost = await rejection(client.command('show status'));
  t.ok(lost instanceof BirdUnreachableError, 'an open connection to a BIRD that dies fails as unreachable');
  t.ok(client.closed);
  const refused = await rejection(configureBird(proc.socketPath));
  t.ok(refused instanceof BirdUnreachableError);
  t.match(refused, { socketPath: proc.socketPath, code: 'ECONNREFUSED' });
});

/** A fake control socket: `onConnection` decides what it says. */
async function fakeBird(t: Test, onConnection: (socket: net.Socket) => void): Promise<string> {
  const dir = await tempDir(t);
  const path = join(dir, 'fake.ctl');
  const server = net.createServer(onConnection);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return path;
}

t.test('slow, aborted, garbled and closing servers', async (t) => {
  const silent = await fakeBird(t, (s) => {
    s.write('0001 BIRD 1.6.8 ready.\n');
  });
  const client = await BirdControlClient.connect(silent);
  const timedOut = await rejection(client.command('show status', { timeoutMs: 100 }));
  t.ok(timedOut instanceof BirdTimeoutError);
  t.ok(timedOut instanceof BirdTimeoutError && timedOut.timeoutMs === 100);
  t.ok(client.closed, 'a timed-out connection is closed (its reply would come out of step)');
  t.ok((await rejection(client.command('show status'))) instanceof BirdUnreachableError);

  const client2 = await BirdControlClient.connect(silent);
  const early = await rejection(client2.command('show status', { signal: AbortSignal.abort(new Error('not sent')) }));
  t.match(early, { message: 'not sent' });
  t.notOk(client2.closed, 'a command aborted before it is sent leaves the connection usable');
  const ac = new AbortController();
  const pending = client2.command('show status', { signal: ac.signal });
  await delay(20);
  ac.abort(new Error('stop now'));
  const aborted = await rejection(pending);
  t.match(aborted, { message: 'stop now' }, 'rejects with the abort reason');
  t.ok(client2.closed, 'a command aborted in flight closes the connection');

  // Queued behind a command that never completes: the abort rejects at once, nothing is sent.
  const client3 = await BirdControlClient.connect(silent);
  t.teardown(() => client3.close());
  const stuck = client3.command('show status', { timeoutMs: 0 });
  stuck.catch(() => undefined);
  const queued = new AbortController();
  const waiting = client3.command('show protocols', { signal: queued.signal });
  await delay(20);
  queued.abort(new Error('gave up waiting'));
  t.match(await rejection(waiting), { message: 'gave up waiting' });
  t.notOk(client3.closed, 'the running command is not disturbed');

  const preAborted = AbortSignal.abort(new Error('already'));
  t.match(await rejection(BirdControlClient.connect(silent, { signal: preAborted })), { message: 'already' });

  const mute = await fakeBird(t, () => undefined);
  const noGreeting = await rejection(BirdControlClient.connect(mute, { timeoutMs: 100 }));
  t.ok(noGreeting instanceof BirdTimeoutError, 'no greeting within timeoutMs');

  const garbled = await fakeBird(t, (s) => {
    s.write('HTTP/1.1 400 Bad Request\n');
  });
  const g = await rejection(BirdControlClient.connect(garbled));
  t.ok(g instanceof BirdProtocolError);
  t.match(g, { line: 'HTTP/1.1 400 Bad Request' });

  const wrongGreeting = await fakeBird(t, (s) => {
    s.write('9001 go away\n');
  });
  t.ok((await rejection(BirdControlClient.connect(wrongGreeting))) instanceof BirdProtocolError);

  const hangsUp = await fakeBird(t, (s) => {
    s.write('0001 BIRD 1.6.8 ready.\n');
    s.on('data', () => {
      s.end('2002-name     proto    table    state  since       info\n1002-device1  Device\n');
    });
  });
  const c3 = await BirdControlClient.connect(hangsUp);
  const cut = await rejection(c3.command('show protocols'));
  t.ok(cut instanceof BirdUnreachableError, 'connection closed mid-reply');
  t.ok(cut instanceof BirdUnreachableError && cut.socketPath === hangsUp);

  const unsolicited = await fakeBird(t, (s) => {
    s.write('0001 BIRD 1.6.8 ready.\n0003 Reconfigured\n');
  });
  const c4 = await BirdControlClient.connect(unsolicited);
  const u = await rejection(c4.command('show status'));
  t.ok(u instanceof BirdProtocolError, 'a reply nobody asked for breaks the connection');
});

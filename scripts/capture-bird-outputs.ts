// Captures what BIRD 1.6, 2 and 3 say on their control socket and to `bird -p`, from the real daemons, into
// fixtures/bird-outputs/bird-<version>/ (the parsers' unit tests read them; README "Tests"). Run on purpose
// (root, network namespaces): `npx tsx scripts/capture-bird-outputs.ts [version …]` (default: every installed
// BIRD). Two daemons of the version in a namespace, on loopback addresses: A (127.0.0.1, fd00::1) is
// captured; B (127.0.0.2/.3/.6, fd00::2) gives A an Established session each family, a wrong AS (`Bad peer AS`)
// and a `disable after error` session; nobody answers 127.0.0.4 (`Connection refused`), 127.0.0.7 is passive.
// BIRD locks a session by neighbor address (not local address): each of B's sessions has its own A address.
// BIRD 1.6 listens on one address per daemon (`listen bgp`): there B answers on 127.0.0.2 only (so A's wrong-AS
// sessions see `Connection refused`), and bird6 pairs carry the IPv6 session.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startBird, type BirdProcess } from '../test/harness/bird.js';
import { createNamespace } from '../test/harness/netns.js';
import { delay } from '../test/harness/process.js';
import { installedBirds } from '../test/support/birdVersions.js';
import { FIXTURES_DIR } from '../test/support/fixtures.js';

const A_CONFIG = `log stderr all;
router id 127.0.0.1;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 10.65.0.0/26 blackhole; }
protocol static s6 { ipv6; route fd00:65::/122 blackhole; }
template bgp t4 {
  local 127.0.0.1 as 64511;
  strict bind on;
  multihop;
  connect delay time 1;
  connect retry time 2;
  error wait time 2, 4;
  ipv4 { import all; export all; };
}
protocol bgp Mesh_127_0_0_2 from t4 { neighbor 127.0.0.2 as 64511; }
protocol bgp Mesh_127_0_0_3 from t4 { local 127.0.0.11 as 64511; neighbor 127.0.0.3 as 64511; }
protocol bgp Global_127_0_0_4_with_a_very_long_name from t4 { neighbor 127.0.0.4 as 64512; }
protocol bgp Node_127_0_0_5 from t4 { neighbor 127.0.0.5 as 64511; disabled; }
protocol bgp Node_127_0_0_6 from t4 { local 127.0.0.12 as 64511; neighbor 127.0.0.6 as 64511; disable after error on; }
protocol bgp Global_127_0_0_7 from t4 { neighbor 127.0.0.7 as 64511; passive on; }
protocol bgp Mesh_fd00__2 {
  local fd00::1 as 64511;
  strict bind on;
  multihop;
  connect delay time 1;
  neighbor fd00::2 as 64511;
  ipv6 { import all; export all; };
}
`;

const B_CONFIG = `log stderr all;
router id 127.0.0.2;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 10.65.1.0/26 blackhole; route 10.65.2.0/26 blackhole; }
protocol static s6 { ipv6; route fd00:66::/122 blackhole; }
template bgp t4 { strict bind on; multihop; connect delay time 1; connect retry time 2; error wait time 2, 4; ipv4 { import all; export all; }; }
protocol bgp a from t4 { local 127.0.0.2 as 64511; neighbor 127.0.0.1 as 64511; }
protocol bgp b from t4 { local 127.0.0.3 as 64999; neighbor 127.0.0.11 as 64511; }
protocol bgp c from t4 { local 127.0.0.6 as 64999; neighbor 127.0.0.12 as 64511; }
protocol bgp d { local fd00::2 as 64511; strict bind on; multihop; connect delay time 1; neighbor fd00::1 as 64511; ipv6 { import all; export all; }; }
`;

/** BIRD 1.6: A and B per family (bird, bird6), the same sessions where one listening address allows. */
const A16_CONFIG = `log stderr all;
router id 127.0.0.1;
listen bgp address 127.0.0.1;
protocol device { scan time 10; }
protocol static s4 { route 10.65.0.0/26 blackhole; }
template bgp t4 { local 127.0.0.1 as 64511; multihop; connect delay time 1; connect retry time 2; error wait time 2, 4; import all; export all; }
protocol bgp Mesh_127_0_0_2 from t4 { neighbor 127.0.0.2 as 64511; }
protocol bgp Global_127_0_0_4_with_a_very_long_name from t4 { neighbor 127.0.0.4 as 64512; }
protocol bgp Node_127_0_0_5 from t4 { neighbor 127.0.0.5 as 64511; disabled; }
protocol bgp Global_127_0_0_7 from t4 { neighbor 127.0.0.7 as 64511; passive on; }
`;
const B16_CONFIG = `log stderr all;
router id 127.0.0.2;
listen bgp address 127.0.0.2;
protocol device { scan time 10; }
protocol static s4 { route 10.65.1.0/26 blackhole; route 10.65.2.0/26 blackhole; }
protocol bgp a { local 127.0.0.2 as 64511; neighbor 127.0.0.1 as 64511; multihop; connect delay time 1; import all; export all; }
`;
const A16_6_CONFIG = `log stderr all;
router id 127.0.0.1;
listen bgp address fd00::1;
protocol device { scan time 10; }
protocol static s6 { route fd00:65::/122 blackhole; }
protocol bgp Mesh_fd00__2 { local fd00::1 as 64511; neighbor fd00::2 as 64511; multihop; connect delay time 1; import all; export all; }
`;
const B16_6_CONFIG = `log stderr all;
router id 127.0.0.2;
listen bgp address fd00::2;
protocol device { scan time 10; }
protocol static s6 { route fd00:66::/122 blackhole; }
protocol bgp d { local fd00::2 as 64511; neighbor fd00::1 as 64511; multihop; connect delay time 1; import all; export all; }
`;

/** Bytes read from the socket after each command, greeting first: the raw wire form. */
async function capture(socketPath: string, commands: readonly string[]): Promise<string> {
  const socket = net.createConnection({ path: socketPath });
  socket.setEncoding('utf8');
  let buffer = '';
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    waiting?.();
  });
  const replyEnded = (): boolean => /(^|\n)\d{4} [^\n]*\n$/.test(buffer);
  const next = async (): Promise<string> => {
    while (!replyEnded()) await new Promise<void>((resolve) => (waiting = resolve));
    const text = buffer;
    buffer = '';
    return text;
  };
  let out = await next();
  for (const command of commands) {
    socket.write(`${command}\n`);
    out += await next();
  }
  socket.destroy();
  return out;
}

async function settled(socketPath: string, patterns: readonly RegExp[]): Promise<boolean> {
  const text = await capture(socketPath, ['show protocols']);
  return patterns.every((p) => p.test(text));
}

const teardowns: (() => unknown)[] = [];
const registrar = { teardown: (fn: () => unknown) => teardowns.push(fn) };

async function captureVersion(version: string, bird: string, bird6: string | undefined): Promise<void> {
  const bird1 = bird6 !== undefined;
  const out = join(FIXTURES_DIR, 'bird-outputs', `bird-${version}`);
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'birdwatch-capture-'));
  teardowns.push(() => rmSync(work, { recursive: true, force: true }));
  const ns = await createNamespace(registrar, 'bwcap');
  await execa('ip', ['-n', ns.name, 'addr', 'add', 'fd00::1/128', 'dev', 'lo']);
  await execa('ip', ['-n', ns.name, 'addr', 'add', 'fd00::2/128', 'dev', 'lo']);
  writeFileSync(join(work, 'a.cfg'), bird1 ? A16_CONFIG : A_CONFIG);
  writeFileSync(join(work, 'b.cfg'), bird1 ? B16_CONFIG : B_CONFIG);
  writeFileSync(join(work, 'a6.cfg'), A16_6_CONFIG);
  writeFileSync(join(work, 'b6.cfg'), B16_6_CONFIG);
  // A parse error inside the running daemon's `configure`, and the same file under `bird -p`.
  writeFileSync(join(work, 'bad.cfg'), 'router id 127.0.0.1;\nprotocol device {\n  foo;\n}\n');
  writeFileSync(
    join(work, 'ebgp.cfg'),
    bird1
      ? 'router id 127.0.0.1;\nfilter f { accept; }\nfilter f { accept; }\n'
      : 'router id 127.0.0.1;\nprotocol bgp x { local as 1; neighbor 10.0.0.1 as 2; ipv4 { import all; }; }\n',
  );
  const start = (name: string, binary = bird): Promise<BirdProcess> =>
    startBird({
      family: 4,
      binary,
      configPath: join(work, `${name}.cfg`),
      socketPath: join(work, `${name}.ctl`),
      wrapper: ns.exec,
    });
  const a = await start('a');
  teardowns.push(() => a.stop());
  const b = await start('b');
  teardowns.push(() => b.stop());
  const wanted = bird1
    ? [/Mesh_127_0_0_2\s.*Established/, /Global_127_0_0_4\S*\s.*Connection refused/]
    : [
        /Mesh_127_0_0_2\s.*Established/,
        /Mesh_fd00__2\s.*Established/,
        /Mesh_127_0_0_3\s.*Bad peer AS/,
        /Node_127_0_0_6\s+BGP\s+\S+\s+down/,
      ];
  let a6: BirdProcess | undefined;
  if (bird1) {
    a6 = await start('a6', bird6);
    teardowns.push(() => a6!.stop());
    const b6 = await start('b6', bird6);
    teardowns.push(() => b6.stop());
  }
  const deadline = Date.now() + 60_000;
  while (
    !(await settled(a.socketPath, wanted)) ||
    (a6 && !(await settled(a6.socketPath, [/Mesh_fd00__2\s.*Established/])))
  ) {
    if (Date.now() > deadline) throw new Error(`BIRD ${version}: sessions did not settle:\n${await a.output()}`);
    await delay(500);
  }
  const write = (name: string, text: string): void =>
    writeFileSync(join(out, name), text.replaceAll(work, '/tmp/bwcap'));
  if (a6) write('socket-show-protocols-all-bird6.raw.txt', await capture(a6.socketPath, ['show protocols all']));
  write('socket-show-protocols.raw.txt', await capture(a.socketPath, ['show protocols']));
  write('socket-show-protocols-all.raw.txt', await capture(a.socketPath, ['show protocols all']));
  write('socket-show-protocols-peer.raw.txt', await capture(b.socketPath, ['show protocols']));
  write(
    'socket-configure.raw.txt',
    await capture(a.socketPath, [
      'configure',
      'configure check',
      `configure "${join(work, 'bad.cfg')}"`,
      `configure "${join(work, 'nonexist.cfg')}"`,
      'configure nonsense',
    ]),
  );
  write(
    'socket-configure-guarded.raw.txt',
    await capture(a.socketPath, [
      'configure timeout 30',
      'configure status',
      'configure confirm',
      'configure confirm',
      'configure undo',
      'configure undo',
    ]),
  );
  write('socket-misc.raw.txt', await capture(a.socketPath, ['show status', 'disable nosuch', 'enable Node_127_0_0_5']));
  const parseErrors: string[] = [];
  for (const file of ['bad.cfg', 'ebgp.cfg', 'nonexist.cfg']) {
    const result = await execa(bird, ['-p', '-c', join(work, file)], { reject: false });
    parseErrors.push(`${result.stderr}${result.stdout}`.trim());
  }
  write('bird-p-errors.txt', `${parseErrors.join('\n')}\n`);
  process.stdout.write(`BIRD ${version}: ${out}\n`);
}

const wanted = process.argv.slice(2);
try {
  for (const installed of installedBirds()) {
    if (wanted.length > 0 && !wanted.includes(installed.version.text)) continue;
    await captureVersion(installed.version.text, installed.bird, installed.bird6);
    while (teardowns.length > 0) await teardowns.pop()!();
  }
} finally {
  while (teardowns.length > 0) await teardowns.pop()!();
}

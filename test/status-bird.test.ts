import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { startBirdForTest } from './harness/bird.js';
import { startEtcdForTest } from './harness/etcd.js';
import { canCreateNamespaces, createNamespace } from './harness/netns.js';
import { delay } from './harness/process.js';
import { birdOfVersion, isMissing, type InstalledBird } from './support/birdVersions.js';
import { cli, type CliResult } from './support/cli.js';

// `birdwatch status` against real bird and bird6. Two nodes are set up with birdwatch commands and rendered
// with `birdwatch render`; each node's BIRD runs in its own network namespace (created here, joined by a veth
// pair), so node A's mesh session to node B comes up, while A's global and node-specific peers are loopback
// addresses inside A's namespace where nobody listens. No traffic leaves the namespaces.

if (!(await canCreateNamespaces())) {
  t.plan(0, 'network namespaces are not available (needs root and iproute2)');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-status-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const etcd = await startEtcdForTest(t);
  const env = { ETCD_ENDPOINTS: etcd.endpoints.join(',') };
  const run = async (...args: string[]): Promise<CliResult> => {
    const result = await cli(args, env);
    if (result.code !== 0) throw new Error(`birdwatch ${args.join(' ')}: ${result.stderr}`);
    return result;
  };

  /** Two namespaces joined by a veth pair: node A at 10.99.0.1 / fd00:99::1, node B at .2 / ::2. */
  const namespacePair = async () => {
    const nsA = await createNamespace(t, 'bws');
    const nsB = await createNamespace(t, 'bws');
    await execa('ip', [
      'link',
      'add',
      'bwveth',
      'netns',
      nsA.name,
      'type',
      'veth',
      'peer',
      'name',
      'bwveth',
      'netns',
      nsB.name,
    ]);
    for (const [ns, last] of [
      [nsA, 1],
      [nsB, 2],
    ] as const) {
      await execa('ip', ['-n', ns.name, 'addr', 'add', `10.99.0.${last}/24`, 'dev', 'bwveth']);
      await execa('ip', ['-n', ns.name, 'addr', 'add', `fd00:99::${last}/64`, 'dev', 'bwveth', 'nodad']);
      await execa('ip', ['-n', ns.name, 'link', 'set', 'bwveth', 'up']);
    }
    return [nsA, nsB] as const;
  };
  const [nsA, nsB] = await namespacePair();

  await run('node', 'register', '--node', 'node-a', '--ip', '10.99.0.1', '--ip6', 'fd00:99::1');
  await run('node', 'register', '--node', 'node-b', '--ip', '10.99.0.2', '--ip6', 'fd00:99::2');
  await run('bgp', 'peer', 'add', '127.0.0.3', 'as', '64999');
  await run('node', 'bgp', 'peer', 'add', '127.0.0.4', 'as', '64998', '--node', 'node-a');
  await run('node', 'bgp', 'peer', 'add', '::1', 'as', '64997', '--node', 'node-a');

  const sockets: Record<string, string> = {};
  for (const [node, ns] of [
    ['node-a', nsA],
    ['node-b', nsB],
  ] as const) {
    const out = join(dir, node);
    await run('render', '--datastore', 'etcd', '--node', node, '--out', out, '--ipip', 'off');
    for (const family of [4, 6] as const) {
      const name = family === 4 ? 'bird' : 'bird6';
      const socketPath = join(dir, `${node}-${name}.ctl`);
      sockets[`${node}-${name}`] = socketPath;
      await startBirdForTest(t, {
        family,
        configPath: join(out, `${name}.cfg`),
        socketPath,
        wrapper: ns.exec,
        logFile: join(dir, `${node}-${name}.log`),
      });
    }
  }
  const birdA = sockets['node-a-bird']!;
  const bird6A = sockets['node-a-bird6']!;

  /**
   * The same two nodes on BIRD 2/3 (rendered by `render --bird`, one daemon each): node A's bird socket, once its
   * BIRD runs. Started before the BIRD 1.6 tests, so their sessions come up meanwhile.
   */
  const bird2Nodes = async (installed: InstalledBird): Promise<string> => {
    const [a, b] = await namespacePair();
    let socketA = '';
    for (const [node, ns] of [
      ['node-a', a],
      ['node-b', b],
    ] as const) {
      const out = join(dir, `${node}-${installed.version.text}`);
      await run(
        'render',
        '--datastore',
        'etcd',
        '--node',
        node,
        '--out',
        out,
        '--ipip',
        'off',
        '--bird',
        installed.bird,
      );
      const socketPath = join(dir, `${node}-${installed.version.text}.ctl`);
      if (node === 'node-a') socketA = socketPath;
      await startBirdForTest(t, {
        family: 4,
        binary: installed.bird,
        configPath: join(out, 'bird.cfg'),
        socketPath,
        wrapper: ns.exec,
        logFile: join(dir, `${node}-${installed.version.text}.log`),
      });
    }
    return socketA;
  };
  const bird2Sockets = new Map<string, Promise<string>>();
  for (const version of ['2.0.12', '3.3.2']) {
    const installed = birdOfVersion(version);
    if (!isMissing(installed)) bird2Sockets.set(version, bird2Nodes(installed));
  }

  /** Polls `status` on node A until both mesh sessions are established (BIRD waits its start delay first). */
  async function statusWhenMeshUp(): Promise<CliResult> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const result = await cli(['status', '--bird-socket', birdA, '--bird6-socket', bird6A, '--json']);
      const parsed = JSON.parse(result.stdout) as { ipv4: { established?: number }; ipv6: { established?: number } };
      if (parsed.ipv4.established === 1 && parsed.ipv6.established === 1) return result;
      if (Date.now() > deadline) throw new Error(`mesh sessions not established within 60 s:\n${result.stdout}`);
      await delay(250);
    }
  }

  t.test('both daemons answer: a table per family, the mesh session established, loopback peers not', async (t) => {
    const json = await statusWhenMeshUp();
    t.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as Record<
      string,
      {
        reachable: boolean;
        total: number;
        sessions: { peerAddress: string; peerType: string; protocol: string; state: string; bgpState: string | null }[];
      }
    >;
    t.same(
      parsed['ipv4']?.sessions.map((s) => [s.protocol, s.peerAddress, s.peerType]),
      [
        ['Mesh_10_99_0_2', '10.99.0.2', 'node-to-node mesh'],
        ['Global_127_0_0_3', '127.0.0.3', 'global'],
        ['Node_127_0_0_4', '127.0.0.4', 'node specific'],
      ],
    );
    t.same(
      parsed['ipv6']?.sessions.map((s) => [s.protocol, s.peerAddress, s.peerType]),
      [
        ['Mesh_fd00_99__2', 'fd00:99::2', 'node-to-node mesh'],
        ['Node___1', '::1', 'node specific'],
      ],
    );
    t.same(
      parsed['ipv4']?.sessions.map((s) => s.state),
      ['up', 'start', 'start'],
    );
    t.not(parsed['ipv4']?.sessions[1]?.bgpState, 'Established');

    const table = await cli(['status', '--bird-socket', birdA, '--bird6-socket', bird6A]);
    t.equal(table.code, 0, table.stderr);
    t.equal(table.stderr, '');
    const lines = table.stdout.split('\n');
    t.equal(lines[0], 'IPv4 BGP status');
    t.match(lines[2]!, /^\| Peer address \| Peer type +\| State \| Since +\| Info +\|$/);
    t.match(lines[4]!, /^\| 10\.99\.0\.2 +\| node-to-node mesh \| up +\| \d\d:\d\d:\d\d \| Established +\|$/);
    t.match(lines[5]!, /^\| 127\.0\.0\.3 +\| global +\| start \| \d\d:\d\d:\d\d \| (Idle|Connect|Active)\b/);
    t.match(lines[6]!, /^\| 127\.0\.0\.4 +\| node specific +\| start \|/);
    t.equal(lines[8], '1 of 3 sessions established');
    t.equal(lines[9], '');
    t.equal(lines[10], 'IPv6 BGP status');
    t.match(lines[14]!, /^\| fd00:99::2 +\| node-to-node mesh \| up +\|/);
    t.equal(lines.at(-1), '1 of 2 sessions established');

    const strict = await cli(['status', '--bird-socket', birdA, '--bird6-socket', bird6A, '--fail-unless-established']);
    t.equal(strict.code, 3, '--fail-unless-established: exit 3 when a session is not Established');
    t.equal(strict.stderr, 'error: 3 of 5 BGP sessions not Established: 127.0.0.3, 127.0.0.4, ::1');
  });

  t.test('bird6 unreachable: the IPv4 table still, a warning naming the bird6 socket, exit 0', async (t) => {
    const missing = join(dir, 'no-bird6.ctl');
    const result = await cli(['status', '--bird-socket', birdA, '--bird6-socket', missing]);
    t.equal(result.code, 0);
    t.match(result.stdout, /^IPv4 BGP status\n\+/);
    t.match(result.stdout, /1 of 3 sessions established/);
    t.match(result.stdout, /IPv6 BGP status\nbird6 is not reachable$/);
    t.equal(
      result.stderr,
      `warning: bird6 (IPv6) is not reachable at ${missing}: no such socket (is it running?) [ENOENT]; no IPv6 status`,
      'the error said once, the path once',
    );
  });

  t.test('bird unreachable: exit 1 naming the socket; bird6 is still shown', async (t) => {
    const missing = join(dir, 'no-bird.ctl');
    const result = await cli(['status', '--bird-socket', missing, '--bird6-socket', bird6A]);
    t.equal(result.code, 1);
    t.equal(
      result.stderr,
      `error: bird (IPv4) is not reachable at ${missing}: no such socket (is it running?) [ENOENT]`,
    );
    t.match(result.stdout, /IPv6 BGP status\n\+/);
    const json = await cli(['status', '--bird-socket', missing, '--bird6-socket', join(dir, 'none6.ctl'), '--json']);
    t.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as Record<string, { reachable: boolean; socket: string; error: string }>;
    t.same([parsed['ipv4']?.reachable, parsed['ipv4']?.socket], [false, missing]);
    t.equal(parsed['ipv6']?.reachable, false);
  });

  t.test('a socket path that is not a BIRD: exit 1; bad --timeout: exit 2', async (t) => {
    const result = await cli(['status', '--bird-socket', dir, '--bird6-socket', bird6A]);
    t.equal(result.code, 1);
    t.match(result.stderr, new RegExp(`error: bird \\(IPv4\\) is not reachable at ${dir}`));
    const bad = await cli(['status', '--timeout', 'soon']);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /^error: --timeout "soon": expected a duration such as 250ms, 1s or 1.5s/);
    const dur = await cli(['status', '--bird-socket', birdA, '--bird6-socket', bird6A, '--timeout', '2s']);
    t.equal(dur.code, 0, '--timeout 2s is a duration');
  });

  for (const version of ['2.0.12', '3.3.2']) {
    const socket = bird2Sockets.get(version);
    t.test(
      `BIRD ${version}: one daemon answers both families; bird6 is not asked, nor warned about`,
      { skip: socket === undefined && `BIRD ${version} is not installed` },
      async (t) => {
        const birdSocket = await socket!;
        const missing6 = join(dir, 'no-such-bird6.ctl');
        const args = ['status', '--bird-socket', birdSocket, '--bird6-socket', missing6];
        const deadline = Date.now() + 60_000;
        let json: CliResult;
        for (;;) {
          json = await cli([...args, '--json']);
          const up = JSON.parse(json.stdout) as { ipv4: { established?: number }; ipv6: { established?: number } };
          if (up.ipv4.established === 1 && up.ipv6.established === 1) break;
          if (Date.now() > deadline) throw new Error(`mesh sessions not established within 60 s:\n${json.stdout}`);
          await delay(250);
        }
        t.equal(json.code, 0);
        t.equal(json.stderr, '', 'no warning about bird6');
        const parsed = JSON.parse(json.stdout) as Record<string, Record<string, unknown>>;
        t.same(parsed['bird'], { version, daemons: ['bird'] });
        t.match(parsed['ipv6'], { daemon: 'bird', socket: birdSocket, reachable: true, total: 2 });
        const sessions = (family: string) =>
          (parsed[family]?.['sessions'] as { protocol: string; peerAddress: string; peerType: string }[]).map((s) => [
            s.protocol,
            s.peerAddress,
            s.peerType,
          ]);
        t.same(sessions('ipv4'), [
          ['Mesh_10_99_0_2', '10.99.0.2', 'node-to-node mesh'],
          ['Global_127_0_0_3', '127.0.0.3', 'global'],
          ['Node_127_0_0_4', '127.0.0.4', 'node specific'],
        ]);
        t.same(sessions('ipv6'), [
          ['Mesh_fd00_99__2', 'fd00:99::2', 'node-to-node mesh'],
          ['Node___1', '::1', 'node specific'],
        ]);
        const table = await cli(args);
        t.equal(table.code, 0, table.stderr);
        t.equal(table.stderr, '');
        const lines = table.stdout.split('\n');
        t.equal(lines[0], 'IPv4 BGP status');
        t.match(
          lines[4]!,
          /^\| 10\.99\.0\.2 +\| node-to-node mesh \| up +\| \d\d:\d\d:\d\d\.\d{3} \| Established +\|$/,
        );
        t.equal(lines[8], '1 of 3 sessions established');
        t.equal(lines[10], 'IPv6 BGP status');
        t.match(lines[14]!, /^\| fd00:99::2 +\| node-to-node mesh \| up +\|/);
        t.equal(lines.at(-1), '1 of 2 sessions established');
        const strict = await cli([...args, '--fail-unless-established']);
        t.equal(strict.code, 3);
        t.equal(strict.stderr, 'error: 3 of 5 BGP sessions not Established: 127.0.0.3, 127.0.0.4, ::1');
      },
    );
  }
}

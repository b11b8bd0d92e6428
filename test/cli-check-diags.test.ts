/**
 * `check ready|live` and `diags` against a real `birdwatch run` process, a real etcd and real BIRD/BIRD6 in a
 * network namespace: the probe says what /readyz and /healthz say (exit 0/1, one line), a probe at an address
 * where nothing listens says so in one line, and the diagnostics archive (read back with the system's tar)
 * holds the config, both daemons' state, the run status, logs and etcd keys, with secrets redacted.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { freePort } from './harness/process.js';
import { spawnBirdwatch } from './support/birdwatchProcess.js';
import { cli } from './support/cli.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';
import { createWorld, NODE, waitFor } from './support/world.js';

const PEER_PASSWORD = 'bgp-peer-secret-42';
const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';

t.test('check: nothing listening at the address is one line, exit 1', async (t) => {
  const port = await freePort();
  for (const probe of ['ready', 'live']) {
    const result = await cli(['check', probe, '--listen', `127.0.0.1:${port}`]);
    t.equal(result.code, 1, `${probe}: exit 1`);
    t.equal(result.stdout, '');
    t.equal(
      result.stderr,
      `not ${probe}: birdwatch is not listening on 127.0.0.1:${port} (connection refused: is \`birdwatch run\` up, with this --listen?)`,
    );
  }
  const bad = await cli(['check', 'ready', '--listen', 'off']);
  t.equal(bad.code, 2);
});

if (!(await canCreateNamespaces())) {
  t.test(
    'check and diags against real BIRD',
    { skip: 'needs network namespaces (ip netns add failed)' },
    () => undefined,
  );
} else {
  t.test('check ready|live and diags against a running birdwatch', async (t) => {
    const h = await createWorld(t, {
      keyspace: loopbackKeyspace([
        keys.globalPeer(4, '127.0.0.9'),
        JSON.stringify({ ip: '127.0.0.9', as_num: '64512', password: PEER_PASSWORD }),
      ]),
    });
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const proc = spawnBirdwatch(
      t,
      [
        'run',
        '--node',
        NODE,
        '--config-dir',
        h.configDir,
        '--bird-socket',
        h.sockets.bird,
        '--bird6-socket',
        h.sockets.bird6,
        '--ipip',
        'off',
        '--listen',
        listen,
        '--min-reload-interval',
        '50ms',
        '--log-level',
        'INFO',
      ],
      { ETCD_ENDPOINTS: h.etcd.endpoints.join(',') },
    );
    await waitFor(
      'bird.cfg and bird6.cfg rendered',
      () => existsSync(join(h.configDir, 'bird.cfg')) && existsSync(join(h.configDir, 'bird6.cfg')),
      (ok) => ok,
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${proc.output()}`);
    });

    await t.test(
      'not ready while BIRD is down: exit 1, the failing conditions in one line; live: exit 0',
      async (t) => {
        const ready = await cli(['check', 'ready', '--listen', listen]);
        t.equal(ready.code, 1);
        t.equal(ready.stderr.split('\n').length, 1, 'one line');
        t.match(ready.stderr, /^not ready: .*bird does not answer: .*bird6 does not answer/);
        const live = await cli(['check', 'live', '--listen', listen]);
        t.equal(live.code, 0);
        t.match(live.stdout, /^live: the control loop ticked [\d.]+ s ago$/);
      },
    );

    await h.startBirds();
    await t.test('ready once BIRD runs the configuration: exit 0, why in one line', async (t) => {
      const ready = await waitFor(
        'check ready exits 0',
        () => cli(['check', 'ready', '--listen', listen]),
        (r) => r.code === 0,
        30_000,
      );
      t.match(ready.stdout, /^ready: synced with etcd at revision \d+; applied at \S+; bird answers; bird6 answers$/);
      t.equal(ready.stderr, '');
    });

    await t.test(
      'diags: one tar.gz with config, BIRD state, run status, logs and etcd keys; secrets redacted',
      async (t) => {
        writeFileSync(
          join(h.configDir, 'extra_peers.cfg'),
          `protocol bgp Extra from bgp_template {\n  neighbor 127.0.0.8 as 64512;\n  password "${PEER_PASSWORD}";\n}\n`,
        );
        const logFile = join(h.dir, 'birdwatch.log');
        writeFileSync(
          logFile,
          `${'old line\n'.repeat(5000)}a line with a key ${JSON.stringify(PRIVATE_KEY)}\nthe last line\n`,
        );
        const out = join(h.dir, 'diags.tar.gz');
        const result = await cli(
          [
            'diags',
            '--out',
            out,
            '--config-dir',
            h.configDir,
            '--bird-socket',
            h.sockets.bird,
            '--bird6-socket',
            h.sockets.bird6,
            '--listen',
            listen,
            '--log',
            logFile,
            '--log-bytes',
            '2000',
            '--node',
            NODE,
          ],
          {
            ETCD_ENDPOINTS: h.etcd.endpoints.join(','),
            NODENAME: NODE,
          },
        );
        t.equal(result.code, 0, result.stderr);
        t.equal(result.stderr, '', 'every part collected');
        t.match(result.stdout, new RegExp(`^wrote ${out} \\(\\d+ files, \\d+ bytes\\)$`));
        const extract = join(h.dir, 'extract');
        mkdirSync(extract);
        const listing = await execa('tar', ['-tzf', out]);
        const top = listing.stdout.split('\n')[0]!.split('/')[0]!;
        t.match(top, new RegExp(`^birdwatch-diags-${NODE}-\\d{8}T\\d{6}Z$`));
        await execa('tar', ['-xzf', out, '-C', extract]);
        const read = (name: string): string => readFileSync(join(extract, top, name), 'utf8');
        const files = listing.stdout
          .split('\n')
          .map((n) => n.slice(top.length + 1))
          .sort();
        for (const name of [
          'config/bird.cfg',
          'config/bird6.cfg',
          'config/extra_peers.cfg',
          'bird/show-protocols-all.txt',
          'bird/show-route.txt',
          'bird/show-status.txt',
          'bird6/show-protocols-all.txt',
          'bird6/show-route.txt',
          'run/readyz.json',
          'run/healthz.json',
          'run/metrics.txt',
          'logs/1-birdwatch.log',
          'etcd/keys.json',
          'environment.txt',
          'summary.txt',
        ]) {
          t.ok(files.includes(name), `${name} in the archive`);
        }
        t.equal(read('config/bird.cfg'), readFileSync(join(h.configDir, 'bird.cfg'), 'utf8'), 'bird.cfg as it is live');
        t.match(read('bird/show-protocols-all.txt'), /Mesh_127_0_0_2 +BGP/);
        t.match(read('bird/show-status.txt'), /BIRD 1\.6/);
        t.match(JSON.parse(read('run/readyz.json')), { status: 'ready' });
        t.match(read('run/metrics.txt'), /^birdwatch_build_info\{version="[^"]+",nodejs_version="v[\d.]+"\} 1$/m);
        const etcdKeys = JSON.parse(read('etcd/keys.json')) as { keys: Record<string, string> };
        t.equal(etcdKeys.keys[keys.hostAddress('n2', 4)], '127.0.0.2');
        t.same(
          JSON.parse(etcdKeys.keys[keys.globalPeer(4, '127.0.0.9')]!),
          { ip: '127.0.0.9', as_num: '64512', password: '[redacted]' },
          "a peer's password is redacted in the etcd keys",
        );
        t.match(read('config/extra_peers.cfg'), /password "\[redacted\]";/);
        const log = read('logs/1-birdwatch.log');
        t.ok(log.endsWith('the last line\n') && log.length <= 2000, 'the end of the log, at most --log-bytes');
        t.notMatch(log, /BEGIN PRIVATE KEY[\s\S]*MIIE/, 'a private key in a log is redacted');
        t.match(read('environment.txt'), new RegExp(`^NODENAME=${NODE}$`, 'm'));
        t.match(read('summary.txt'), /ok {6}etcd keys .* keys at revision \d+/);
        const all = (await execa('sh', ['-c', `cat $(find ${extract} -type f)`])).stdout;
        t.notOk(all.includes(PEER_PASSWORD), 'the peer password appears nowhere in the archive');
      },
    );

    await t.test(
      'bird6 down: check ready exit 1 naming bird6; diags still written, the failed parts named',
      async (t) => {
        const bird6 = h.birds.bird6!;
        await bird6.stop();
        const ready = await waitFor(
          'check ready exits 1',
          () => cli(['check', 'ready', '--listen', listen]),
          (r) => r.code === 1,
          15_000,
        );
        t.match(ready.stderr, /^not ready: bird6 does not answer: /);
        t.notMatch(ready.stderr, /\n/, 'one line');
        const out = join(h.dir, 'diags2.tar.gz');
        const result = await cli([
          'diags',
          '--out',
          out,
          '--config-dir',
          h.configDir,
          '--bird-socket',
          h.sockets.bird,
          '--bird6-socket',
          h.sockets.bird6,
          '--listen',
          listen,
          '--no-etcd',
          '--node',
          NODE,
        ]);
        t.equal(result.code, 0, 'the archive is written');
        t.equal(
          result.stderr.split('\n').length,
          3,
          'one warning per failed part: bird6 show status, protocols, route',
        );
        t.match(result.stderr, /^warning: bird6 `show status` \(.*bird6\.ctl\): /m);
        t.match(result.stdout, /3 part\(s\) could not be collected, see summary\.txt/);
        const summary = (await execa('tar', ['-xzOf', out, '--wildcards', '*/summary.txt'])).stdout;
        t.match(summary, /FAILED {2}bird6 `show route`/);
        t.match(summary, /skipped etcd: --no-etcd/);
      },
    );
    proc.kill('SIGTERM');
    await proc.exited;
  });

  /**
   * BIRD 2.0.12 and 3.3.2: `birdwatch run --bird <it>` (a real process) renders one bird.cfg, waits on bird alone
   * (readiness, metrics, diags name no bird6), and `--metrics-per-peer` gives each session of both families a series.
   */
  for (const version of ['2.0.12', '3.3.2']) {
    const installed = birdOfVersion(version);
    t.test(
      `BIRD ${version}: run picks the dialect from --bird; ready, metrics and diags have no bird6`,
      { skip: isMissing(installed) && installed.missing },
      async (t) => {
        if (isMissing(installed)) return;
        const h = await createWorld(t, {
          keyspace: loopbackKeyspace([keys.hostAddress('n2', 6), 'fd00::2']),
          bird: installed,
        });
        const port = await freePort();
        const listen = `127.0.0.1:${port}`;
        const proc = spawnBirdwatch(
          t,
          [
            ...h.runArgv(),
            '--listen',
            listen,
            '--min-reload-interval',
            '50ms',
            '--log-format',
            'json',
            '--metrics-per-peer',
          ],
          { ETCD_ENDPOINTS: h.etcd.endpoints.join(',') },
        );
        await waitFor(
          'bird.cfg rendered',
          () => existsSync(join(h.configDir, 'bird.cfg')),
          (ok) => ok,
          30_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}\n${proc.output()}`);
        });
        t.notOk(existsSync(join(h.configDir, 'bird6.cfg')), 'no bird6.cfg');
        t.match(
          await waitFor(
            'the bird-version line',
            () => proc.lines.find((l) => l['event'] === 'bird-version'),
            (line) => line !== undefined,
            10_000,
          ),
          { version, dialect: 'bird2', from: `${installed.bird} --version`, daemons: ['bird'] },
          'the version it renders for, and where it came from',
        );
        const down = await cli(['check', 'ready', '--listen', listen]);
        t.match(down.stderr, /^not ready: .*bird does not answer/);
        t.notMatch(down.stderr, /bird6/, 'no readiness condition for bird6');
        await h.startBirds();
        const ready = await waitFor(
          'check ready exits 0',
          () => cli(['check', 'ready', '--listen', listen]),
          (r) => r.code === 0,
          30_000,
        );
        t.match(ready.stdout, /^ready: synced with etcd at revision \d+; applied at \S+; bird answers$/);
        const out = join(h.dir, 'diags.tar.gz');
        const result = await cli([
          'diags',
          '--out',
          out,
          '--config-dir',
          h.configDir,
          '--bird-socket',
          h.sockets.bird,
          '--bird6-socket',
          h.sockets.bird6,
          '--listen',
          listen,
          '--no-etcd',
          '--node',
          NODE,
        ]);
        t.equal(result.code, 0, result.stderr);
        t.equal(result.stderr, '', 'every part collected: bird6 is not asked');
        const listing = (await execa('tar', ['-tzf', out])).stdout.split('\n');
        t.ok(listing.some((n) => n.endsWith('/bird/show-status.txt')));
        t.notOk(
          listing.some((n) => n.includes('/bird6/') || n.endsWith('bird6.cfg')),
          'nothing of bird6',
        );
        const read = async (name: string): Promise<string> =>
          (await execa('tar', ['-xzOf', out, '--wildcards', `*/${name}`])).stdout;
        t.match(await read('summary.txt'), new RegExp(`^BIRD ${version.replace(/\./g, '\\.')}: bird$`, 'm'));
        t.match(await read('bird/show-status.txt'), new RegExp(`BIRD ${version.replace(/\./g, '\\.')}`));
        const metrics = await read('run/metrics.txt');
        t.notMatch(metrics, /daemon="bird6"/, 'no bird6 series');
        t.match(metrics, /^birdwatch_bird_reachable\{daemon="bird"\} 1$/m);
        for (const [protocol, peer] of [
          ['Mesh_127_0_0_2', '127.0.0.2'],
          ['Mesh_fd00__2', 'fd00::2'],
        ])
          t.match(
            metrics,
            new RegExp(
              `^birdwatch_bgp_session_established\\{daemon="bird",protocol="${protocol}",peer="${peer}",type="mesh"\\} 0$`,
              'm',
            ),
            `per-peer series of ${peer}`,
          );
        proc.kill('SIGTERM');
        await proc.exited;
      },
    );
  }
}

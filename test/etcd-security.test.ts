import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { keys } from '../src/model/keys.js';
import { createTestPki, startSecureEtcd, type SecureEtcd, type TestPki } from './harness/etcdSecure.js';
import { freePort } from './harness/process.js';
import { exitWithin, spawnBirdwatch } from './support/birdwatchProcess.js';
import { cli, type CliResult } from './support/cli.js';
import { waitFor } from './support/world.js';
import { linesOf } from './support/logLines.js';

// birdwatch against a real etcd with TLS + client certificates, and with user/password auth: the right
// credentials work for render, run (--once and as a daemon) and the operator CLI; wrong or missing ones fail
// with one clear line — no stack trace, no retry storm, no secret in the output.

const NODE = 'n1';
const PASSWORD = 'bw-Secret-pw-8c1f';
const WRONG_PASSWORD = 'not-the-password-77';

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-security-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** Exit 1 and exactly one `error:` line on stderr, nothing that looks like a stack trace. */
function oneClearError(t: Test, result: CliResult, message: RegExp): void {
  t.equal(result.code, 1, `exit 1 (${result.stderr})`);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `one line: ${result.stderr}`);
  t.match(lines[0], /^error: /);
  t.match(lines[0], message);
  t.notMatch(result.stderr, /\n\s+at |Error: .*\n.*node_modules/, 'no stack trace');
}

async function seed(etcd: SecureEtcd): Promise<void> {
  await etcd.etcdctl(['put', keys.hostAddress(NODE, 4), '127.0.0.1']);
  await etcd.etcdctl(['put', keys.hostAddress('n2', 4), '127.0.0.2']);
}

const renderArgs = (out: string): string[] => ['render', '--node', NODE, '--out', out, '--ipip', 'off'];
const operatorCli = {
  skip: (await cli(['pool', '--help'])).code === 0 ? false : 'no operator CLI (pool) in this build',
};

t.test('etcd with TLS and client-certificate auth', async (t) => {
  const pki: TestPki = await createTestPki(t);
  const etcd = await startSecureEtcd(
    t,
    { tls: { server: pki.server, ca: pki.ca.cert, clientCa: pki.ca.cert } },
    pki.client,
  );
  await seed(etcd);
  const dir = tempDir(t);
  const tlsFlags = [
    '--etcd-endpoints',
    etcd.endpoint,
    '--etcd-ca',
    pki.ca.cert,
    '--etcd-cert',
    pki.client.cert,
    '--etcd-key',
    pki.client.key,
  ];

  await t.test('right CA and client certificate: render, run --once and the ETCD_* variables work', async (t) => {
    const render = await cli([...renderArgs(join(dir, 'render')), ...tlsFlags]);
    t.equal(render.code, 0, render.stderr);
    t.match(readFileSync(join(dir, 'render', 'bird.cfg'), 'utf8'), /protocol bgp Mesh_127_0_0_2/);
    const byEnv = await cli(renderArgs(join(dir, 'env')), {
      ETCD_ENDPOINTS: etcd.endpoint,
      ETCD_CA_CERT_FILE: pki.ca.cert,
      ETCD_CERT_FILE: pki.client.cert,
      ETCD_KEY_FILE: pki.client.key,
    });
    t.equal(byEnv.code, 0, byEnv.stderr);
    const once = await cli([
      'run',
      '--once',
      '--node',
      NODE,
      '--config-dir',
      join(dir, 'once'),
      '--ipip',
      'off',
      '--log-level',
      'silent',
      '--bird-socket',
      join(dir, 'no.ctl'),
      '--bird6-socket',
      join(dir, 'no6.ctl'),
      ...tlsFlags,
    ]);
    t.equal(once.code, 0, once.stderr);
    t.ok(existsSync(join(dir, 'once', 'bird.cfg')));
  });

  await t.test('no client certificate, or one from another CA: one line saying etcd refused it', async (t) => {
    const out = join(dir, 'refused');
    oneClearError(
      t,
      await cli([...renderArgs(out), '--etcd-endpoints', etcd.endpoint, '--etcd-ca', pki.ca.cert]),
      /etcd refused the TLS client certificate .*--etcd-cert and --etcd-key/,
    );
    oneClearError(
      t,
      await cli([
        ...renderArgs(out),
        '--etcd-endpoints',
        etcd.endpoint,
        '--etcd-ca',
        pki.ca.cert,
        '--etcd-cert',
        pki.foreignClient.cert,
        '--etcd-key',
        pki.foreignClient.key,
      ]),
      /etcd refused the TLS client certificate/,
    );
    oneClearError(
      t,
      await cli([
        ...renderArgs(out),
        '--etcd-endpoints',
        etcd.endpoint,
        '--etcd-ca',
        pki.ca.cert,
        '--etcd-cert',
        pki.client.cert,
        '--etcd-key',
        pki.foreignClient.key,
      ]),
      /the etcd client key .*foreign-client\.key does not belong to the certificate .*client\.crt/,
    );
    oneClearError(
      t,
      await cli([
        ...renderArgs(out),
        ...tlsFlags.slice(0, 4),
        '--etcd-cert',
        join(dir, 'missing.crt'),
        '--etcd-key',
        pki.client.key,
      ]),
      /cannot read etcd certificate file .*missing\.crt/,
    );
    t.notOk(existsSync(out), 'nothing written');
  });

  await t.test('https:// without --etcd-ca uses the system trust store, which does not know this CA', async (t) => {
    oneClearError(
      t,
      await cli([
        ...renderArgs(join(dir, 'no-ca')),
        '--etcd-endpoints',
        etcd.endpoint,
        '--etcd-cert',
        pki.client.cert,
        '--etcd-key',
        pki.client.key,
      ]),
      /cannot verify etcd's TLS certificate .*--etcd-ca or ETCD_CA_CERT_FILE/,
    );
  });

  await t.test(
    'run (daemon) without a client certificate exits at once with one clear line: no retry loop',
    async (t) => {
      const started = Date.now();
      const proc = spawnBirdwatch(t, [
        'run',
        '--node',
        NODE,
        '--config-dir',
        join(dir, 'daemon'),
        '--ipip',
        'off',
        '--listen',
        'off',
        '--etcd-endpoints',
        etcd.endpoint,
        '--etcd-ca',
        pki.ca.cert,
        '--bird-socket',
        join(dir, 'no.ctl'),
        '--bird6-socket',
        join(dir, 'no6.ctl'),
      ]);
      const exit = await exitWithin(proc, 30_000);
      t.equal(exit.code, 1, proc.output());
      t.comment(`exited after ${Date.now() - started} ms`);
      const stderr = proc.stderr().trim().split('\n');
      t.equal(stderr.length, 1, `one line on stderr: ${proc.stderr()}`);
      t.match(stderr[0], /^error: etcd refused the TLS client certificate/);
      t.same(
        [
          ...linesOf(proc.lines, 'datastore-retry'),
          ...linesOf(proc.lines, 'datastore-state', { state: 'disconnected' }),
        ],
        [],
        'no retry announced',
      );
      t.notOk(existsSync(join(dir, 'daemon', 'bird.cfg')), 'nothing written');
    },
  );

  await t.test(
    'the operator CLI: a write with the client certificate works; without, one line',
    operatorCli,
    async (t) => {
      const add = await cli(['pool', 'add', '10.44.0.0/16', ...tlsFlags]);
      t.equal(add.code, 0, add.stderr);
      t.match(
        await etcd.etcdctl(['get', keys.pool(4, '10.44.0.0/16'), '--print-value-only']),
        /"cidr":"10\.44\.0\.0\/16"/,
      );
      const show = await cli(['pool', 'show', ...tlsFlags]);
      t.match(show.stdout, /10\.44\.0\.0\/16/);
      oneClearError(
        t,
        await cli(['pool', 'add', '10.45.0.0/16', '--etcd-endpoints', etcd.endpoint, '--etcd-ca', pki.ca.cert]),
        /etcd refused the TLS client certificate/,
      );
    },
  );
});

t.test('a self-signed etcd server: without --etcd-ca it fails with a TLS message; with it, it works', async (t) => {
  const pki = await createTestPki(t);
  const etcd = await startSecureEtcd(t, { tls: { server: pki.selfSignedServer, ca: pki.selfSignedServer.cert } });
  await seed(etcd);
  const dir = tempDir(t);
  oneClearError(
    t,
    await cli([...renderArgs(join(dir, 'a')), '--etcd-endpoints', etcd.endpoint]),
    /cannot verify etcd's TLS certificate \((?:self.signed certificate|unable to verify the first certificate)[^)]*\)/,
  );
  const trusted = await cli([
    ...renderArgs(join(dir, 'b')),
    '--etcd-endpoints',
    etcd.endpoint,
    '--etcd-ca',
    pki.selfSignedServer.cert,
  ]);
  t.equal(trusted.code, 0, trusted.stderr);
});

t.test('etcd with user/password auth', async (t) => {
  const etcd = await startSecureEtcd(t, {});
  await etcd.enableAuth('root-Pw-1234', [
    { name: 'birdwatch', password: PASSWORD, prefixes: ['/calico/'] },
    { name: 'nobody', password: 'nobody-pw-5678', prefixes: [] },
  ]);
  await seed(etcd);
  const dir = tempDir(t);
  const good = { ETCD_ENDPOINTS: etcd.endpoint, ETCD_USERNAME: 'birdwatch', ETCD_PASSWORD: PASSWORD };

  await t.test('right user and password: render and run --once work', async (t) => {
    const render = await cli(renderArgs(join(dir, 'render')), good);
    t.equal(render.code, 0, render.stderr);
    const once = await cli(
      [
        'run',
        '--once',
        '--node',
        NODE,
        '--config-dir',
        join(dir, 'once'),
        '--ipip',
        'off',
        '--log-level',
        'silent',
        '--bird-socket',
        join(dir, 'no.ctl'),
        '--bird6-socket',
        join(dir, 'no6.ctl'),
      ],
      good,
    );
    t.equal(once.code, 0, once.stderr);
  });

  await t.test('wrong password, no user, a user without permission: one line each, never the password', async (t) => {
    const out = join(dir, 'refused');
    const wrong = await cli(renderArgs(out), { ...good, ETCD_PASSWORD: WRONG_PASSWORD });
    oneClearError(t, wrong, /etcd refused the credentials of ETCD_USERNAME\/ETCD_PASSWORD: authentication failed/);
    t.notMatch(wrong.stdout + wrong.stderr, WRONG_PASSWORD);
    oneClearError(
      t,
      await cli(renderArgs(out), { ETCD_ENDPOINTS: etcd.endpoint }),
      /etcd requires authentication and no user was given: set ETCD_USERNAME and ETCD_PASSWORD/,
    );
    oneClearError(
      t,
      await cli(renderArgs(out), {
        ETCD_ENDPOINTS: etcd.endpoint,
        ETCD_USERNAME: 'nobody',
        ETCD_PASSWORD: 'nobody-pw-5678',
      }),
      /etcd denied access \(permission denied\)/,
    );
    t.notOk(existsSync(out), 'nothing written');
  });

  await t.test('a password in the endpoint URL is refused without echoing it', async (t) => {
    const result = await cli(renderArgs(join(dir, 'url')), {
      ETCD_ENDPOINTS: etcd.endpoint.replace('http://', `http://birdwatch:${PASSWORD}@`),
    });
    t.equal(result.code, 2);
    t.match(
      result.stderr,
      /ETCD_ENDPOINTS "http:\/\/\*\*\*@127\.0\.0\.1:\d+": credentials in an endpoint URL are not accepted/,
    );
    t.notMatch(result.stderr, PASSWORD);
  });

  await t.test(
    'run (daemon) with the right password: synced, a watched change applied, the password in no line',
    async (t) => {
      const configDir = join(dir, 'daemon');
      const proc = spawnBirdwatch(
        t,
        [
          'run',
          '--node',
          NODE,
          '--config-dir',
          configDir,
          '--ipip',
          'off',
          '--listen',
          'off',
          '--log-level',
          'debug',
          '--bird-socket',
          join(dir, 'no.ctl'),
          '--bird6-socket',
          join(dir, 'no6.ctl'),
        ],
        good,
      );
      await waitFor(
        'bird.cfg',
        () => existsSync(join(configDir, 'bird.cfg')),
        (ok) => ok,
        30_000,
      );
      await etcd.etcdctl(['put', keys.hostAddress('n3', 4), '127.0.0.3']);
      await waitFor(
        'Mesh_127_0_0_3 through the authenticated watch',
        () => readFileSync(join(configDir, 'bird.cfg'), 'utf8'),
        (c) => c.includes('Mesh_127_0_0_3'),
        20_000,
      );
      proc.kill('SIGTERM');
      t.equal((await exitWithin(proc, 20_000)).code, 0);
      t.ok(linesOf(proc.lines, 'datastore-state', { state: 'synced' }).length > 0);
      t.notMatch(proc.output(), PASSWORD, 'the password appears in no line');
    },
  );

  await t.test('run (daemon) with a wrong password exits with one clear line instead of retrying', async (t) => {
    const proc = spawnBirdwatch(
      t,
      [
        'run',
        '--node',
        NODE,
        '--config-dir',
        join(dir, 'daemon-wrong'),
        '--ipip',
        'off',
        '--listen',
        'off',
        '--bird-socket',
        join(dir, 'no.ctl'),
        '--bird6-socket',
        join(dir, 'no6.ctl'),
      ],
      { ...good, ETCD_PASSWORD: WRONG_PASSWORD },
    );
    const exit = await exitWithin(proc, 30_000);
    t.equal(exit.code, 1, proc.output());
    const stderr = proc.stderr().trim().split('\n');
    t.equal(stderr.length, 1, proc.stderr());
    t.match(stderr[0], /^error: etcd refused the credentials of ETCD_USERNAME\/ETCD_PASSWORD/);
    t.notMatch(proc.output(), WRONG_PASSWORD);
  });

  await t.test(
    'the operator CLI: pool add with the password works; with a wrong one, one line',
    operatorCli,
    async (t) => {
      const add = await cli(['pool', 'add', '10.46.0.0/16'], good);
      t.equal(add.code, 0, add.stderr);
      t.match(await etcd.etcdctl(['get', keys.pool(4, '10.46.0.0/16'), '--print-value-only']), /10\.46\.0\.0\/16/);
      const wrong = await cli(['pool', 'add', '10.47.0.0/16'], { ...good, ETCD_PASSWORD: WRONG_PASSWORD });
      oneClearError(t, wrong, /etcd refused the credentials/);
      t.notMatch(wrong.stderr, WRONG_PASSWORD);
    },
  );
});

t.test('run (daemon) with etcd unreachable keeps retrying (said once), and SIGTERM stops it', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const proc = spawnBirdwatch(t, [
    'run',
    '--node',
    NODE,
    '--config-dir',
    join(dir, 'c'),
    '--ipip',
    'off',
    '--listen',
    'off',
    '--etcd-endpoints',
    `http://127.0.0.1:${port}`,
    '--bird-socket',
    join(dir, 'no.ctl'),
    '--bird6-socket',
    join(dir, 'no6.ctl'),
  ]);
  await waitFor(
    'the retry warning',
    () => linesOf(proc.lines, 'datastore-retry').length,
    (n) => n >= 1,
    20_000,
  );
  await new Promise((r) => setTimeout(r, 2_000));
  t.equal(linesOf(proc.lines, 'datastore-retry').length, 1, 'said once, not once per attempt');
  proc.kill('SIGTERM');
  t.equal((await exitWithin(proc, 20_000)).code, 0, 'still running until told to stop');
});

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest } from './harness/etcd.js';
import { putKeyspace } from './support/etcdLoad.js';
import { waitFor } from './support/world.js';
import { linesOf } from './support/logLines.js';

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;

// The real process: signals, JSON logs on a pipe, exit codes. No BIRD here: reloads wait for it, files don't.
t.test('run as a process: JSON logs, SIGHUP re-reads, SIGTERM exits 0 leaving whole files', async (t) => {
  const etcd = await startEtcdForTest(t);
  await putKeyspace(
    etcd.endpoints,
    new Map([
      [keys.hostAddress('n1', 4), '127.0.0.1'],
      [keys.hostAddress('n2', 4), '127.0.0.2'],
    ]),
  );
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-signals-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configDir = join(dir, 'config');
  const child = execa(
    'node',
    [
      '--import',
      'tsx',
      MAIN,
      'run',
      '--node',
      'n1',
      '--etcd-endpoints',
      etcd.endpoints[0]!,
      '--config-dir',
      configDir,
      '--bird-socket',
      join(dir, 'bird.ctl'),
      '--bird6-socket',
      join(dir, 'bird6.ctl'),
      '--ipip',
      'off',
    ],
    { reject: false, all: true, env: { ETCD_PASSWORD: 'not-a-real-secret' } },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: Record<string, unknown>[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  await waitFor(
    'first apply',
    () => existsSync(join(configDir, 'bird.cfg')),
    (ok) => ok,
    30_000,
  );
  await waitFor(
    'etcd synced line',
    () => linesOf(lines, 'datastore-state', { state: 'synced' }).length > 0,
    (ok) => ok,
  );
  t.ok(
    lines.every(
      (l) =>
        typeof l['level'] === 'number' &&
        typeof l['time'] === 'string' &&
        typeof l['component'] === 'string' &&
        typeof l['event'] === 'string',
    ),
    'every line is structured JSON with a component and an event',
  );
  await waitFor(
    'both daemons reported unreachable',
    () => linesOf(lines, 'bird-unreachable', { component: 'bird' }).length,
    (n) => n >= 2,
    15_000,
  );
  await new Promise((r) => setTimeout(r, 1500)); // several retries happen meanwhile
  t.same(
    linesOf(lines, 'bird-unreachable')
      .map((l) => l['daemon'])
      .sort(),
    ['bird', 'bird6'],
    'once per daemon, not once per retry',
  );

  child.kill('SIGHUP');
  const [hup] = await waitFor(
    'SIGHUP',
    () => linesOf(lines, 'sighup'),
    (l) => l.length > 0,
    15_000,
  );
  t.match(hup, { component: 'run', level: 30 }, 'SIGHUP said once, by run');
  await waitFor(
    'SIGHUP re-read',
    () => linesOf(lines, 'reread').length > 0,
    (ok) => ok,
    15_000,
  );

  child.kill('SIGTERM');
  const result = await child;
  t.equal(result.exitCode, 0, 'SIGTERM → exit 0');
  t.equal(linesOf(lines, 'stopped', { component: 'run' }).length, 1, 'it says it stopped, once');
  t.same(
    readdirSync(configDir).filter((f) => f.includes('.tmp-')),
    [],
    'no temp files',
  );
  t.same(
    readdirSync(dir).filter((f) => f.includes('staging')),
    [],
    'no staging dir',
  );
  t.notOk(result.all?.includes('not-a-real-secret'), 'the etcd password never reaches the log');
});

import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest } from './harness/etcd.js';
import { envWithout } from './harness/process.js';
import { putKeyspace } from './support/etcdLoad.js';

/**
 * A directory where a configuration file belongs (by hand, or a bad volume mount) is removed so the file can take
 * its place — never silently: `run --once` as a real process against a real etcd logs what was removed.
 */
t.setTimeout(60_000);

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;

t.test('run --once over a non-empty directory named bird.cfg: removed, logged with its entries', async (t) => {
  const etcd = await startEtcdForTest(t);
  await putKeyspace(
    etcd.endpoints,
    new Map([
      [keys.hostAddress('n1', 4), '127.0.0.1'],
      [keys.hostAddress('n2', 4), '127.0.0.2'],
    ]),
  );
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-dir-in-place-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configDir = join(dir, 'config');
  mkdirSync(join(configDir, 'bird.cfg', 'nested'), { recursive: true });
  writeFileSync(join(configDir, 'bird.cfg', 'notes.txt'), 'an operator was here');
  const result = await execa(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'run',
      '--once',
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
      '--log-format',
      'json',
    ],
    { reject: false, env: envWithout('ETCD'), extendEnv: false },
  );
  t.equal(result.exitCode, 0, result.stderr);
  const lines = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const removed = lines.filter((line) => line['event'] === 'directory-removed');
  t.match(removed, [
    {
      level: 40,
      component: 'apply',
      path: join(configDir, 'bird.cfg'),
      entries: ['nested', 'notes.txt'],
      entryCount: 2,
    },
  ]);
  t.equal(removed.length, 1, 'logged once');
  t.ok(statSync(join(configDir, 'bird.cfg')).isFile(), 'bird.cfg is a file again');
});

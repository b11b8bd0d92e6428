import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startEtcdForTest } from './harness/etcd.js';
import { cli } from './support/cli.js';
import { putKeyspace } from './support/etcdLoad.js';
import { hasExpectedError, listScenarios, loadScenario } from './support/fixtures.js';

// The same fixture through --datastore file: and through a real etcd gives byte-identical output.
t.test('etcd and file datastores render identically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-etcd-render-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of listScenarios()) {
    const scenario = loadScenario(name);
    if (hasExpectedError(scenario)) continue;
    const etcd = await startEtcdForTest(t);
    await putKeyspace(etcd.endpoints, scenario.keyspace);
    const viaFile = join(dir, `${name}-file`);
    const viaEtcd = join(dir, `${name}-etcd`);
    const common = ['render', ...scenario.roleArgs, '--ipip', 'off'];
    const fileResult = await cli([
      ...common,
      '--out',
      viaFile,
      '--datastore',
      `file:${join(scenario.dir, 'etcd.json')}`,
    ]);
    const etcdResult = await cli([...common, '--out', viaEtcd, '--etcd-endpoints', etcd.endpoints.join(',')]);
    t.equal(fileResult.code, 0, `${name} via file: ${fileResult.stderr}`);
    t.equal(etcdResult.code, 0, `${name} via etcd: ${etcdResult.stderr}`);
    t.equal(etcdResult.stderr, fileResult.stderr, `${name}: same warnings`);
    const files = readdirSync(viaFile).sort();
    t.same(readdirSync(viaEtcd).sort(), files);
    for (const file of files)
      t.equal(readFileSync(join(viaEtcd, file), 'utf8'), readFileSync(join(viaFile, file), 'utf8'), `${name}/${file}`);
    await etcd.stop();
  }
});

t.test('etcd unreachable: render fails with one clear line, nothing written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-etcd-render-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const etcd = await startEtcdForTest(t);
  const endpoint = etcd.endpoints[0]!;
  await etcd.stop();
  const result = await cli(['render', '--node', 'n1', '--out', join(dir, 'out'), '--etcd-endpoints', endpoint]);
  t.equal(result.code, 1);
  t.match(result.stderr, /^error: etcd unreachable: /);
  t.equal(result.stderr.split('\n').length, 1, 'one line, no stack trace');
  t.same(readdirSync(dir), []);
});

/**
 * etcd3 loaded with the prebuilt gRPC definition the build writes (src/datastore/etcdPackageDefinition.ts,
 * dist/datastore/etcdPackageDefinition.json), against a real etcd: the built modules load it so, and a client then
 * reads, writes in a transaction and watches; a definition that is missing, built from other protos or broken is
 * left for etcd3's own parse, and the client works the same. Each case is a process of its own (etcd3 loads once).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { REPO_ROOT } from './lab/lab.js';
import { startEtcdForTest } from './harness/etcd.js';

const DIST = join(REPO_ROOT, 'dist');
const DEFINITION = join(DIST, 'datastore', 'etcdPackageDefinition.json');

/**
 * Loads etcd3 by `loadEtcd3(file)` in a fresh process, then uses the built client code against `endpoint`:
 * prints how etcd3 was loaded, what etcd3.ts saw, a transaction's and a read's results and a watched event.
 */
const CLIENT_SCRIPT = `
const [dist, file, endpoint] = process.argv.slice(1);
const at = (path) => import(new URL(path, dist + '/').href);
const { loadEtcd3 } = await at('datastore/etcdPackageDefinition.js');
const loaded = loadEtcd3(file);
const { etcd3Load } = await at('datastore/etcd3.js');
const { createEtcdClient } = await at('datastore/etcdConnection.js');
const { readEtcdSnapshot } = await at('datastore/etcdSource.js');
const { EtcdWriter } = await at('datastore/etcdWriter.js');
const client = createEtcdClient({ endpoints: [endpoint] });
const prefix = '/calico/v1/ipam/v4/pool/';
const watcher = await client.watch().prefix(prefix).create();
const watched = new Promise((resolve) => watcher.on('put', (kv) => resolve(kv.key.toString())));
const key = prefix + '10.' + process.pid % 250 + '.0.0-16';
const before = await readEtcdSnapshot(client, [prefix]);
const { committed } = await new EtcdWriter(client).commit({
  puts: [[key, '{}']],
  unchangedSince: { revision: before.revision, prefixes: [prefix] },
});
const after = await readEtcdSnapshot(client, [prefix]);
const read = after.entries.get(key);
console.log(JSON.stringify({ loaded, etcd3Load, committed, read, watched: await watched, key }));
await watcher.cancel();
client.close();
`;

interface ClientRun {
  loaded: string;
  etcd3Load: string;
  committed: boolean;
  read: string | undefined;
  watched: string;
  key: string;
}

async function runClient(file: string, endpoint: string): Promise<ClientRun> {
  const result = await execa(
    process.execPath,
    ['--input-type=module', '-e', CLIENT_SCRIPT, pathToFileURL(DIST).href, file, endpoint],
    { reject: false, timeout: 60_000 },
  );
  if (result.exitCode !== 0) throw new Error(`client script exited ${result.exitCode}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ClientRun;
}

t.test('the built modules load etcd3 with the prebuilt definition; a client reads, writes and watches', async (t) => {
  t.ok(existsSync(DEFINITION), 'npm run build wrote dist/datastore/etcdPackageDefinition.json');
  const etcd = await startEtcdForTest(t);
  const endpoint = etcd.endpoints[0]!;
  const work = mkdtempSync(join(tmpdir(), 'birdwatch-etcd-definition-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const built = JSON.parse(readFileSync(DEFINITION, 'utf8')) as {
    protos: Record<string, string>;
    services: Record<string, Record<string, { requestType: string }>>;
  };
  const otherProtos = join(work, 'other-protos.json');
  writeFileSync(
    otherProtos,
    JSON.stringify({ ...built, protos: { ...built.protos, 'proto/kv.proto': '0'.repeat(64) } }),
  );
  const broken = join(work, 'broken.json');
  const [service, methods] = Object.entries(built.services)[0]!;
  const [method, entry] = Object.entries(methods)[0]!;
  writeFileSync(
    broken,
    JSON.stringify({
      ...built,
      services: {
        ...built.services,
        [service]: { ...methods, [method]: { ...entry, requestType: '.nowhere.Missing' } },
      },
    }),
  );

  const cases: { name: string; file: string; loaded: string }[] = [
    { name: 'the build’s definition', file: DEFINITION, loaded: 'prebuilt' },
    { name: 'no definition', file: join(work, 'absent.json'), loaded: 'parsed' },
    { name: 'a definition built from other protos', file: otherProtos, loaded: 'parsed' },
    { name: 'a definition that does not build', file: broken, loaded: 'parsed' },
  ];
  for (const c of cases) {
    const run = await runClient(c.file, endpoint);
    t.equal(run.loaded, c.loaded, `${c.name}: etcd3 loaded ${c.loaded}`);
    t.equal(run.etcd3Load, 'loaded-before', `${c.name}: etcd3.ts found it loaded`);
    t.ok(run.committed, `${c.name}: a transaction commits`);
    t.equal(run.read, '{}', `${c.name}: a paged read returns the value`);
    t.equal(run.watched, run.key, `${c.name}: the watch sees the put`);
  }

  // As every command loads it: etcd3.ts first, with the definition beside it.
  const direct = await execa(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `console.log((await import(${JSON.stringify(pathToFileURL(join(DIST, 'datastore', 'etcd3.js')).href)})).etcd3Load)`,
    ],
    { reject: false },
  );
  t.equal(direct.stdout.trim(), 'prebuilt', 'dist/datastore/etcd3.js loads etcd3 with the prebuilt definition');

  const cli = (args: string[]) =>
    execa(process.execPath, [join(DIST, 'cli', 'main.js'), ...args, '--etcd-endpoints', endpoint], { reject: false });
  const add = await cli(['pool', 'add', '192.168.0.0/16', '--nat-outgoing']);
  t.equal(add.exitCode, 0, `the built CLI writes (pool add)${add.exitCode === 0 ? '' : `: ${add.stderr}`}`);
  const show = await cli(['pool', 'show', '--ipv4', '--json']);
  t.equal(show.exitCode, 0, 'and reads (pool show)');
  t.match(show.stdout, /"192\.168\.0\.0\/16"/, 'the pool it added');
});

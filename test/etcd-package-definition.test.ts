/**
 * etcd's prebuilt gRPC definition (src/datastore/etcdPackageDefinition.ts, written by the build beside the compiled
 * module). First against what etcd3 gets from @grpc/proto-loader when it parses its protos: every service and method,
 * the fields grpc-js reads, and for every method the bytes each serializer writes and the objects each deserializer
 * returns, with etcd3's options. Then etcd3 loaded with it against a real etcd: the built modules load it so, and a
 * client then reads, writes in a transaction and watches; a definition that is missing, built from other protos or
 * broken is left for etcd3's own parse, and the client works the same. Each of those is a process of its own (etcd3
 * loads once).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { buildPackageDefinition, packageDefinitionFrom } from '../src/datastore/etcdPackageDefinition.js';
import { REPO_ROOT } from './lab/lab.js';
import { startEtcdForTest } from './harness/etcd.js';

const requireFromEtcd3 = createRequire(createRequire(import.meta.url).resolve('etcd3'));
const ETCD3_DIR = dirname(dirname(requireFromEtcd3.resolve('etcd3')));

interface Method {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName: string;
  options: unknown;
  requestSerialize(value: unknown): Uint8Array;
  requestDeserialize(bytes: Uint8Array): unknown;
  responseSerialize(value: unknown): Uint8Array;
  responseDeserialize(bytes: Uint8Array): unknown;
  requestType: { type: { name: string } };
  responseType: { type: { name: string } };
}
/** Service name → method name → method, or a message's or enum's name → its reflection descriptor (`format`). */
type Definition = Record<string, object>;
const methodsOf = (definition: Definition, service: string): Record<string, Method> =>
  definition[service] as Record<string, Method>;

/** The options etcd3 1.1.2 loads its protos with (lib/connection-pool.js). */
const ETCD3_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const protoLoader = requireFromEtcd3('@grpc/proto-loader') as {
  loadSync(file: string, options: object): Definition;
};
const parsed = protoLoader.loadSync(join(ETCD3_DIR, 'proto', 'rpc.proto'), ETCD3_OPTIONS);
const prebuilt = buildPackageDefinition();
const fromPrebuilt = packageDefinitionFrom(prebuilt, ETCD3_OPTIONS) as Definition;

/** protobufjs reflection of the parsed protos, to fill every field of a message with a value. */
interface Field {
  name: string;
  type: string;
  repeated: boolean;
  map: boolean;
  resolvedType: { fieldsArray?: Field[]; values?: Record<string, number>; fullName: string } | null;
}
const protobufjs = createRequire(requireFromEtcd3.resolve('@grpc/proto-loader'))('protobufjs') as {
  Root: { fromJSON(json: unknown): { lookupType(name: string): { fieldsArray: Field[] } } };
};
const reflection = protobufjs.Root.fromJSON(prebuilt.root);

function scalar(type: string): unknown {
  switch (type) {
    case 'string':
      return 'a/b';
    case 'bytes':
      return Buffer.from('/calico/v1/key');
    case 'bool':
      return true;
    case 'double':
    case 'float':
      return 1.5;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return '9007199254740993'; // above 2^53: a long, as etcd's revisions may be
    default:
      return 7;
  }
}

/** A message with every field set (nested messages to `depth`), repeated fields twice, enums at their last value. */
function filled(fields: readonly Field[], depth: number): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    let one: unknown;
    if (field.resolvedType?.values !== undefined) one = Object.keys(field.resolvedType.values).at(-1);
    else if (field.resolvedType?.fieldsArray !== undefined) {
      if (depth === 0) continue;
      one = filled(field.resolvedType.fieldsArray, depth - 1);
    } else one = scalar(field.type);
    value[field.name] = field.map ? { k: one } : field.repeated ? [one, one] : one;
  }
  return value;
}

const services = (definition: Definition): string[] =>
  Object.keys(definition)
    .filter((name) => !('format' in definition[name]!))
    .sort();

t.test('the same services and methods, with the fields grpc-js reads', (t) => {
  t.same(services(fromPrebuilt), services(parsed), 'the same services');
  t.ok(services(parsed).length >= 6, `etcd's services: ${services(parsed).join(', ')}`);
  for (const service of services(parsed)) {
    const mine = methodsOf(fromPrebuilt, service);
    const theirs = methodsOf(parsed, service);
    t.same(Object.keys(mine).sort(), Object.keys(theirs).sort(), `${service}: the same methods`);
    for (const [name, method] of Object.entries(theirs)) {
      const { path, requestStream, responseStream, originalName, options } = method;
      const other = mine[name]!;
      t.same(
        {
          path: other.path,
          requestStream: other.requestStream,
          responseStream: other.responseStream,
          originalName: other.originalName,
          options: other.options,
        },
        { path, requestStream, responseStream, originalName, options },
        `${service}.${name}`,
      );
    }
  }
  t.end();
});

t.test('every method serializes and deserializes as proto-loader does', (t) => {
  let messages = 0;
  for (const service of services(parsed)) {
    for (const [name, theirs] of Object.entries(methodsOf(parsed, service))) {
      const mine = methodsOf(fromPrebuilt, service)[name]!;
      for (const side of ['request', 'response'] as const) {
        const typeName = (side === 'request' ? theirs.requestType : theirs.responseType).type.name;
        const fields = reflection.lookupType(`${service.split('.')[0]!}.${typeName}`).fieldsArray;
        const message = filled(fields, 3);
        const serialize = side === 'request' ? 'requestSerialize' : 'responseSerialize';
        const deserialize = side === 'request' ? 'requestDeserialize' : 'responseDeserialize';
        const bytes = Buffer.from(theirs[serialize](message));
        t.same(Buffer.from(mine[serialize](message)), bytes, `${service}.${name} ${side}: the same bytes`);
        t.same(mine[deserialize](bytes), theirs[deserialize](bytes), `${service}.${name} ${side}: the same object`);
        t.same(mine[deserialize](Buffer.alloc(0)), theirs[deserialize](Buffer.alloc(0)), 'and for an empty message');
        messages++;
      }
      t.throws(() => mine.requestSerialize([]), /got array instead/, `${service}.${name}: an array is refused`);
    }
  }
  t.ok(messages > 80, `${messages} messages compared`);
  t.end();
});

t.test('the build records each proto file it parsed with its hash', (t) => {
  t.same(Object.keys(prebuilt.protos).sort(), ['proto/auth.proto', 'proto/kv.proto', 'proto/rpc.proto']);
  for (const hash of Object.values(prebuilt.protos)) t.match(hash, /^[0-9a-f]{64}$/);
  t.end();
});

t.test('etcd3 is loaded by src/datastore/etcd3.ts only, so always with the prebuilt definition when built', (t) => {
  const sources = (readdirSync(join(REPO_ROOT, 'src'), { recursive: true }) as string[]).filter((p) =>
    p.endsWith('.ts'),
  );
  const loaders = sources.filter((path) => {
    const text = readFileSync(join(REPO_ROOT, 'src', path), 'utf8');
    const imports = /^(?:import|export)\s+(?!type\s)[^'"]*?from\s+'etcd3'/ms.test(text);
    return imports || /(?:\brequire\w*|createRequire\([^)]*\))\(\s*'etcd3'\s*\)/.test(text);
  });
  t.same(loaders, [join('datastore', 'etcd3.ts')]);
  t.end();
});

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

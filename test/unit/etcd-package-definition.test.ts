import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { buildPackageDefinition, packageDefinitionFrom } from '../../src/datastore/etcdPackageDefinition.js';

/**
 * The prebuilt etcd gRPC definition (src/datastore/etcdPackageDefinition.ts) against what etcd3 gets from
 * @grpc/proto-loader when it parses its protos: every service and method, the fields grpc-js reads, and for every
 * method the bytes each serializer writes and the objects each deserializer returns, with etcd3's options.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
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
  const sources = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((p) => p.endsWith('.ts'));
  const loaders = sources.filter((path) => {
    const text = readFileSync(join(ROOT, 'src', path), 'utf8');
    const imports = /^(?:import|export)\s+(?!type\s)[^'"]*?from\s+'etcd3'/ms.test(text);
    return imports || /(?:\brequire\w*|createRequire\([^)]*\))\(\s*'etcd3'\s*\)/.test(text);
  });
  t.same(loaders, [join('datastore', 'etcd3.ts')]);
  t.end();
});

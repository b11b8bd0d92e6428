import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * etcd's gRPC package definition, prebuilt (README "Benchmarks", CLI start-up). When etcd3 is first loaded it has
 * @grpc/proto-loader parse etcd's rpc.proto (with kv.proto and auth.proto) and describe every message for gRPC
 * reflection: about 45 ms of every etcd command's start-up. The build writes the parsed protos (protobufjs JSON)
 * beside this module; `loadEtcd3` hands etcd3 a definition made from them — the same method paths, stream kinds,
 * names and protobufjs (de)serializers, without the parse and without the reflection descriptors, which neither
 * etcd3 nor grpc-js reads. Whatever does not match exactly (no file, other protos, other options) is left to
 * etcd3's own parse.
 */

/**
 * Written by `npm run build` beside the compiled module (dist/datastore/); absent when running from src/. Named from
 * the folder above, so that the CLI's bundle (dist/cli/, package.json "build") finds it too.
 */
const PACKAGE_DEFINITION_FILE = fileURLToPath(new URL('../datastore/etcdPackageDefinition.json', import.meta.url));

/** The proto file etcd3 hands proto-loader, relative to etcd3's package directory. */
const ENTRY_PROTO = 'proto/rpc.proto';
/** protobufjs parse options the definition is built with; etcd3 1.1.2 loads with keepCase (snake_case fields). */
const KEEP_CASE = true;
/** proto-loader options that only shape the objects a deserializer returns (passed through as etcd3 gives them). */
const OUTPUT_OPTIONS = new Set([
  'keepCase',
  'longs',
  'enums',
  'bytes',
  'defaults',
  'arrays',
  'objects',
  'oneofs',
  'json',
]);
const FORMAT = 1;

/** One RPC as proto-loader describes it, minus its functions and reflection descriptors. */
interface PrebuiltMethod {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly originalName: string;
  readonly options: unknown;
  /** Fully qualified protobufjs names (`.etcdserverpb.RangeRequest`). */
  readonly requestType: string;
  readonly responseType: string;
}

/** The file the build writes. */
interface PrebuiltPackageDefinition {
  readonly format: typeof FORMAT;
  /** Each proto file parsed, relative to etcd3's package directory → SHA-256 of its text. */
  readonly protos: Readonly<Record<string, string>>;
  /** Service name (`etcdserverpb.KV`) → method name → method. */
  readonly services: Readonly<Record<string, Readonly<Record<string, PrebuiltMethod>>>>;
  /** protobufjs `Root.toJSON()` of the parsed protos' messages and enums. */
  readonly root: unknown;
}

// The parts of protobufjs and proto-loader used here (both come with etcd3; neither is a dependency of ours).
interface ProtoType {
  readonly name: string;
  fromObject(object: unknown): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: unknown): unknown;
}
interface ProtoRoot {
  readonly files: readonly string[];
  loadSync(file: string, options: { keepCase: boolean }): ProtoRoot;
  resolveAll(): ProtoRoot;
  lookupType(name: string): ProtoType;
  lookupService(name: string): {
    readonly methods: Readonly<
      Record<
        string,
        {
          readonly resolvedRequestType: { readonly fullName: string } | null;
          readonly resolvedResponseType: { readonly fullName: string } | null;
        }
      >
    >;
  };
  toJSON(): unknown;
}
interface Protobufjs {
  readonly Root: { new (): ProtoRoot; fromJSON(json: unknown): ProtoRoot };
}
type LoadSync = (file: string, options?: Readonly<Record<string, unknown>>) => Record<string, unknown>;
interface ProtoLoader {
  loadSync: LoadSync;
}

const requireHere = createRequire(import.meta.url);

/** etcd3's package directory, and require() as etcd3 itself resolves (its own proto-loader and protobufjs). */
function etcd3Packages(): { dir: string; protoLoader: () => ProtoLoader; protobufjs: () => Protobufjs } {
  const main = requireHere.resolve('etcd3');
  const requireFromEtcd3 = createRequire(main);
  return {
    dir: dirname(dirname(main)),
    protoLoader: () => requireFromEtcd3('@grpc/proto-loader') as ProtoLoader,
    protobufjs: () => createRequire(requireFromEtcd3.resolve('@grpc/proto-loader'))('protobufjs') as Protobufjs,
  };
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Parses etcd3's protos as etcd3 does and describes them for `loadEtcd3` (the build's step).
 * @internal test/etcd-package-definition.test.ts compares it with proto-loader's parse.
 */
export function buildPackageDefinition(): PrebuiltPackageDefinition {
  const etcd3 = etcd3Packages();
  const entry = join(etcd3.dir, ENTRY_PROTO);
  const root = new (etcd3.protobufjs().Root)().loadSync(entry, { keepCase: KEEP_CASE }).resolveAll();
  // The method fields come from proto-loader itself, so they are what etcd3 would get.
  const parsed = etcd3.protoLoader().loadSync(entry, { keepCase: KEEP_CASE });
  const services: Record<string, Record<string, PrebuiltMethod>> = {};
  for (const [serviceName, value] of Object.entries(parsed)) {
    if (typeof value !== 'object' || value === null || 'format' in value) continue; // a message or enum
    const resolved = root.lookupService(serviceName).methods;
    const methods: Record<string, PrebuiltMethod> = {};
    for (const [name, method] of Object.entries(value as Record<string, Record<string, unknown>>)) {
      const request = resolved[name]?.resolvedRequestType ?? undefined;
      const response = resolved[name]?.resolvedResponseType ?? undefined;
      if (request === undefined || response === undefined)
        throw new Error(`etcd3's ${ENTRY_PROTO}: ${serviceName}.${name} has unresolved types`);
      methods[name] = {
        path: String(method['path']),
        requestStream: method['requestStream'] === true,
        responseStream: method['responseStream'] === true,
        originalName: String(method['originalName']),
        options: method['options'],
        requestType: request.fullName,
        responseType: response.fullName,
      };
    }
    services[serviceName] = methods;
  }
  if (Object.keys(services).length === 0) throw new Error(`etcd3's ${ENTRY_PROTO} defines no service`);
  const protos = Object.fromEntries(
    root.files.map((file) => [relative(etcd3.dir, file).split('\\').join('/'), sha256(file)]),
  );
  return { format: FORMAT, protos, services, root: messagesOnly(root.toJSON()) };
}

/** A protobufjs JSON namespace without its services (their methods are in `services`): less to build at start. */
function messagesOnly(json: unknown): unknown {
  if (typeof json !== 'object' || json === null) return json;
  const { nested, ...rest } = json as { nested?: Record<string, unknown> };
  if (nested === undefined) return json;
  const isService = (value: unknown): boolean => typeof value === 'object' && value !== null && 'methods' in value;
  const kept = Object.entries(nested).filter(([, value]) => !isService(value));
  return { ...rest, nested: Object.fromEntries(kept.map(([name, value]) => [name, messagesOnly(value)])) };
}

/**
 * `npm run build`: writes the definition beside the compiled module.
 * @public called by package.json's build script.
 */
export function writePackageDefinition(file: string = PACKAGE_DEFINITION_FILE): void {
  writeFileSync(file, `${JSON.stringify(buildPackageDefinition())}\n`);
}

/** The prebuilt definition, when there is one and it was built from exactly the protos installed. */
function readPrebuilt(file: string, etcd3Dir: string): PrebuiltPackageDefinition | undefined {
  let prebuilt: PrebuiltPackageDefinition;
  try {
    prebuilt = JSON.parse(readFileSync(file, 'utf8')) as PrebuiltPackageDefinition;
  } catch {
    return undefined; // not built (running from src/), or unreadable: etcd3 parses its protos itself
  }
  if (prebuilt.format !== FORMAT || typeof prebuilt.protos !== 'object' || prebuilt.protos === null) return undefined;
  const protos = Object.entries(prebuilt.protos);
  if (!protos.some(([path]) => path === ENTRY_PROTO)) return undefined;
  try {
    if (!protos.every(([path, hash]) => sha256(join(etcd3Dir, path)) === hash)) return undefined;
  } catch {
    return undefined;
  }
  return prebuilt;
}

/**
 * What proto-loader's loadSync returns for the prebuilt protos with `options` (etcd3's), less the messages' and
 * methods' reflection descriptors.
 * @internal test/etcd-package-definition.test.ts compares it with proto-loader's parse.
 */
export function packageDefinitionFrom(
  prebuilt: PrebuiltPackageDefinition,
  options: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const root = etcd3Packages().protobufjs().Root.fromJSON(prebuilt.root).resolveAll();
  // As proto-loader's serializers (createSerializer, createDeserializer) do.
  const serializer = (type: ProtoType) => (value: unknown) => {
    if (Array.isArray(value))
      throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    return type.encode(type.fromObject(value)).finish();
  };
  const deserializer = (type: ProtoType) => (bytes: Uint8Array) => type.toObject(type.decode(bytes), options);
  const definition: Record<string, unknown> = {};
  for (const [serviceName, methods] of Object.entries(prebuilt.services)) {
    const service: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(methods)) {
      const request = root.lookupType(method.requestType);
      const response = root.lookupType(method.responseType);
      service[name] = {
        path: method.path,
        requestStream: method.requestStream,
        responseStream: method.responseStream,
        requestSerialize: serializer(request),
        requestDeserialize: deserializer(request),
        responseSerialize: serializer(response),
        responseDeserialize: deserializer(response),
        originalName: method.originalName,
        options: method.options,
      };
    }
    definition[serviceName] = service;
  }
  return definition;
}

/** How `loadEtcd3` got etcd3 its gRPC definition. */
export type Etcd3Load =
  /** From the build's definition. */
  | 'prebuilt'
  /** etcd3 parsed its protos itself: no prebuilt definition, one for other protos, or other load options. */
  | 'parsed'
  /** etcd3 was loaded before (by an import): nothing to do. */
  | 'loaded-before';

/**
 * Loads etcd3 (require, once per process), giving it the prebuilt definition when it asks proto-loader for its
 * protos with options the definition fits. src/datastore/etcd3.ts calls it, the one module of ours that loads etcd3.
 */
export function loadEtcd3(file: string = PACKAGE_DEFINITION_FILE): Etcd3Load {
  const main = requireHere.resolve('etcd3');
  if (requireHere.cache[main] !== undefined) return 'loaded-before';
  const etcd3 = etcd3Packages();
  const prebuilt = readPrebuilt(file, etcd3.dir);
  if (prebuilt === undefined) {
    requireHere(main);
    return 'parsed';
  }
  const protoLoader = etcd3.protoLoader();
  const original = protoLoader.loadSync;
  const entry = join(etcd3.dir, ENTRY_PROTO);
  let used = false;
  protoLoader.loadSync = (protoFile, options) => {
    const given = options ?? {};
    const fits =
      !used &&
      resolve(protoFile) === entry &&
      (given['keepCase'] === true) === KEEP_CASE &&
      Object.keys(given).every((key) => OUTPUT_OPTIONS.has(key));
    if (fits) {
      try {
        const definition = packageDefinitionFrom(prebuilt, given);
        used = true;
        return definition;
      } catch {
        // A definition that does not build (a protobufjs of another shape): etcd3's own parse, as without one.
      }
    }
    return original.call(protoLoader, protoFile, options);
  };
  try {
    requireHere(main);
  } finally {
    protoLoader.loadSync = original;
  }
  return used ? 'prebuilt' : 'parsed';
}

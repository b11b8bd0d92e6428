import { hash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { constants as vmConstants, Script } from 'node:vm';

/**
 * V8's code cache for the CommonJS packages the CLI loads (etcd3 with gRPC and protobufjs, commander, pino,
 * prom-client, handlebars): compiling them is a good part of every command's start-up (README "Benchmarks", CLI
 * start-up), and Node 20 has no compile cache of its own (`module.enableCompileCache` came in Node 22). The build
 * loads every module of dist/ and keeps what V8 compiled, per source text, in dist/compile-cache-*.bin; the CLI hands
 * V8 the entry whose source is the module's exact text. V8 refuses an entry of another V8 version or other V8 flags
 * and compiles as without one; a source that changed has no entry. Off with BIRDWATCH_COMPILE_CACHE=off, under
 * --enable-source-maps (Node maps the packages' stack traces only when it compiles them itself) and under a policy.
 */

/**
 * The V8 flags a cache is made under (V8 takes an entry only under the flags it was made with): `run` turns on
 * --optimize-for-size before it loads anything (main.ts), every other command runs with V8's defaults.
 */
export type CompileCacheProfile = 'default' | 'optimize-for-size';

/** Written by `npm run build`: dist/compile-cache-default.bin and dist/compile-cache-optimize-for-size.bin. */
export const compileCacheFile = (profile: CompileCacheProfile): string =>
  fileURLToPath(new URL(`../compile-cache-${profile}.bin`, import.meta.url));

const FORMAT = 1;

/** The file: a 4-byte length, this header as JSON, then the entries' bytes. */
interface CacheHeader {
  readonly format: typeof FORMAT;
  /** The V8 that made the entries (another refuses them all). */
  readonly v8: string;
  /** SHA-1 of a module's source → [offset, length] in the bytes after the header. */
  readonly entries: Readonly<Record<string, readonly [number, number]>>;
}

// The parts of Node's CommonJS loader used here (node:module's Module class; not in @types/node).
interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
}
type Compile = (this: CjsModule, content: string, filename: string, format?: string) => unknown;
interface CjsLoader {
  readonly prototype: { _compile: Compile };
  wrap(source: string): string;
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(request: string, parent: CjsModule): string[] | null;
  readonly _extensions: NodeJS.RequireExtensions;
  readonly _cache: NodeJS.Dict<NodeJS.Module>;
}
const Module = createRequire(import.meta.url)('node:module') as CjsLoader;

const keyOf = (source: string): string => hash('sha1', source);

/** The `require` Node gives a module (lib/internal/modules/helpers.js, makeRequireFunction). */
function requireOf(module: CjsModule): NodeJS.Require {
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) =>
    Module._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => Module._resolveLookupPaths(request, module);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.extensions = Module._extensions;
  require.cache = Module._cache;
  return require;
}

/** Compiles a module as Node's loader does, into a vm.Script that can take and give cached code. */
const compileModule = (content: string, filename: string, cachedData: Buffer | undefined): Script =>
  new Script(Module.wrap(content), {
    filename,
    ...(cachedData === undefined ? {} : { cachedData }),
    importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });

/** Runs a compiled module as Node's loader does (Module.prototype._compile). */
function runModule(script: Script, module: CjsModule, filename: string): void {
  const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
  Reflect.apply(wrapper, module.exports, [module.exports, requireOf(module), module, filename, dirname(filename)]);
}

/** What the cache did in this process. */
export interface CompileCacheStats {
  /** Modules compiled from a cached entry. */
  hits: number;
  /** Entries V8 refused (another V8 or other flags): those modules were compiled as without one. */
  rejected: number;
  /** Modules without an entry (not loaded when the build recorded, or changed since), compiled by Node. */
  misses: number;
}
const stats: CompileCacheStats = { hits: 0, rejected: 0, misses: 0 };
export const compileCacheStats = (): Readonly<CompileCacheStats> => ({ ...stats });

export interface CompileCacheOptions {
  /** The flags this process runs with (default: V8's defaults); its cache file is used. */
  readonly profile?: CompileCacheProfile;
  /** Another cache file (tests). */
  readonly file?: string;
  /** BIRDWATCH_COMPILE_CACHE: `off` turns the cache off. */
  readonly setting?: string | undefined;
  /** Node maps stack traces through source maps only for the modules it compiles itself. */
  readonly sourceMapsEnabled?: boolean;
  /** Node options in force: a policy (--experimental-policy) checks each module's integrity as Node compiles it. */
  readonly nodeOptions?: readonly string[];
}

/**
 * From here on, each CommonJS module whose exact source has an entry in the cache file is compiled from it. Returns
 * how to stop, or undefined when the cache is not used: turned off, without the file, or with one from another V8.
 */
export function useCompileCache(options: CompileCacheOptions = {}): { stop(): void } | undefined {
  const {
    profile = 'default',
    file = compileCacheFile(profile),
    setting = process.env['BIRDWATCH_COMPILE_CACHE'],
    sourceMapsEnabled = process.sourceMapsEnabled,
    nodeOptions = [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''],
  } = options;
  if (setting === 'off' || sourceMapsEnabled || nodeOptions.some((option) => option.includes('experimental-policy')))
    return undefined;
  let bytes: Buffer;
  let header: CacheHeader;
  try {
    bytes = readFileSync(file);
    const headerLength = bytes.readUInt32LE(0);
    header = JSON.parse(bytes.toString('utf8', 4, 4 + headerLength)) as CacheHeader;
    bytes = bytes.subarray(4 + headerLength);
  } catch {
    return undefined; // not built (running from src/), or unreadable: compiled as without a cache
  }
  if (header.format !== FORMAT || header.v8 !== process.versions.v8) return undefined;
  const entries = new Map(Object.entries(header.entries));
  const compile = Module.prototype._compile;
  const stop = (): void => {
    if (Module.prototype._compile === cached) Module.prototype._compile = compile;
  };
  const cached: Compile = function (this: CjsModule, content, filename, format) {
    const entry = format === 'module' ? undefined : entries.get(keyOf(content));
    if (entry === undefined) {
      stats.misses++;
      return compile.call(this, content, filename, format);
    }
    const script = compileModule(content, filename, bytes.subarray(entry[0], entry[0] + entry[1]));
    if (script.cachedDataRejected !== true) stats.hits++;
    else {
      // V8 refuses an entry for other V8 flags (NODE_OPTIONS, or `run` once it turns on --optimize-for-size), and
      // then refuses every entry: the rest compile as without a cache.
      stats.rejected++;
      stop();
    }
    runModule(script, this, filename);
    return undefined;
  };
  Module.prototype._compile = cached;
  return { stop };
}

/**
 * Records the code V8 compiles for every CommonJS module loaded from here on; `finish()` takes the cache data (with
 * the functions compiled since) and writes the file.
 */
export function recordCompileCache(): { finish(file: string): number } {
  const scripts = new Map<string, Script>();
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (this: CjsModule, content, filename, format) {
    if (format === 'module') return compile.call(this, content, filename, format);
    const script = compileModule(content, filename, undefined);
    scripts.set(keyOf(content), script);
    runModule(script, this, filename);
    return undefined;
  };
  return {
    finish(file) {
      Module.prototype._compile = compile;
      const chunks: Buffer[] = [];
      const entries: Record<string, [number, number]> = {};
      let offset = 0;
      for (const [key, script] of scripts) {
        const data = script.createCachedData();
        entries[key] = [offset, data.length];
        chunks.push(data);
        offset += data.length;
      }
      const header: CacheHeader = { format: FORMAT, v8: process.versions.v8, entries };
      const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(headerBytes.length);
      writeFileSync(file, Buffer.concat([length, headerBytes, ...chunks]));
      return scripts.size;
    },
  };
}

/**
 * `npm run build`, once per profile: loads every module of dist/ (as the commands do, each its own part) and builds
 * the command tree, recording, then writes the profile's cache file. Run in a process of its own, before anything
 * else is loaded; `optimize-for-size` turns the flag on first, as `run` does.
 */
export async function writeCompileCache(profile: CompileCacheProfile): Promise<number> {
  if (profile === 'optimize-for-size') (await import('node:v8')).setFlagsFromString('--optimize-for-size');
  const recording = recordCompileCache();
  const dist = fileURLToPath(new URL('../', import.meta.url));
  const modules = (readdirSync(dist, { recursive: true }) as string[])
    .filter((path) => path.endsWith('.js') && path !== join('cli', 'main.js'))
    .sort();
  for (const path of modules) await import(pathToFileURL(join(dist, path)).href);
  const { buildProgram } = await import('./program.js');
  const ignore = (): void => undefined;
  await buildProgram(
    {
      env: {},
      stdout: ignore,
      stderr: ignore,
      setExitCode: ignore,
      shutdownSignal: () => new AbortController().signal,
    },
    'all',
  );
  return recording.finish(compileCacheFile(profile));
}

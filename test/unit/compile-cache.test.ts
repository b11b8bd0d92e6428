import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compileCacheStats, recordCompileCache, useCompileCache } from '../../src/cli/compileCache.js';

/**
 * The CLI's code cache for CommonJS modules (src/cli/compileCache.ts) on a small module tree of its own: recorded,
 * then used — the modules behave as Node's own loader runs them (exports, `this`, require and require.resolve,
 * require.cache, __filename, __dirname, import()) — and a changed source, a cache from another V8, a missing file,
 * BIRDWATCH_COMPILE_CACHE=off, source maps and a policy each leave the modules to Node. (V8 keeps what this process
 * compiled, so whether it takes or refuses an entry shows only in a fresh process: test/compile-cache.test.ts.)
 */
const dir = mkdtempSync(join(tmpdir(), 'birdwatch-compile-cache-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => join(dir, name);
writeFileSync(
  file('a.cjs'),
  [
    "'use strict';",
    "const b = require('./b.cjs');",
    'module.exports = {',
    '  b: b.value,',
    '  file: __filename,',
    '  dir: __dirname,',
    "  resolved: require.resolve('./b.cjs'),",
    "  paths: Array.isArray(require.resolve.paths('x')),",
    '  cached: require.cache[__filename] === module,',
    '  self: this === module.exports,',
    "  dynamic: () => import('./c.mjs').then((c) => c.value),",
    '  stack: () => new Error().stack,',
    '};',
  ].join('\n'),
);
writeFileSync(file('b.cjs'), 'exports.value = 42;\n');
writeFileSync(file('c.mjs'), 'export const value = 7;\n');
const requireHere = createRequire(import.meta.url);
const forget = (): void => {
  for (const name of ['a.cjs', 'b.cjs']) delete requireHere.cache[file(name)];
};
interface A {
  b: number;
  file: string;
  dir: string;
  resolved: string;
  paths: boolean;
  cached: boolean;
  self: boolean;
  dynamic(): Promise<number>;
  stack(): string;
}
const load = (): A => requireHere(file('a.cjs')) as A;
const cacheFile = file('cache.bin');
// tap runs tests with source maps on; the cache is tried here as the CLI runs it (without).
const use = (options: Parameters<typeof useCompileCache>[0] = {}) =>
  useCompileCache({ file: cacheFile, setting: undefined, sourceMapsEnabled: false, nodeOptions: [], ...options });

t.test('recorded, then used: the modules behave as Node loads them', async (t) => {
  const recording = recordCompileCache();
  const plain = load();
  t.equal(recording.finish(cacheFile), 2, 'both modules recorded');
  forget();
  const before = compileCacheStats();
  const cache = use();
  t.ok(cache !== undefined, 'the cache is in use');
  t.teardown(() => cache?.stop());
  const fromCache = load();
  t.equal(compileCacheStats().hits - before.hits, 2, 'both modules compiled from the cache');
  t.equal(compileCacheStats().rejected, before.rejected, 'nothing refused');
  const { dynamic, stack, ...shape } = fromCache;
  const { dynamic: plainDynamic, stack: _plainStack, ...plainShape } = plain;
  t.same(shape, plainShape, 'the same exports, paths, resolution and require.cache entry');
  t.same(shape, {
    b: 42,
    file: file('a.cjs'),
    dir,
    resolved: file('b.cjs'),
    paths: true,
    cached: true,
    self: true,
  });
  t.equal(await dynamic(), await plainDynamic(), 'import() from a cached module');
  t.match(stack(), file('a.cjs'), 'stack traces name the file');
  cache?.stop();
  forget();
});

t.test('a changed source is compiled by Node', (t) => {
  const recording = recordCompileCache();
  load();
  recording.finish(cacheFile);
  forget();
  writeFileSync(file('b.cjs'), 'exports.value = 43;\n');
  t.teardown(() => writeFileSync(file('b.cjs'), 'exports.value = 42;\n'));
  const before = compileCacheStats();
  const cache = use();
  t.teardown(() => cache?.stop());
  t.equal(load().b, 43, 'the changed module runs as it is now');
  t.equal(compileCacheStats().hits - before.hits, 1, 'only the unchanged module came from the cache');
  cache?.stop();
  forget();
  t.end();
});

t.test('when the cache is not used', (t) => {
  const recording = recordCompileCache();
  load();
  recording.finish(cacheFile);
  forget();
  t.equal(use({ setting: 'off' }), undefined, 'BIRDWATCH_COMPILE_CACHE=off');
  t.equal(use({ sourceMapsEnabled: true }), undefined, '--enable-source-maps');
  t.equal(use({ nodeOptions: ['--experimental-policy=policy.json'] }), undefined, 'a policy');
  t.equal(use({ file: file('absent.bin') }), undefined, 'no file (running from src/)');
  const bytes = readFileSync(cacheFile);
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.toString('utf8', 4, 4 + headerLength)) as { v8: string };
  const other = Buffer.from(JSON.stringify({ ...header, v8: `${header.v8}-other` }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(other.length);
  writeFileSync(file('other.bin'), Buffer.concat([length, other, bytes.subarray(4 + headerLength)]));
  t.equal(use({ file: file('other.bin') }), undefined, 'a cache from another V8');
  t.end();
});

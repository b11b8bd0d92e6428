import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

/**
 * README "Dependencies": package.json's `dependencies` are exactly the packages src/ loads at run time — a package
 * only scripts and tests use is a dev dependency (it is not installed with the package), and nothing src/ loads is
 * left out. (test/package-install.test.ts loads every module of an installed package.)
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const sources = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[])
  .filter((path) => path.endsWith('.ts'))
  .map((path) => ({ path: `src/${path}`, text: readFileSync(join(ROOT, 'src', path), 'utf8') }));

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/**
 * Packages a source loads at run time: value imports and re-exports, `import()`, `createRequire(import.meta.url)(…)`,
 * and pino transport targets.
 */
function loadedBy(text: string): string[] {
  const specifiers = [
    ...[...text.matchAll(/^(?:import|export)\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gms)].map((m) => m[1]!),
    ...[...text.matchAll(/^import\s+'([^']+)'/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
    // require() through createRequire (src/datastore/etcd3.ts loads etcd3 so).
    ...[...text.matchAll(/\bcreateRequire\(import\.meta\.url\)\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
    // pino loads a transport by name in a worker thread: nothing imports it, yet it must be installed.
    ...[...text.matchAll(/\btarget:\s*'([^']+)'/g)].map((m) => m[1]!),
  ];
  return specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:')).map(packageOf);
}

t.test('dependencies = the packages src/ loads at run time', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const loaded = new Map<string, string>();
  for (const { path, text } of sources)
    for (const name of loadedBy(text)) if (!loaded.has(name)) loaded.set(name, path);
  t.ok(sources.length > 50 && loaded.size > 5, `read src/ (${sources.length} files, ${loaded.size} packages)`);
  t.same(
    [...loaded].filter(([name]) => !(name in pkg.dependencies)).map(([name, path]) => `${name} (${path})`),
    [],
    'every package src/ loads is a runtime dependency',
  );
  t.same(
    Object.keys(pkg.dependencies).filter((name) => !loaded.has(name)),
    [],
    'every runtime dependency is loaded by src/ (else: a devDependency, or gone)',
  );
  t.end();
});

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

/**
 * The two tiers (README "Tests"): `scripts/test` runs every test/**\/*.test.ts; `scripts/test --unit` runs only
 * test/unit/. These checks keep both honest: no test file can fall out of the full run by its name, and nothing
 * under test/unit/ reaches the harnesses that start etcd, BIRD, namespaces or child processes (the tier runs
 * without root: see the README for the non-root run).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEST_DIR = join(ROOT, 'test');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * A file's static imports and re-exports (`import './x.js'` too). Type-only: `import type`, or braces that name
 * types alone (`import { type A }`), which TypeScript erases.
 */
const importsOf = (path: string): { from: string; typeOnly: boolean }[] =>
  [...readFileSync(path, 'utf8').matchAll(/^(?:import|export)\s+(type\s+)?(?:([^'"]*?)\s*from\s+)?'([^']+)'/gms)].map(
    (m) => {
      const names = /^\{([^}]*)\}$/
        .exec((m[2] ?? '').trim())?.[1]
        ?.split(',')
        .map((name) => name.trim());
      const typesAlone = names?.filter(Boolean).every((name) => name.startsWith('type ')) ?? false;
      return { from: m[3]!, typeOnly: m[1] !== undefined || typesAlone };
    },
  );

t.test('the full run takes every test file: tap includes test/**/*.test.ts, and every tap file is so named', (t) => {
  const taprc = readFileSync(join(ROOT, '.taprc'), 'utf8');
  t.match(taprc, /^include:\n {2}- test\/\*\*\/\*\.test\.ts$/m, '.taprc includes every test/**/*.test.ts');
  const tapFiles = filesUnder(TEST_DIR).filter((path) => importsOf(path).some((i) => i.from === 'tap' && !i.typeOnly));
  t.ok(tapFiles.length > 40, `found the test files (${tapFiles.length})`);
  t.same(
    tapFiles.filter((path) => !path.endsWith('.test.ts')).map((path) => relative(ROOT, path)),
    [],
    'a file that runs tap tests but is not named *.test.ts would never run',
  );
  t.end();
});

/** What a unit test may import from test/: fakes and fixtures, nothing that starts a process. */
const UNIT_SUPPORT = new Set([
  'support/fakeClock.ts',
  'support/fakeBird.ts',
  'support/keyspaces.ts',
  'support/fixtures.ts',
  'support/logLines.ts',
]);
/**
 * Packages and src modules that start processes or talk to etcd/BIRD: a child process, an etcd client, a socket
 * (BIRD's control socket), bird -p, configure. Type-only imports are fine (they load nothing).
 */
const STARTS_SOMETHING = [
  /^execa$/,
  /^node:child_process$/,
  /^node:net$/,
  /^etcd3$/,
  /\/bird\/validateConfig\.js$/,
  /\/controller\/validateStaged\.js$/,
  /\/bird\/configure\.js$/,
  /\/bird\/configureGuarded\.js$/,
  /\/bird\/controlSocket\.js$/,
  /\/controller\/realEdges\.js$/,
  // etcd3 itself is loaded by require() in src/datastore/etcd3.ts, which this matches; etcd3Internals.ts only reads
  // etcd3's package.json and inspects a pool it is handed.
  /\/datastore\/etcd(?!3Internals\.js$)\w*\.js$/,
];

/**
 * Every forbidden import reachable from `roots` by static imports, through test/ and src/ (what loading the file
 * runs), each with its chain. `import()` is not followed: it loads only when the code that holds it runs (the CLI
 * loads each command so, and `status` asks BIRD so).
 */
function forbiddenReach(roots: readonly string[]): string[] {
  const chainTo = new Map<string, string[]>();
  const problems: string[] = [];
  const visit = (path: string, chain: string[]): void => {
    if (chainTo.has(path)) return;
    chainTo.set(path, chain);
    const here = [...chain, relative(ROOT, path)];
    for (const { from, typeOnly } of importsOf(path)) {
      if (typeOnly) continue;
      const relativeImport = from.startsWith('.');
      // A module is matched by where it is (`/src/bird/configure.js`), however the import spells it.
      const where = relativeImport ? `/${relative(ROOT, resolve(dirname(path), from))}` : from;
      if (STARTS_SOMETHING.some((re) => re.test(where))) problems.push(`${here.join(' > ')} imports ${from}`);
      if (!relativeImport) continue;
      const target = resolve(dirname(path), from).replace(/\.js$/, '.ts');
      const inTest = relative(TEST_DIR, target);
      if (!inTest.startsWith('..') && !inTest.startsWith('unit/') && !UNIT_SUPPORT.has(inTest))
        problems.push(`${here.join(' > ')} imports test/${inTest}`);
      else if (existsSync(target)) visit(target, here);
    }
  };
  for (const root of roots) visit(root, []);
  return problems;
}

t.test('the unit tier starts nothing: no harness, etcd client, socket, bird -p or child process, at any depth', (t) => {
  const unitFiles = filesUnder(join(TEST_DIR, 'unit')).filter((path) => path.endsWith('.ts'));
  t.same(
    forbiddenReach(unitFiles),
    [],
    'move a test that needs these out of test/unit/ (it still runs in the full run), or give the code a seam',
  );
  t.end();
});

t.test('the walk follows imports through src/ and test/: what the CLI and the harnesses load is found', (t) => {
  const found = (file: string): string[] => forbiddenReach([join(ROOT, file)]);
  t.match(
    found('src/cli/commands/run.ts').join('\n'),
    /src\/datastore\/etcd\w+\.ts imports \.\/etcd3\.js/,
    'etcd3, two levels down',
  );
  t.match(
    found('src/observe/bgpStatusQuery.ts').join('\n'),
    /showProtocolsCommand\.ts imports \.\/controlSocket\.js/,
    'a src module matched by where it is',
  );
  t.match(found('test/support/world.ts').join('\n'), /imports test\/harness\//, 'a harness');
  t.same(found('src/model/buildNodeModel.ts'), [], 'the model reaches nothing');
  t.end();
});

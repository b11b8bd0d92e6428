import { readdirSync, readFileSync } from 'node:fs';
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

const importsOf = (path: string): { from: string; typeOnly: boolean }[] =>
  [...readFileSync(path, 'utf8').matchAll(/^(?:import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gms)].map((m) => ({
    from: m[2]!,
    typeOnly: m[1] !== undefined,
  }));

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
]);
/** Packages and src modules that start processes or talk to etcd/BIRD (type-only imports are fine). */
const STARTS_SOMETHING = [
  /^execa$/,
  /^node:child_process$/,
  /^etcd3$/,
  /\/bird\/validateConfig\.js$/,
  /\/controller\/validateStaged\.js$/,
  /\/bird\/configure\.js$/,
  /\/controller\/realEdges\.js$/,
  /\/datastore\/etcd[A-Za-z]*\.js$/,
];

t.test('the unit tier starts nothing: no harness, no etcd client, no bird -p, no child process', (t) => {
  const unitFiles = filesUnder(join(TEST_DIR, 'unit')).filter((path) => path.endsWith('.ts'));
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const { from, typeOnly } of importsOf(path)) {
      if (typeOnly) continue;
      if (STARTS_SOMETHING.some((re) => re.test(from))) problems.push(`${relative(ROOT, path)} imports ${from}`);
      if (!from.startsWith('.')) continue;
      const target = resolve(dirname(path), from).replace(/\.js$/, '.ts');
      const inTest = relative(TEST_DIR, target);
      if (inTest.startsWith('..')) continue; // src/: checked by the patterns above
      if (!inTest.startsWith('unit/') && !UNIT_SUPPORT.has(inTest))
        problems.push(`${relative(ROOT, path)} imports test/${inTest}`);
      else visit(target);
    }
  };
  for (const file of unitFiles) visit(file);
  t.same(problems, [], 'move a test that needs these out of test/unit/ (it still runs in the full run)');
  t.end();
});

/**
 * The package as a user installs it: `npm pack` of a copy of the sources without dist/ (prepack builds it),
 * then `npm install -g --ignore-scripts --prefix TMP birdwatch-*.tgz` — production dependencies only, from the npm
 * cache when they are there, else the registry — and the installed `birdwatch` runs from elsewhere: `--version`,
 * `--help`, every module of its dist/ loads, and a `render` of the seed tutorial (templates found next to the
 * installed code) that BIRD accepts and that equals the golden files. The runit services and systemd units are in
 * the package, executable.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { REPO_ROOT } from './lab/lab.js';

/** npm's own variables from the test runner (npx tap) would steer the nested npm (prefix, cache, scripts…). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  return { ...env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` };
}

// tsc (prepack) and npm install take about a minute on a quiet machine; give a loaded one room.
t.setTimeout(420_000);

t.test('npm pack, npm install -g from the tarball, run the installed birdwatch', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'birdwatch-pkg-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const env = cleanEnv();

  // A copy of what the package is built from, without dist/: packing must build it (not the install).
  const source = join(work, 'source');
  mkdirSync(source);
  for (const entry of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
    'src',
    'templates',
    'packaging',
  ]) {
    cpSync(join(REPO_ROOT, entry), join(source, entry), { recursive: true });
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(source, 'node_modules'));
  const packStarted = Date.now();
  const pack = await execa('npm', ['pack', '--pack-destination', work, '--json'], { cwd: source, env, reject: false });
  t.equal(pack.exitCode, 0, `npm pack exits 0${pack.exitCode === 0 ? '' : `:\n${pack.stderr}`}`);
  const packed = (JSON.parse(pack.stdout) as { filename: string; files: { path: string; mode: number }[] }[])[0];
  if (packed === undefined) throw new Error(`npm pack printed no package: ${pack.stdout}`);
  t.pass(`packed ${packed.filename} (${packed.files.length} files) in ${Date.now() - packStarted} ms`);
  const paths = packed.files.map((f) => f.path);
  t.ok(paths.includes('dist/cli/main.js'), 'dist/ was built before packing (prepack)');
  t.ok(
    paths.includes('templates/bird.cfg.hbs') && paths.includes('templates/bird6.cfg.hbs'),
    'templates are in the package',
  );
  t.notOk(
    paths.some((p) => p.startsWith('src/') || p.startsWith('test/')),
    'no sources or tests in the package',
  );
  for (const service of ['bird', 'bird6', 'birdwatch']) {
    for (const script of [`packaging/runit/${service}/run`, `packaging/runit/${service}/log/run`]) {
      const file = packed.files.find((f) => f.path === script);
      t.ok(file !== undefined && (file.mode & 0o111) === 0o111, `${script} is shipped, executable`);
    }
  }
  t.ok(
    paths.some((p) => p.startsWith('packaging/systemd/') && p.endsWith('.service')),
    'systemd units are shipped',
  );

  const prefix = join(work, 'prefix');
  const installStarted = Date.now();
  const install = await execa(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      // No runtime dependency needs its install script (README "Dependencies"): with them skipped, npm 11 has
      // nothing to warn about, and what follows proves the package runs without them.
      '--ignore-scripts',
      join(work, packed.filename),
    ],
    { cwd: work, env, reject: false },
  );
  t.equal(install.exitCode, 0, `npm install -g exits 0${install.exitCode === 0 ? '' : `:\n${install.stderr}`}`);
  t.notMatch(install.stderr, /install-scripts/, 'npm names no install script left to approve');
  t.pass(`npm install -g --prefix took ${Date.now() - installStarted} ms`);
  const installed = join(prefix, 'lib', 'node_modules', 'birdwatch');
  const bin = join(prefix, 'bin', 'birdwatch');
  t.ok(existsSync(bin), 'birdwatch is on the prefix PATH (bin/birdwatch)');
  const modules = readdirSync(join(installed, 'node_modules'));
  // (@types/node is a runtime dependency of protobufjs, under etcd3's grpc: not a sign of dev dependencies.)
  for (const dev of ['typescript', 'tap', 'tsx', 'fast-check', 'execa'])
    t.notOk(modules.includes(dev), `no dev dependency ${dev} installed`);
  t.notOk(existsSync(join(installed, 'src')), 'no TypeScript sources installed');
  t.ok(
    (statSync(join(installed, 'packaging', 'runit', 'bird', 'run')).mode & 0o111) !== 0,
    'the installed runit scripts are executable',
  );

  const runEnv = { ...env, PATH: `${join(prefix, 'bin')}:${env['PATH'] ?? ''}` };
  const version = await execa('birdwatch', ['--version'], { cwd: work, env: runEnv, reject: false });
  t.equal(version.exitCode, 0, 'birdwatch --version exits 0');
  t.equal(
    version.stdout.trim(),
    (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    'and prints the package version',
  );

  const help = await execa('birdwatch', ['--help'], { cwd: work, env: runEnv, reject: false });
  t.equal(help.exitCode, 0, 'birdwatch --help exits 0');
  t.match(help.stdout, /^ {2}run\b/m, 'and lists the commands');

  // Commands load their modules on demand, so running two of them leaves most of dist/ unloaded: load every
  // module (all but the CLI entry point, which would run) from the installed tree, and resolve pino's transport.
  const dist = join(installed, 'dist');
  const loadAll = [
    "import { readdirSync } from 'node:fs';",
    "import { createRequire } from 'node:module';",
    "import { join } from 'node:path';",
    "import { pathToFileURL } from 'node:url';",
    'const dist = process.argv[1];',
    "const files = readdirSync(dist, { recursive: true }).filter((f) => f.endsWith('.js') && f !== join('cli', 'main.js'));",
    'for (const file of files) await import(pathToFileURL(join(dist, file)).href);',
    "createRequire(join(dist, 'observe', 'logger.js')).resolve('pino-pretty');",
    'console.log(files.length);',
  ].join('\n');
  const loaded = await execa(process.execPath, ['--input-type=module', '-e', loadAll, dist], {
    cwd: work,
    env: runEnv,
    reject: false,
  });
  t.equal(
    loaded.exitCode,
    0,
    `every module of the installed dist/ loads${loaded.exitCode === 0 ? '' : `:\n${loaded.stderr}`}`,
  );
  t.ok(Number(loaded.stdout) > 100, `(${loaded.stdout.trim()} modules)`);

  const out = join(work, 'out');
  const fixture = join(REPO_ROOT, 'fixtures', 'seed-tutorial');
  const render = await execa(
    'birdwatch',
    ['render', '--node', 'calico-01', '--out', out, '--datastore', `file:${join(fixture, 'etcd.json')}`],
    {
      cwd: work,
      env: runEnv,
      reject: false,
    },
  );
  t.equal(
    render.exitCode,
    0,
    `the installed birdwatch renders the seed tutorial (validated by bird -p)${render.exitCode === 0 ? '' : `:\n${render.stderr}`}`,
  );
  for (const file of ['bird.cfg', 'bird6.cfg', 'bird_ipam.cfg', 'bird_aggr.cfg']) {
    t.equal(
      readFileSync(join(out, file), 'utf8'),
      readFileSync(join(fixture, 'expected', file), 'utf8'),
      `${file} equals the golden file`,
    );
  }
});

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { keys } from '../src/model/keys.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';
import { cli } from './support/cli.js';
import { FIXTURES_DIR } from './support/fixtures.js';

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-render-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const seed = `file:${join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json')}`;

t.test('render the seed tutorial: validated files with a Mesh_ protocol for the other host', async (t) => {
  const out = join(tempDir(t), 'config');
  const result = await cli(['render', '--node', 'calico-01', '--out', out, '--datastore', seed, '--ipip', 'auto']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /node calico-01: router id 172\.17\.8\.101, AS 64511/);
  t.match(result.stdout, /bird\.cfg: {2}1 mesh, 0 global, 0 node-specific peers; 1 pools; 1 blocks/);
  t.match(
    result.stderr,
    /IPIP pools are exported and routed natively/,
    'Debian bird: auto resolves to off, with a warning',
  );
  t.same(
    readdirSync(out).sort(),
    readdirSync(join(FIXTURES_DIR, 'seed-tutorial', 'expected'))
      .filter((f) => f.endsWith('.cfg'))
      .sort(),
  );
  for (const file of readdirSync(out)) {
    t.equal(
      readFileSync(join(out, file), 'utf8'),
      readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'expected', file), 'utf8'),
      file,
    );
  }
  t.match(readFileSync(join(out, 'bird.cfg'), 'utf8'), /protocol bgp Mesh_172_17_8_102 from bgp_template/);
  const again = await cli(['render', '--node', 'calico-01', '--out', out, '--datastore', seed, '--ipip', 'off']);
  t.match(again.stdout, /0 files changed/, 'a second render changes nothing');
});

t.test('NODENAME picks the node when --node is absent', async (t) => {
  const out = join(tempDir(t), 'config');
  const result = await cli(['render', '--out', out, '--datastore', seed, '--ipip', 'off'], { NODENAME: 'calico-02' });
  t.equal(result.code, 0, result.stderr);
  t.match(readFileSync(join(out, 'bird.cfg'), 'utf8'), /Mesh_172_17_8_101/);
});

t.test('a node without ip_addr_v4 fails naming the key, and nothing is written', async (t) => {
  const out = join(tempDir(t), 'config');
  const result = await cli([
    'render',
    '--node',
    'nov4',
    '--out',
    out,
    '--datastore',
    `file:${join(FIXTURES_DIR, 'node-without-v4', 'etcd.json')}`,
  ]);
  t.equal(result.code, 1);
  t.match(result.stderr, /\/calico\/bgp\/v1\/host\/nov4\/ip_addr_v4 is missing/);
  t.notOk(existsSync(out), 'no output directory');
});

t.test('bad arguments: exit 2 with one line naming the argument', async (t) => {
  const out = join(tempDir(t), 'config');
  const cases: [string[], RegExp][] = [
    [['--ipip', 'sometimes'], /--ipip "sometimes": expected one of auto, krt-tunnel, onlink, off/],
    [['--datastore', 'consul'], /--datastore "consul": expected etcd or file:PATH/],
    [['--node', 'bad name'], /--node "bad name": node name must be/],
  ];
  for (const [extra, message] of cases) {
    const result = await cli(['render', '--out', out, '--datastore', seed, '--node', 'calico-01', ...extra]);
    t.equal(result.code, 2, extra.join(' '));
    t.match(result.stderr, message);
  }
  const missing = await cli(['render', '--datastore', seed]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /--out/);
  const badEndpoint = await cli(['render', '--out', out, '--node', 'n1'], { ETCD_ENDPOINTS: 'localhost:2379' });
  t.equal(badEndpoint.code, 2);
  t.match(badEndpoint.stderr, /ETCD_ENDPOINTS "localhost:2379": expected http\(s\):\/\/host:port/);
  t.notOk(existsSync(out));
});

t.test(
  'a custom filter BIRD rejects: quarantined as run would (a warning naming the key and where), the rest written',
  async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'config');
    const keyspace = JSON.parse(readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json'), 'utf8')) as Record<
      string,
      string
    >;
    const first = await cli(['render', '--node', 'calico-01', '--out', out, '--datastore', seed, '--ipip', 'off']);
    t.equal(first.code, 0);
    const before = readFileSync(join(out, 'custom_filters.cfg'), 'utf8');
    const filterKey = keys.customFilter(4, 'broken');
    keyspace[filterKey] = 'if net ~ then reject;';
    keyspace[keys.hostAddress('calico-03', 4)] = '172.17.8.103';
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(keyspace));
    const result = await cli([
      'render',
      '--node',
      'calico-01',
      '--out',
      out,
      '--datastore',
      `file:${join(dir, 'bad.json')}`,
      '--ipip',
      'off',
    ]);
    t.equal(result.code, 0, result.stderr);
    t.match(
      result.stderr,
      new RegExp(
        `^warning: ${filterKey} = "if net ~ then reject;": quarantined: bird -p refused the lines rendered from it: custom_filters\\.cfg:4 syntax error \\(skipped\\)$`,
        'm',
      ),
    );
    t.equal(readFileSync(join(out, 'custom_filters.cfg'), 'utf8'), before, 'the refused filter never reaches the file');
    t.match(readFileSync(join(out, 'bird.cfg'), 'utf8'), /Mesh_172_17_8_103/, 'the rest is written');
    // The lock file stays (it is never unlinked: README "Reliability"), emptied: it names no holder.
    t.equal(readFileSync(join(out, '.birdwatch.lock'), 'utf8'), '', 'the lock is released');
    t.same(
      readdirSync(out).filter((f) => f.startsWith('.') && f !== '.birdwatch.lock'),
      [],
      'no staging directory left behind',
    );
    const unchecked = await cli([
      'render',
      '--node',
      'calico-01',
      '--out',
      out,
      '--datastore',
      `file:${join(dir, 'bad.json')}`,
      '--ipip',
      'off',
      '--no-validate',
    ]);
    t.equal(unchecked.code, 0, '--no-validate writes anyway');
    t.match(readFileSync(join(out, 'custom_filters.cfg'), 'utf8'), /if net ~ then reject;/);
  },
);

t.test('--templates overrides file by file; a broken override is refused', async (t) => {
  const dir = tempDir(t);
  const templates = join(dir, 'templates');
  mkdirSync(templates);
  writeFileSync(
    join(templates, 'custom_filters.cfg.hbs'),
    '# site filters\nfunction custom_filters ()\n{\n  reject;\n}\n',
  );
  const out = join(dir, 'config');
  const result = await cli([
    'render',
    '--node',
    'calico-01',
    '--out',
    out,
    '--datastore',
    seed,
    '--ipip',
    'off',
    '--templates',
    templates,
  ]);
  t.equal(result.code, 0, result.stderr);
  t.equal(
    readFileSync(join(out, 'custom_filters.cfg'), 'utf8'),
    '# site filters\nfunction custom_filters ()\n{\n  reject;\n}\n',
  );
  t.match(
    readFileSync(join(out, 'bird.cfg'), 'utf8'),
    /Mesh_172_17_8_102/,
    'the other templates are the built-in ones',
  );
  writeFileSync(join(templates, 'bird.cfg.hbs'), 'router id {{routerId}};\nprotocol bgp {{noSuchField}} {}\n');
  const broken = await cli([
    'render',
    '--node',
    'calico-01',
    '--out',
    out,
    '--datastore',
    seed,
    '--ipip',
    'off',
    '--templates',
    templates,
  ]);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /template bird\.cfg\.hbs: "noSuchField" not defined/);
  t.match(readFileSync(join(out, 'bird.cfg'), 'utf8'), /Mesh_172_17_8_102/, 'the live bird.cfg is unchanged');
});

t.test('the installed command answers --help (npx birdwatch)', async (t) => {
  const result = await execa('npx', ['--no-install', 'birdwatch', '--help'], {
    reject: false,
    cwd: join(FIXTURES_DIR, '..'),
  });
  t.equal(result.exitCode, 0, result.stderr);
  t.match(result.stdout, /render/);
});

/**
 * BIRD 2 and 3 (README "BIRD 2 and BIRD 3"): `--bird` names the binary, its `--version` picks the dialect, and the
 * same promises hold with its `bird -p` — the golden files, the quarantine by key from its error format, the
 * version gates, bird6's files gone from a directory a BIRD 1.6 rendering left. `--bird-version` renders where the
 * binary is not.
 */
for (const version of ['2.0.12', '3.3.2'] as const) {
  const installed = birdOfVersion(version);
  t.test(
    `BIRD ${version}: render follows bird --version`,
    { skip: isMissing(installed) && installed.missing },
    async (t) => {
      if (isMissing(installed)) return;
      const dir = tempDir(t);
      const out = join(dir, 'config');
      const render = (extra: readonly string[], datastore = seed) =>
        cli([
          'render',
          '--node',
          'calico-01',
          '--out',
          out,
          '--datastore',
          datastore,
          '--bird',
          installed.bird,
          ...extra,
        ]);
      // A BIRD 1.6 rendering first, as a host upgraded in place has it.
      t.equal(
        (await cli(['render', '--node', 'calico-01', '--out', out, '--datastore', seed, '--ipip', 'off'])).code,
        0,
      );
      t.ok(existsSync(join(out, 'bird6.cfg')), 'BIRD 1.6: bird6.cfg');
      const diff = await cli([
        'render',
        '--diff',
        '--config-dir',
        out,
        '--node',
        'calico-01',
        '--datastore',
        seed,
        '--bird',
        installed.bird,
        '--ipip',
        'off',
      ]);
      t.equal(diff.code, 3, diff.stderr);
      t.match(
        diff.stdout,
        new RegExp(`^--- ${out.replace(/[/.]/g, '\\$&')}/bird6\\.cfg\\n\\+\\+\\+ /dev/null$`, 'm'),
        'render --diff: bird6.cfg would go',
      );
      t.match(diff.stdout, /^bird: {2}/m, 'one daemon');
      t.notMatch(diff.stdout, /^bird6:/m);

      const result = await render(['--ipip', 'off']);
      t.equal(result.code, 0, result.stderr);
      t.match(result.stdout, /bird\.cfg \(IPv4\): 1 mesh, 0 global, 0 node-specific peers; 1 pools; 1 blocks/);
      t.match(result.stdout, new RegExp(`for BIRD ${version.replace(/\./g, '\\.')}, validated by bird -p\\)`));
      const golden = join(FIXTURES_DIR, 'seed-tutorial', 'expected-bird2');
      t.same(
        readdirSync(out)
          .filter((f) => f.endsWith('.cfg'))
          .sort(),
        readdirSync(golden)
          .filter((f) => f.endsWith('.cfg'))
          .sort(),
        'one bird.cfg and its three includes; bird6.cfg, bird6_aggr.cfg, bird6_ipam.cfg, custom_filters6.cfg removed',
      );
      for (const file of readdirSync(golden).filter((f) => f.endsWith('.cfg')))
        t.equal(readFileSync(join(out, file), 'utf8'), readFileSync(join(golden, file), 'utf8'), file);

      const auto = await render(['--ipip', 'auto']);
      t.equal(auto.code, 0, auto.stderr);
      t.notMatch(auto.stderr, /krt_tunnel/, 'no krt_tunnel warning: auto is onlink on BIRD 2/3');
      t.match(
        readFileSync(join(out, 'bird_ipam.cfg'), 'utf8'),
        /onlink = true;/,
        '--ipip auto: through tunl0 by onlink',
      );

      const keyspace = JSON.parse(readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json'), 'utf8')) as Record<
        string,
        string
      >;
      const filterKey = keys.customFilter(6, 'broken');
      keyspace[filterKey] = 'if net ~ then reject;';
      keyspace[keys.hostAddress('calico-03', 4)] = '172.17.8.103';
      writeFileSync(join(dir, 'bad.json'), JSON.stringify(keyspace));
      const quarantined = await render(['--ipip', 'off'], `file:${join(dir, 'bad.json')}`);
      t.equal(quarantined.code, 0, quarantined.stderr);
      t.match(
        quarantined.stderr,
        new RegExp(
          `^warning: ${filterKey} = "if net ~ then reject;": quarantined: bird -p refused the lines rendered from it: custom_filters\\.cfg:\\d+ syntax error, unexpected`,
          'm',
        ),
        "BIRD 2/3's wording and (3.x) log prefix, pinned on the v6 filter's key",
      );
      t.match(readFileSync(join(out, 'bird.cfg'), 'utf8'), /Mesh_172_17_8_103/, 'the rest is written');
    },
  );
}

t.test(
  '--bird-version: render for a BIRD that is not here; a validating binary of the other dialect is refused',
  async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'config');
    const args = ['render', '--node', 'calico-01', '--out', out, '--datastore', seed, '--ipip', 'off'];
    const missing = await cli([...args, '--bird', join(dir, 'no-bird')]);
    t.equal(missing.code, 2);
    t.match(
      missing.stderr,
      /^error: --bird "[^"]+no-bird": cannot run BIRD binary .*ENOENT; birdwatch asks the binary which BIRD it is/m,
    );
    const offline = await cli([...args, '--bird', join(dir, 'no-bird'), '--no-validate', '--bird-version', '2.0.12']);
    t.equal(offline.code, 0, offline.stderr);
    t.match(offline.stdout, /for BIRD 2\.0\.12 \(--bird-version\), not validated/);
    t.same(
      readdirSync(out)
        .filter((f) => f.endsWith('.cfg'))
        .sort(),
      ['bird.cfg', 'bird_aggr.cfg', 'bird_ipam.cfg', 'custom_filters.cfg'],
    );
    // The default bird here is BIRD 1.6: it would validate (and run) the files, so BIRD 2 files are refused.
    const mismatch = await cli([...args, '--bird-version', '2.0.12']);
    t.equal(mismatch.code, 2);
    t.match(
      mismatch.stderr,
      /--bird-version "2\.0\.12": BIRD 2\/3 files, but bird is BIRD 1\.6\.8 and would validate and run them/,
    );
    t.match((await cli([...args, '--bird-version', '2.x'])).stderr, /--bird-version "2\.x": expected a BIRD release/);
    t.match(
      (await cli([...args, '--bird-version', '2.0.12', '--no-validate', '--ipip', 'krt-tunnel'])).stderr,
      /--ipip "krt-tunnel": krt_tunnel exists only in Calico's BIRD 1\.6 fork, and this is BIRD 2\.0\.12/,
    );
  },
);

t.test(
  'BIRD 3.1.0 (Debian 13): an IPIP pool is the node’s error naming the pool, the version and the way out',
  async (t) => {
    const installed = birdOfVersion('3.1.0');
    if (isMissing(installed)) {
      t.plan(0, installed.missing);
      return;
    }
    const out = join(tempDir(t), 'config');
    const result = await cli([
      'render',
      '--node',
      'calico-01',
      '--out',
      out,
      '--datastore',
      seed,
      '--bird',
      installed.bird,
    ]);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /IPIP pool 192\.168\.0\.0\/16 \(\/calico\/v1\/ipam\/v4\/pool\/192\.168\.0\.0-16\) cannot be routed through tunl0: BIRD 3\.1\.0 has no onlink route attribute .* or run with --ipip off/,
    );
    t.notOk(existsSync(join(out, 'bird.cfg')), 'nothing written');
    const off = await cli([
      'render',
      '--node',
      'calico-01',
      '--out',
      out,
      '--datastore',
      seed,
      '--bird',
      installed.bird,
      '--ipip',
      'off',
    ]);
    t.equal(off.code, 0, off.stderr);
    const onlink = await cli([
      'render',
      '--node',
      'calico-01',
      '--out',
      out,
      '--datastore',
      seed,
      '--bird',
      installed.bird,
      '--ipip',
      'onlink',
    ]);
    t.equal(onlink.code, 2);
    t.match(onlink.stderr, /--ipip "onlink": BIRD 3\.1\.0 has no onlink route attribute/);
  },
);

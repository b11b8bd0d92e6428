import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { keys } from '../src/model/keys.js';
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
    [['--ipip', 'sometimes'], /--ipip "sometimes": expected one of auto, krt-tunnel, off/],
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

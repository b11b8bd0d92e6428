import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { FILTERS_CHANGED, formatConfigChange, summarizeConfigChange } from '../src/controller/diffSummary.js';
import { keys } from '../src/model/keys.js';
import { splitStatements } from '../src/render/configBlocks.js';
import { diffLines, splitLines, unifiedDiff } from '../src/render/unifiedDiff.js';
import { cli } from './support/cli.js';
import { FIXTURES_DIR } from './support/fixtures.js';

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-diff-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** Applies a unified diff (as printed by unifiedDiff) to `old`: the hunks alone must rebuild the new text. */
function applyPatch(old: string, patch: string): string {
  const source = splitLines(old);
  const lines = patch.split('\n');
  const out: string[] = [];
  let at = 0;
  let i = 2;
  while (i < lines.length && lines[i] !== '') {
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(lines[i]!);
    if (header === null) throw new Error(`bad hunk header ${lines[i]}`);
    const count = header[2] === undefined ? 1 : Number(header[2]);
    const start = count === 0 ? Number(header[1]) : Number(header[1]) - 1;
    while (at < start) out.push(source[at++]!);
    i++;
    while (i < lines.length && /^[ +\-\\]/.test(lines[i]!)) {
      const line = lines[i]!;
      const noNewline = lines[i + 1] === '\\ No newline at end of file';
      const text = line.slice(1) + (noNewline ? '' : '\n');
      if (line[0] === ' ') {
        if (source[at] !== text)
          throw new Error(`context mismatch at ${at}: ${JSON.stringify(source[at])} vs ${JSON.stringify(text)}`);
        out.push(text);
        at++;
      } else if (line[0] === '-') {
        if (source[at] !== text) throw new Error(`deleted line mismatch at ${at}`);
        at++;
      } else if (line[0] === '+') out.push(text);
      i += noNewline ? 2 : 1;
    }
  }
  while (at < source.length) out.push(source[at++]!);
  return out.join('');
}

/** Length of the longest common subsequence (dynamic programming), to check the script is a shortest one. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const row = [0];
    for (let j = 0; j < b.length; j++) row.push(x === b[j] ? previous[j]! + 1 : Math.max(previous[j + 1]!, row[j]!));
    previous = row;
  }
  return previous[b.length]!;
}

t.test('unifiedDiff: the patch rebuilds the new text and the edit script is a shortest one', async (t) => {
  const line = fc.constantFrom('a\n', 'b\n', 'c\n', '}\n', '\n', 'protocol bgp X {\n', 'x');
  const text = fc.array(line, { maxLength: 40 }).map((ls) => ls.join(''));
  fc.assert(
    fc.property(text, text, (a, b) => {
      const patch = unifiedDiff('a', a, 'b', b);
      if (a === b) return patch === '';
      if (applyPatch(a, patch) !== b) return false;
      const la = splitLines(a);
      const lb = splitLines(b);
      const runs = diffLines(la, lb);
      const kept = runs.filter((r) => r.op === 'equal').reduce((n, r) => n + r.lines.length, 0);
      return kept === lcsLength(la, lb);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random pairs');
});

t.test('unifiedDiff prints what GNU diff -u prints', async (t) => {
  const dir = tempDir(t);
  const seed = readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'expected', 'bird.cfg'), 'utf8');
  const cases: [string, string, string][] = [
    [
      'peer added at the end',
      seed,
      `${seed}protocol bgp Mesh_10_0_0_5 from bgp_template {\n  neighbor 10.0.0.5 as 64511;\n}\n`,
    ],
    ['router id changed', seed, seed.replace('router id 172.17.8.101;', 'router id 172.17.8.109;')],
    [
      'two changes far apart',
      seed,
      seed.replace('scan time 2;       #', 'scan time 3;       #').replace('add paths on;', 'add paths off;'),
    ],
    ['no newline at the end', 'a\nb\nc\n', 'a\nb\nc'],
    ['from empty', '', 'x\ny\n'],
  ];
  for (const [name, a, b] of cases) {
    writeFileSync(join(dir, 'a'), a);
    writeFileSync(join(dir, 'b'), b);
    const gnu = await execa('diff', ['-u', '--label', 'a', '--label', 'b', join(dir, 'a'), join(dir, 'b')], {
      reject: false,
    });
    t.equal(unifiedDiff('a', a, 'b', b), `${gnu.stdout}\n`, name);
  }
  t.equal(
    unifiedDiff('/etc/x.cfg', undefined, '/etc/x.cfg (rendered)', 'x\n'),
    '--- /dev/null\n+++ /etc/x.cfg (rendered)\n@@ -0,0 +1 @@\n+x\n',
    'a new file',
  );
});

t.test('unifiedDiff stays fast at 10,000 peers: one removed, and every AS changed', async (t) => {
  const peers = (as: number, skip = -1): string =>
    Array.from({ length: 10_000 }, (_, i) =>
      i === skip
        ? ''
        : `protocol bgp Mesh_10_${i >> 8}_${i & 255}_1 from bgp_template {\n  neighbor 10.${i >> 8}.${i & 255}.1 as ${as};\n}\n\n`,
    ).join('');
  const before = peers(64511);
  for (const [name, after] of [
    ['one peer removed', peers(64511, 5000)],
    ['every AS changed', peers(64512)],
  ] as const) {
    const started = performance.now();
    const patch = unifiedDiff('a', before, 'b', after);
    const ms = performance.now() - started;
    t.comment(`${name}: ${ms.toFixed(0)} ms, ${patch.length} bytes`);
    t.ok(ms < 3_000, `${name} in ${ms.toFixed(0)} ms`);
    t.equal(applyPatch(before, patch), after);
  }
});

t.test('splitStatements and the change summary', async (t) => {
  const seed = readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'expected', 'bird.cfg'), 'utf8');
  t.same(
    splitStatements(seed).map((s) => s.bgpProtocol ?? s.text.split(' ').slice(0, 2).join(' ')),
    [
      'include "bird_aggr.cfg";',
      'include "custom_filters.cfg";',
      'include "bird_ipam.cfg";',
      'router id',
      'protocol kernel',
      'protocol device',
      'protocol direct',
      'template bgp',
      'Mesh_172_17_8_102',
    ],
  );
  t.same(
    splitStatements(
      'filter f { if net ~ [ 10.0.0.0/8+ ] then { accept; } reject; }; # c { ;\nprotocol bgp A_1 { neighbor 10.0.0.1 as 1; }',
    ).map((s) => s.bgpProtocol ?? s.text),
    ['filter f { if net ~ [ 10.0.0.0/8+ ] then { accept; } reject; };', 'A_1'],
  );
  const peer = (name: string, ip: string, as = 64511): string =>
    `protocol bgp ${name} from bgp_template {\n  neighbor ${ip} as ${as};\n}\n`;
  const base = new Map([
    ['bird.cfg', `${seed}${peer('Global_10_0_0_9', '10.0.0.9', 65009)}`],
    ['bird_ipam.cfg', 'filter calico_pools {\n  reject;\n}\n'],
    ['bird6.cfg', 'router id 1.2.3.4;\n'],
  ]);
  const peersOnly = new Map(base).set(
    'bird.cfg',
    `${seed.replace('# ------------- Global', `${peer('Mesh_10_0_0_5', '10.0.0.5')}# ------------- Global`)}`,
  );
  t.equal(
    formatConfigChange(summarizeConfigChange(base, peersOnly)),
    '+Mesh_10_0_0_5 −Global_10_0_0_9',
    'adding and removing sessions: no restart warning',
  );
  const asChanged = new Map(base).set('bird.cfg', base.get('bird.cfg')!.replace('as 65009', 'as 65010'));
  t.equal(
    formatConfigChange(summarizeConfigChange(base, asChanged)),
    '~Global_10_0_0_9',
    'one session changed: that one restarts',
  );
  const filter = new Map(base).set(
    'bird_ipam.cfg',
    'filter calico_pools {\n  if ( net ~ 10.0.0.0/8 ) then { accept; }\n  reject;\n}\n',
  );
  t.equal(
    formatConfigChange(summarizeConfigChange(base, filter)),
    `${FILTERS_CHANGED} (bird: bird_ipam.cfg: filter calico_pools)`,
  );
  const template = new Map(base).set('bird.cfg', base.get('bird.cfg')!.replace('add paths on;', 'add paths off;'));
  t.equal(
    formatConfigChange(summarizeConfigChange(base, template)),
    `${FILTERS_CHANGED} (bird: bird.cfg: template bgp bgp_template)`,
  );
  const comments = new Map(base).set(
    'bird.cfg',
    base
      .get('bird.cfg')!
      .replace('# Watch interface up/down events.', '# reworded comment')
      .replace('scan time 2;    #', 'scan time 2;  #'),
  );
  t.equal(formatConfigChange(summarizeConfigChange(base, comments)), '', 'comments and spacing are not changes');
  t.equal(
    formatConfigChange(summarizeConfigChange(new Map(), base)),
    '+Mesh_172_17_8_102 +Global_10_0_0_9; new bird configuration; new bird6 configuration',
    'first configuration',
  );
});

/** A live config dir rendered from the seed tutorial, and a keyspace file to change. */
async function liveSetup(t: Test): Promise<{
  dir: string;
  live: string;
  keyspace: Record<string, string>;
  write: (ks: Record<string, string>) => string;
}> {
  const dir = tempDir(t);
  const live = join(dir, 'live');
  const keyspace = JSON.parse(readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json'), 'utf8')) as Record<
    string,
    string
  >;
  const first = await cli([
    'render',
    '--node',
    'calico-01',
    '--out',
    live,
    '--datastore',
    `file:${join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json')}`,
    '--ipip',
    'off',
  ]);
  t.equal(first.code, 0, first.stderr);
  let n = 0;
  const write = (ks: Record<string, string>): string => {
    const path = join(dir, `keyspace-${n++}.json`);
    writeFileSync(path, JSON.stringify(ks));
    return `file:${path}`;
  };
  return { dir, live, keyspace, write };
}

/** Names, content hashes and modification times of the files in `dir`, and the names in its parent. */
const snapshotTree = (dir: string, parent: string): string =>
  JSON.stringify([
    readdirSync(parent).sort(),
    readdirSync(dir)
      .sort()
      .map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex')
          .slice(0, 16),
        statSync(join(dir, f)).mtimeMs,
      ]),
  ]);

t.test('render --diff: exit 0 and "no changes" when the live files are current', async (t) => {
  const { dir, live, keyspace, write } = await liveSetup(t);
  const datastore = write(keyspace);
  const before = snapshotTree(live, dir);
  const result = await cli([
    'render',
    '--diff',
    '--config-dir',
    live,
    '--node',
    'calico-01',
    '--datastore',
    datastore,
    '--ipip',
    'off',
  ]);
  t.equal(result.code, 0, result.stderr);
  t.notMatch(result.stdout, /^(---|\+\+\+|@@)/m, 'no diff');
  t.match(result.stdout, /^bird: {2}no BGP changes$/m);
  t.match(result.stdout, /no changes: .* is up to date/);
  t.equal(snapshotTree(live, dir), before, 'nothing written, not even a staging dir beside it');
});

t.test(
  'render --diff: a new mesh host and a global peer → unified diff, +protocols, exit 3, nothing written',
  async (t) => {
    const { dir, live, keyspace, write } = await liveSetup(t);
    keyspace[keys.hostAddress('calico-03', 4)] = '172.17.8.103';
    keyspace[keys.globalPeer(4, '10.9.9.9')] = '{"ip":"10.9.9.9","as_num":"65001"}';
    const datastore = write(keyspace);
    const before = snapshotTree(live, dir);
    const result = await cli([
      'render',
      '--diff',
      '--config-dir',
      live,
      '--node',
      'calico-01',
      '--datastore',
      datastore,
      '--ipip',
      'off',
    ]);
    t.equal(result.code, 3, result.stderr);
    t.match(
      result.stdout,
      new RegExp(
        `^--- ${live}/bird\\.cfg\\n\\+\\+\\+ ${live}/bird\\.cfg \\(rendered\\)\\n@@ -\\d+,\\d+ \\+\\d+,\\d+ @@`,
        'm',
      ),
    );
    t.match(result.stdout, /^\+protocol bgp Mesh_172_17_8_103 from bgp_template \{$/m);
    t.match(result.stdout, /^\+protocol bgp Global_10_9_9_9 from bgp_template \{$/m);
    t.match(result.stdout, /^bird: {2}\+Mesh_172_17_8_103 \+Global_10_9_9_9$/m);
    t.notMatch(result.stdout, new RegExp(FILTERS_CHANGED), 'only sessions added: no restart warning');
    t.match(result.stdout, /^bird6: no BGP changes$/m);
    t.match(result.stdout, /1 file would change .*\(nothing was written\)/);
    t.equal(snapshotTree(live, dir), before, 'nothing written');
    const patch = result.stdout.slice(0, result.stdout.indexOf('\nbird: '));
    t.equal(
      applyPatch(readFileSync(join(live, 'bird.cfg'), 'utf8'), `${patch}\n`),
      await renderedBirdCfg(t, datastore),
      'the printed diff turns the live file into the rendered one',
    );
  },
);

async function renderedBirdCfg(t: Test, datastore: string): Promise<string> {
  const out = join(tempDir(t), 'out');
  const result = await cli(['render', '--node', 'calico-01', '--out', out, '--datastore', datastore, '--ipip', 'off']);
  t.equal(result.code, 0, result.stderr);
  return readFileSync(join(out, 'bird.cfg'), 'utf8');
}

t.test('render --diff: a new pool changes a filter → the restart warning', async (t) => {
  const { live, keyspace, write } = await liveSetup(t);
  keyspace[keys.pool(4, '10.50.0.0/16')] = '{"cidr":"10.50.0.0/16"}';
  const result = await cli([
    'render',
    '--diff',
    '--config-dir',
    live,
    '--node',
    'calico-01',
    '--datastore',
    write(keyspace),
    '--ipip',
    'off',
  ]);
  t.equal(result.code, 3, result.stderr);
  t.match(result.stdout, /^\+.*net ~ 10\.50\.0\.0\/16/m);
  t.match(
    result.stdout,
    new RegExp(`^bird: {2}${FILTERS_CHANGED} \\(bird: bird_ipam\\.cfg: filter calico_pools\\)$`, 'm'),
  );
});

t.test(
  'render --diff: an entry BIRD rejects is quarantined as run would: a warning naming it, the rest diffed',
  async (t) => {
    const { live, keyspace, write } = await liveSetup(t);
    keyspace[keys.customFilter(4, 'broken')] = 'if net ~ then reject;';
    keyspace[keys.hostAddress('calico-09', 4)] = '172.17.8.109';
    const result = await cli([
      'render',
      '--diff',
      '--config-dir',
      live,
      '--node',
      'calico-01',
      '--datastore',
      write(keyspace),
      '--ipip',
      'off',
    ]);
    t.equal(result.code, 3, result.stderr);
    t.notMatch(result.stdout, /if net ~ then reject;/, 'the refused filter is not in the rendering');
    t.match(result.stdout, /^\+protocol bgp Mesh_172_17_8_109 /m, 'the other change is');
    t.match(
      result.stderr,
      /^warning: \/calico\/bgp\/v1\/global\/custom_filters\/v4\/broken = "if net ~ then reject;": quarantined: bird -p refused the lines rendered from it: custom_filters\.cfg:\d+ syntax error \(skipped\)$/m,
    );
  },
);

t.test("render --diff: an error in the templates' own lines → the error, exit 1", async (t) => {
  const { live, keyspace, write } = await liveSetup(t);
  const templates = join(tempDir(t), 'templates');
  mkdirSync(templates);
  writeFileSync(join(templates, 'bird_aggr.cfg.hbs'), 'this is not bird;\n');
  const result = await cli([
    'render',
    '--diff',
    '--config-dir',
    live,
    '--node',
    'calico-01',
    '--datastore',
    write(keyspace),
    '--ipip',
    'off',
    '--templates',
    templates,
  ]);
  t.equal(result.code, 1);
  t.match(result.stderr, /^error: bird -p rejected the configuration: bird_aggr\.cfg:1:\d+ syntax error$/m);
});

t.test('render --diff against an empty directory: every file is new', async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty');
  const result = await cli([
    'render',
    '--diff',
    '--config-dir',
    empty,
    '--node',
    'calico-01',
    '--datastore',
    `file:${join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json')}`,
    '--ipip',
    'off',
  ]);
  t.equal(result.code, 3, result.stderr);
  t.match(result.stdout, /^--- \/dev\/null$/m);
  t.match(result.stdout, /^bird: {2}new configuration \(no bird\.cfg in /m);
  t.match(result.stdout, /8 files would change/);
  t.same(readdirSync(dir), [], 'the directory was not created');
});

t.test('render --diff: argument errors exit 2 naming the flag', async (t) => {
  const seed = `file:${join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json')}`;
  const cases: [string[], RegExp][] = [
    [['--diff'], /^error: --config-dir: --diff needs the live configuration directory/],
    [['--diff', '--config-dir', '/tmp/x', '--out', '/tmp/y'], /^error: --out "\/tmp\/y": --diff writes nothing/],
    [['--config-dir', '/tmp/x'], /^error: --config-dir "\/tmp\/x": only used with --diff/],
    [[], /^error: --out: required option/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(['render', '--node', 'calico-01', '--datastore', seed, ...args]);
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, message);
  }
});

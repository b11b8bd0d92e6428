import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest } from './harness/etcd.js';
import { envWithout } from './harness/process.js';
import { putKeyspace } from './support/etcdLoad.js';
import { FIXTURES_DIR } from './support/fixtures.js';

/**
 * Datastore keys and values that try to forge a line or drive the terminal (newline, carriage return, CSI and OSC
 * sequences, BEL, RIS, the one-byte C1 CSI, NEL, the line separator, NUL) reach a person escaped: `render`'s
 * warning lines and `run`'s pretty log, as real processes.
 */
t.setTimeout(120_000);

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const EVIL = 'a\nFORGED line\r\x1b[2J\x1b]0;title\x07\x1bc\x9b1m\x85\u2028\x00z';

/** Entries the model skips with a diagnostic that quotes the key or the value. */
const hostile = new Map([
  [keys.hostAddress(EVIL, 4), '10.9.9.9'],
  [keys.globalPeer(4, `1.2.3.${EVIL}`), JSON.stringify({ ip: '1.2.3.4', as_num: '65000' })],
  [keys.globalPeer(4, '1.2.3.5'), JSON.stringify({ ip: '1.2.3.5', as_num: `6${EVIL}` })],
  [keys.customFilter(4, EVIL), 'accept;'],
]);

/** Control characters left in `text` once its line ends and pino-pretty's own colours (`ESC[<n>m`) are set aside. */
const rawControls = (text: string): string[] =>
  text
    .replace(/\x1b\[\d+m/g, '')
    .split('\n')
    .flatMap((line) =>
      [...line.matchAll(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g)].map(
        (m) => `U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')}`,
      ),
    );

/** Output quoted in an assertion message: raw, its controls (NEL, U+2028 too) would break the TAP stream itself. */
const asciiOnly = (text: string): string =>
  text.slice(0, 4000).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-controls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

function checkOutput(t: Test, output: string, lineMarker: RegExp, minimum: number): void {
  const lines = output.split('\n').filter((line) => lineMarker.test(line));
  t.ok(lines.length >= minimum, `${lines.length} lines about the hostile entries (at least ${minimum})`);
  t.ok(
    lines.every((line) => /a\\+nFORGED line\\+r\\+(x1b|u001b)\[2J/.test(line)),
    'each names the entry with its controls escaped',
  );
  t.same(rawControls(output), [], 'no raw control character anywhere in the output');
  t.notOk(
    output.split('\n').some((line) => line.startsWith('FORGED')),
    'no line was forged',
  );
}

t.test('render: warning lines quote hostile keys and values escaped', async (t) => {
  const dir = tempDir(t);
  const seed = JSON.parse(readFileSync(join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json'), 'utf8')) as Record<
    string,
    string
  >;
  writeFileSync(join(dir, 'etcd.json'), JSON.stringify({ ...seed, ...Object.fromEntries(hostile) }));
  const out = join(dir, 'config');
  const result = await execa(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'render',
      '--node',
      'calico-01',
      '--out',
      out,
      '--datastore',
      `file:${join(dir, 'etcd.json')}`,
      '--ipip',
      'off',
      '--no-validate',
    ],
    { reject: false, env: envWithout('ETCD'), extendEnv: false, stripFinalNewline: false },
  );
  t.equal(result.exitCode, 0, asciiOnly(result.stderr));
  t.match(result.stdout, /skipped entries: 4/);
  checkOutput(t, result.stderr, /^warning: .*FORGED/, 4);
});

t.test('run --once: the pretty log quotes hostile keys escaped', async (t) => {
  const etcd = await startEtcdForTest(t);
  await putKeyspace(etcd.endpoints, new Map([[keys.hostAddress('n1', 4), '127.0.0.1'], ...hostile]));
  const dir = tempDir(t);
  mkdirSync(join(dir, 'config'));
  const result = await execa(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'run',
      '--once',
      '--node',
      'n1',
      '--etcd-endpoints',
      etcd.endpoints[0]!,
      '--config-dir',
      join(dir, 'config'),
      '--bird-socket',
      join(dir, 'bird.ctl'),
      '--bird6-socket',
      join(dir, 'bird6.ctl'),
      '--ipip',
      'off',
      '--log-format',
      'pretty',
    ],
    { reject: false, all: true, env: envWithout('ETCD'), extendEnv: false, stripFinalNewline: false },
  );
  t.equal(result.exitCode, 0, asciiOnly(result.all));
  checkOutput(t, result.all, /skipped entry: .*FORGED/, 4);
});

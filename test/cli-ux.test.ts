/**
 * Operator UX of the CLI: every --help has examples and exit codes, the lazily loaded top level describes
 * each command as its full definition does, completion scripts that work in bash (and parse in zsh),
 * durations, `:PORT`, log levels in any case, and a closed pipe that ends a command quietly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { execa } from 'execa';
import t from 'tap';
import { parseLoggerLevel } from '../src/cli/commands/run.js';
import type { CommandContext } from '../src/cli/context.js';
import { parseDuration } from '../src/cli/duration.js';
import { buildProgram, requestedCommand, TOP_LEVEL_COMMANDS } from '../src/cli/program.js';
import { UsageError } from '../src/cli/usageError.js';
import { startEtcdForTest } from './harness/etcd.js';
import { envWithout } from './harness/process.js';
import { cli } from './support/cli.js';
import { putKeyspace } from './support/etcdLoad.js';

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const quiet: CommandContext = {
  env: {},
  stdout: () => undefined,
  stderr: () => undefined,
  setExitCode: () => undefined,
  shutdownSignal: () => new AbortController().signal,
};

/** Every command path of the full tree: [], ['pool'], ['pool', 'add'], … */
function commandPaths(command: Command, path: string[] = []): string[][] {
  return [
    path,
    ...command.commands.filter((c) => c.name() !== 'help').flatMap((c) => commandPaths(c, [...path, c.name()])),
  ];
}

t.test('every --help has Examples and Exit codes', async (t) => {
  const program = await buildProgram(quiet, 'all');
  const paths = commandPaths(program);
  t.ok(paths.length > 25, `${paths.length} commands`);
  for (const path of paths) {
    const help = await cli([...path, '--help']);
    t.equal(help.code, 0, `${path.join(' ') || 'birdwatch'} --help exits 0`);
    t.match(help.stdout, /\nExamples:\n {2}\$ birdwatch /, `${path.join(' ') || 'birdwatch'}: examples`);
    t.match(help.stdout, /\nExit codes:\n {2}0 {2}\S/, `${path.join(' ') || 'birdwatch'}: exit codes`);
  }
});

t.test('the top level loads only the command asked for; its stubs say what the full commands say', async (t) => {
  t.equal(requestedCommand(['pool', 'show', '--json']), 'pool');
  t.equal(requestedCommand(['--version']), undefined);
  t.equal(requestedCommand(['help', 'run']), 'run');
  t.equal(requestedCommand(['nosuch']), undefined);
  const full = await buildProgram(quiet, 'all');
  for (const entry of TOP_LEVEL_COMMANDS) {
    const command = full.commands.find((c) => c.name() === entry.name);
    t.equal(command?.description(), entry.description, `${entry.name}: stub description = full description`);
  }
  const help = await cli(['help', 'run']);
  t.match(help.stdout, /--min-reload-interval <duration>/, '`help run` shows the full run command');
  const version = await cli(['--version']);
  t.match(version.stdout, /^\d+\.\d+\.\d+/);
});

t.test('durations: 250ms, 1s, 1.5s, plain milliseconds; bad ones name the option', async (t) => {
  const limits = { minMs: 0, maxMs: 60_000 };
  const cases: [string, number][] = [
    ['250', 250],
    ['0', 0],
    ['250ms', 250],
    ['1s', 1000],
    ['1.5s', 1500],
    ['1.001s', 1001],
    ['1m', 60_000],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration('--min-reload-interval', text, limits), ms, text);
  for (const bad of ['1.5', '0.5ms', '2m', '-1', '1h', 's', '1 s x', '']) {
    t.throws(
      () => parseDuration('--min-reload-interval', bad, limits),
      { name: 'UsageError', argument: '--min-reload-interval' },
      `${JSON.stringify(bad)} refused`,
    );
  }
  const result = await cli([
    'run',
    '--node',
    'n1',
    '--min-reload-interval',
    '2h',
    '--etcd-endpoints',
    'http://127.0.0.1:1',
  ]);
  t.equal(result.code, 2);
  t.match(result.stderr, /^error: --min-reload-interval "2h": expected a duration such as 250ms, 1s or 1\.5s/);
});

t.test('--log-level in any case', async (t) => {
  t.equal(parseLoggerLevel('WARN'), 'warn');
  t.equal(parseLoggerLevel('Debug'), 'debug');
  let error: unknown;
  try {
    parseLoggerLevel('verbose');
  } catch (e) {
    error = e;
  }
  t.ok(error instanceof UsageError && error.argument === '--log-level');
});

t.test('bash completion: subcommands, options, fixed values; zsh script parses', async (t) => {
  const bash = await cli(['completion', 'bash']);
  t.equal(bash.code, 0);
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'birdwatch.bash'), bash.stdout);
  const complete = async (line: string): Promise<string[]> => {
    const words = line.split(' ');
    const script = `source ${join(dir, 'birdwatch.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _birdwatch; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = await execa('bash', ['-c', script]);
    return result.stdout
      .split('\n')
      .filter((w) => w !== '')
      .sort();
  };
  t.same(await complete('birdwatch po'), ['pool']);
  t.same(await complete('birdwatch pool '), ['--help', 'add', 'remove', 'show']);
  t.same(await complete('birdwatch pool show --j'), ['--json']);
  t.same(await complete('birdwatch check '), ['--help', '--listen', '--timeout', 'live', 'ready']);
  t.same(await complete('birdwatch --etcd-endpoints x bgp peer a'), ['add']);
  t.same(await complete('birdwatch run --min'), ['--min-reload-interval']);
  const zsh = await cli(['completion', 'zsh']);
  t.equal(zsh.code, 0);
  t.match(zsh.stdout, /^#compdef birdwatch\n/);
  const hasZsh = (await execa('zsh', ['--version'], { reject: false })).exitCode === 0;
  if (hasZsh) {
    writeFileSync(join(dir, '_birdwatch'), zsh.stdout);
    t.equal(
      (await execa('zsh', ['-n', join(dir, '_birdwatch')], { reject: false })).exitCode,
      0,
      'zsh -n: the script parses',
    );
  } else t.comment('zsh is not installed: the zsh script was not parsed');
  const bad = await cli(['completion', 'fish']);
  t.equal(bad.code, 2);
  t.equal(bad.stderr, 'error: shell "fish": expected bash or zsh');
});

t.test('a closed pipe: `node show | head -1` exits quietly (no EPIPE crash)', async (t) => {
  const etcd = await startEtcdForTest(t);
  // Enough rows that the table outlives the reader's first line.
  await putKeyspace(
    etcd.endpoints,
    new Map(
      Array.from({ length: 3000 }, (_, i) => [
        `/calico/bgp/v1/host/node-${String(i).padStart(5, '0')}/ip_addr_v4`,
        `10.${(i >> 8) & 255}.${i & 255}.1`,
      ]),
    ),
  );
  const child = spawn('node', ['--import', 'tsx', MAIN, 'node', 'show'], {
    env: { ...envWithout('ETCD'), ETCD_ENDPOINTS: etcd.endpoints.join(',') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const first = await new Promise<string>((resolve) => {
    child.stdout.once('data', (chunk: Buffer) => {
      resolve(chunk.toString('utf8').split('\n')[0] ?? '');
      child.stdout.destroy();
    });
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.match(first, /^\+-+\+/, 'the first line of the table was read');
  t.equal(code, 0, 'exit 0');
  t.equal(stderr, '', 'nothing on stderr (no EPIPE stack)');
});

/**
 * The code caches the build writes (dist/compile-cache-*.bin, src/cli/compileCache.ts), in fresh processes as the
 * CLI uses them, against a real etcd: every CommonJS module `pool show`, `node show`, `bgp peer add` and `run`
 * (under --optimize-for-size, from its own file) load comes from the cache and V8 takes every entry; the commands
 * print and exit as with the cache off; under other V8 flags V8 refuses the first entry, the cache stops, and the
 * command still works.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { REPO_ROOT } from './lab/lab.js';
import { startEtcdForTest } from './harness/etcd.js';

const DIST = join(REPO_ROOT, 'dist');
const MAIN = join(DIST, 'cli', 'main.js');

/**
 * Runs the CLI in-process as main.ts does (the cache first; for \`run\`, only loads its modules), then prints the
 * cache's counts as the last line.
 */
const CLI_SCRIPT = `
const dist = process.argv[1];
const at = (path) => import(new URL(path, dist + '/').href);
const argv = process.argv.slice(2);
// \`run\`: V8's --optimize-for-size first, and its cache (as main.ts does), then run's modules.
const run = argv[0] === 'run';
if (run) (await import('node:v8')).setFlagsFromString('--optimize-for-size');
const { compileCacheStats, useCompileCache } = await at('cli/compileCache.js');
useCompileCache({ profile: run ? 'optimize-for-size' : 'default' });
const { runCli } = await at('cli/program.js');
if (run) await at('cli/commands/run.js');
else {
  const context = {
    env: process.env,
    stdout: (line) => console.log(line),
    stderr: (line) => console.error(line),
    setExitCode: (code) => { process.exitCode = code; },
    shutdownSignal: () => new AbortController().signal,
  };
  await runCli(argv, context);
}
console.log(JSON.stringify(compileCacheStats()));
`;

interface Counts {
  hits: number;
  rejected: number;
  misses: number;
}

/**
 * Node as a user starts it: tap adds its NODE_OPTIONS (a loader that turns source maps on, which turns the cache
 * off) to every process a test spawns, so `env` takes it out again.
 */
const node = (args: readonly string[], env: Record<string, string>) =>
  execa('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });

async function inProcess(args: string[], env: Record<string, string>, nodeFlags: string[] = []) {
  const result = await node(
    [...nodeFlags, '--input-type=module', '-e', CLI_SCRIPT, pathToFileURL(DIST).href, ...args],
    env,
  );
  const lines = result.stdout.trim().split('\n');
  return { exitCode: result.exitCode, stderr: result.stderr, counts: JSON.parse(lines.at(-1) ?? '{}') as Counts };
}

t.test('the CLI compiles its CommonJS packages from the build’s code cache', async (t) => {
  for (const profile of ['default', 'optimize-for-size'])
    t.ok(existsSync(join(DIST, `compile-cache-${profile}.bin`)), `npm run build wrote the ${profile} cache`);
  const etcd = await startEtcdForTest(t);
  const env = { ETCD_ENDPOINTS: etcd.endpoints[0]!, PATH: process.env['PATH'] ?? '' };

  for (const args of [
    ['pool', 'add', '192.168.0.0/16'],
    ['pool', 'show'],
    ['node', 'register', '--node', 'cache-01', '--ip', '10.0.0.1'],
    ['node', 'show'],
    ['bgp', 'peer', 'add', '172.17.8.1', 'as', '64567'],
    ['run'],
  ]) {
    const run = await inProcess(args, env);
    t.equal(run.exitCode, 0, `${args.join(' ')} exits 0${run.exitCode === 0 ? '' : `: ${run.stderr}`}`);
    t.ok(run.counts.hits > 100, `${args.join(' ')}: ${run.counts.hits} modules from the cache`);
    t.same({ rejected: run.counts.rejected, misses: run.counts.misses }, { rejected: 0, misses: 0 }, 'none without');
  }

  for (const args of [['pool', 'show'], ['node', 'show'], ['bgp', 'peer', 'show'], ['--help']]) {
    const withCache = await node([MAIN, ...args], env);
    const without = await node([MAIN, ...args], { ...env, BIRDWATCH_COMPILE_CACHE: 'off' });
    t.same(
      { exitCode: withCache.exitCode, stdout: withCache.stdout, stderr: withCache.stderr },
      { exitCode: without.exitCode, stdout: without.stdout, stderr: without.stderr },
      `birdwatch ${args.join(' ')}: the same with the cache and without`,
    );
  }

  // Another V8 flag (as the shipped service's NODE_OPTIONS sets): V8 refuses the first entry, the cache stops.
  const otherFlags = await inProcess(['pool', 'show'], env, ['--max-semi-space-size=1']);
  t.equal(otherFlags.exitCode, 0, 'pool show under other V8 flags exits 0');
  t.same(otherFlags.counts, { hits: 0, rejected: 1, misses: 0 }, 'one entry refused, then none asked');
});

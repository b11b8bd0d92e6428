import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readlink } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { lockConfigDir, LOCK_FILE } from '../src/apply/configDirLock.js';
import { ConfigDirLockedError } from '../src/apply/errors.js';
import { envWithout } from './harness/process.js';
import { spawnBirdwatch, exitWithin } from './support/birdwatchProcess.js';
import { cli } from './support/cli.js';
import { FIXTURES_DIR } from './support/fixtures.js';
import { waitFor } from './support/world.js';

/**
 * One owner per config dir (README "Reliability"), with real processes: birdwatch `render --out` instances in
 * this PID namespace and in others (`unshare --pid`), a holder SIGKILLed, and a bird -p child whose descriptors
 * are listed while the holder waits on it.
 */
t.setTimeout(120_000);

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const seed = `file:${join(FIXTURES_DIR, 'seed-tutorial', 'etcd.json')}`;

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const renderArgs = (out: string, bird = 'bird'): string[] => [
  'render',
  '--node',
  'calico-01',
  '--out',
  out,
  '--datastore',
  seed,
  '--ipip',
  'off',
  '--bird',
  bird,
];

/** `birdwatch render --out` run to its end, optionally under a prefix (`unshare --pid --fork`). */
async function renderProcess(
  out: string,
  prefix: readonly string[] = [],
): Promise<{ readonly code: number | undefined; readonly stderr: string }> {
  const [program, ...args] = [...prefix, process.execPath, '--import', 'tsx', MAIN, ...renderArgs(out)];
  const result = await execa(program!, args, { reject: false, env: envWithout('ETCD'), extendEnv: false });
  return { code: result.exitCode, stderr: result.stderr };
}

const ourPidNamespace = async (): Promise<string> => /\[(\d+)\]/.exec(await readlink('/proc/self/ns/pid'))![1]!;

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const unshareWorks = (await execa('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { reject: false })).exitCode;

t.test(
  'a second instance is refused in this PID namespace and in others, the holder keeps its lock, and the kernel drops it when the holder is SIGKILLed',
  { skip: unshareWorks === 0 ? false : 'needs unshare --pid (root, or user namespaces)' },
  async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'config');
    mkdirSync(out);
    const realBird = (await execa('sh', ['-c', 'command -v bird'])).stdout.trim();
    // bird -p as the holder runs it: lists its own descriptors, then waits until told, then is the real bird -p.
    const slowBird = join(dir, 'slow-bird');
    writeFileSync(
      slowBird,
      [
        '#!/bin/sh',
        // `render` asks the binary its version first (before the lock): that call goes straight through.
        `[ "$1" = --version ] && exec '${realBird}' "$@"`,
        `ls -l /proc/$$/fd > '${dir}/fds.tmp' && mv '${dir}/fds.tmp' '${dir}/fds.'$$`,
        `while [ ! -e '${dir}/go' ]; do sleep 0.05; done`,
        `exec '${realBird}' "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(slowBird, 0o755);
    let birdPid: number | undefined;
    t.teardown(() => {
      writeFileSync(join(dir, 'go'), '');
      if (birdPid !== undefined && processAlive(birdPid)) process.kill(birdPid, 'SIGKILL');
    });

    const holder = spawnBirdwatch(t, renderArgs(out, slowBird));
    const listing = await waitFor(
      'the holder to run bird -p',
      () => readdirSync(dir).find((name) => /^fds\.\d+$/.test(name)),
      (name) => name !== undefined,
      30_000,
    );
    birdPid = Number(listing!.slice('fds.'.length));
    const lockPath = join(out, LOCK_FILE);
    const held = JSON.parse(readFileSync(lockPath, 'utf8')) as Record<string, unknown>;
    t.equal(held.pid, holder.pid, 'the lock file names the holder');
    const inode = statSync(lockPath).ino;

    const fds = readFileSync(join(dir, listing!), 'utf8');
    t.match(fds, /fds\.tmp$/m, "the listing is bird -p's own descriptors (its stdout)");
    t.notMatch(fds, /\.birdwatch\.lock/, 'bird -p did not inherit the lock descriptor');

    const ns = await ourPidNamespace();
    const sameNamespace = await renderProcess(out);
    t.equal(sameNamespace.code, 1, 'a second render --out in this PID namespace is refused');
    t.match(
      sameNamespace.stderr,
      `error: ${out} is in use by another birdwatch (birdwatch render --out: pid ${holder.pid} on host ${hostname()}, this PID namespace, started `,
      'the refusal names the holder',
    );
    t.match(sameNamespace.stderr, `it holds the lock ${lockPath} until it exits: stop that birdwatch first`);

    for (const prefix of [
      ['unshare', '--pid', '--fork'],
      ['unshare', '--pid', '--fork', '--mount-proc'],
    ]) {
      const other = await renderProcess(out, prefix);
      t.equal(other.code, 1, `refused under ${prefix.join(' ')}`);
      t.match(
        other.stderr,
        `(birdwatch render --out: pid ${holder.pid} on host ${hostname()}, PID namespace ${ns} (this one is `,
        `${prefix.join(' ')}: the holder is named with its own PID namespace`,
      );
      t.equal(statSync(lockPath).ino, inode, `${prefix.join(' ')}: the lock file was not removed or replaced`);
      t.same(JSON.parse(readFileSync(lockPath, 'utf8')), held, `${prefix.join(' ')}: the holder's identity is intact`);
    }
    const third = await renderProcess(out);
    t.equal(third.code, 1, 'after the others exited, the holder still holds the lock: a third is refused');
    t.match(third.stderr, `pid ${holder.pid} on host`);

    holder.kill('SIGKILL');
    t.equal((await exitWithin(holder, 10_000)).signal, 'SIGKILL');
    t.ok(processAlive(birdPid), "the holder's bird -p outlives it (it must not keep the lock alive)");
    const next = await renderProcess(out);
    t.equal(next.code, 0, `the next instance takes the lock at once: ${next.stderr}`);
    t.equal(statSync(lockPath).ino, inode, 'the same lock file, never unlinked');
    t.equal(readFileSync(lockPath, 'utf8'), '', 'a clean release leaves the file naming nobody');
  },
);

t.test('a lock file left by the pid-based release (its pid alive, its start time right) does not block', async (t) => {
  const out = join(tempDir(t), 'config');
  mkdirSync(out);
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const legacy = `${JSON.stringify({ pid: process.pid, started, command: `birdwatch run (pid ${process.pid})` })}\n`;
  writeFileSync(join(out, LOCK_FILE), legacy);
  const result = await cli([...renderArgs(out), '--no-validate']);
  t.equal(result.code, 0, result.stderr);
  t.ok(existsSync(join(out, 'bird.cfg')), 'written');
  t.equal(readFileSync(join(out, LOCK_FILE), 'utf8'), '', 'the old content is gone, the file kept');
});

t.test('two locks in one process: the second is refused naming this process; release is idempotent', async (t) => {
  const out = join(tempDir(t), 'config');
  const first = await lockConfigDir(out, `birdwatch run (pid ${process.pid})`);
  const second = await lockConfigDir(out, 'birdwatch run --once').catch((error: unknown) => error);
  t.ok(second instanceof ConfigDirLockedError, 'refused');
  if (second instanceof ConfigDirLockedError) {
    t.equal(second.holder?.pid, process.pid);
    t.equal(second.holder?.pidNamespace, await ourPidNamespace());
    t.equal(second.holder?.command, `birdwatch run (pid ${process.pid})`);
    t.equal(second.lockPath, join(out, LOCK_FILE));
  }
  await first.release();
  await first.release();
  const third = await lockConfigDir(out, 'birdwatch render --out');
  t.equal(
    (JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as { command: string }).command,
    'birdwatch render --out',
  );
  await third.release();
});

t.test('no flock program: one line naming the lock file and the fix', async (t) => {
  const out = join(tempDir(t), 'config');
  mkdirSync(out);
  // No bird on PATH either: the version is given and nothing validated, so the lock is the first thing missing.
  const args = [...renderArgs(out), '--bird-version', '1.6.8', '--no-validate'];
  const result = await execa(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    reject: false,
    env: { PATH: join(out, 'nowhere') },
    extendEnv: false,
  });
  t.equal(result.exitCode, 1);
  t.equal(
    result.stderr,
    `error: cannot lock ${join(out, LOCK_FILE)}: the flock program (util-linux) is not on PATH; install util-linux (Debian: apt-get install util-linux)`,
  );
});

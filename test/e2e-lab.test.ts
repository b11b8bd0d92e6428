/**
 * scripts/lab itself: `up` records every PID and namespace it makes, `down` stops exactly those and
 * deletes exactly those, a second `up` cleans what a previous (crashed) one left, and a namespace the
 * lab did not make is never touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { delay } from './harness/process.js';
import { skipWithoutNamespaces } from './lab/e2e.js';
import { downLab, REPO_ROOT } from './lab/lab.js';
import { namespaceExists } from './lab/network.js';
import { isRunning, type ProcessRecord } from './lab/procs.js';
import { readState } from './lab/state.js';

const LAB = join(REPO_ROOT, 'scripts', 'lab');

const lab = (args: readonly string[]) => execa(LAB, args, { reject: false, timeout: 60_000 });

/**
 * PIDs of live processes whose command line mentions `text` (e.g. the state dir) or that work inside it (runit's runsv,
 * svlogd).
 */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (/^\S+ \([^)]*\) Z/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue; // a zombie: gone, not yet reaped
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cmdline.includes(text) || cwd.startsWith(text)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

// Three labs are brought up here; on a loaded machine that takes longer than .taprc's 180 s per file.
t.setTimeout(360_000);

t.test('scripts/lab up, status, up again, a crashed up, down', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const stateDir = mkdtempSync(join(tmpdir(), 'birdwatch-labcli-'));
  const prefix = `bwe-${randomBytes(3).toString('hex')}`;
  const foreign = `${prefix}-foreign`;
  t.teardown(async () => {
    await downLab(stateDir).catch(() => undefined);
    await execa('ip', ['netns', 'delete', foreign], { reject: false });
    rmSync(stateDir, { recursive: true, force: true });
  });
  const common = ['--state', stateDir, '--prefix', prefix];
  const namespaces = [`${prefix}-br`, `${prefix}-h1`, `${prefix}-h2`];

  const up = await lab(['up', '--hosts', '2', ...common]);
  t.equal(up.exitCode, 0, up.exitCode === 0 ? 'up exits 0' : `up failed:\n${up.stdout}\n${up.stderr}`);
  t.match(up.stdout, /export ETCD_ENDPOINTS=http:\/\/127\.0\.0\.1:\d+/);
  const first = readState(stateDir);
  if (first === undefined) throw new Error('no state file after up');
  t.same(first.namespaces, namespaces, 'the namespaces it made are recorded');
  t.same(
    first.processes.map((p) => p.label).sort(),
    ['etcd m0', 'relay h1', 'relay h2', 'relay root', 'runsvdir h1', 'runsvdir h2'],
    'etcd, its relays (root + one per host) and one runsvdir per host',
  );
  t.ok(first.processes.every(isRunning), 'every recorded process runs after up exited');
  for (const h of ['h1', 'h2']) {
    for (const service of ['birdwatch', 'bird', 'bird6']) {
      const sv = await execa('sv', ['status', join(stateDir, 'hosts', h, 'service', service)], { reject: false });
      t.match(
        sv.stdout,
        /^run: [^:]+: \(pid \d+\) \d+s(, normally down)?; run: log: \(pid \d+\)/,
        `${h}: runit runs ${service} and its log service`,
      );
    }
  }
  t.ok(namespaces.every(namespaceExists), 'the namespaces exist');

  await execa('ip', ['netns', 'add', foreign]);
  const status = await lab(['status', ...common]);
  t.equal(status.exitCode, 0);
  t.equal(status.stdout.match(/^ {2}running /gm)?.length, 6, 'status lists 6 running processes');

  const again = await lab(['up', '--hosts', '2', ...common]);
  t.equal(again.exitCode, 0, `up over a running lab exits 0\n${again.stderr}`);
  t.match(again.stdout, /cleaning up what the previous lab/);
  t.ok(
    first.processes.every((p) => !isRunning(p)),
    'the previous lab’s processes were stopped',
  );
  const second = readState(stateDir);
  t.ok(second !== undefined && second.processes.every(isRunning), 'the new lab runs');

  // A crash in the middle of up: SIGKILL the lab process once it has started etcd and a host's runsvdir.
  const crashing = execa(LAB, ['up', '--hosts', '2', ...common], { reject: false });
  let seen: ProcessRecord[] = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = (() => {
      try {
        return readState(stateDir);
      } catch {
        return undefined; // being rewritten
      }
    })();
    seen = st !== undefined && st.createdAt !== second?.createdAt ? st.processes : [];
    if (seen.some((p) => p.label.startsWith('runsvdir'))) break;
    if (Date.now() > deadline) throw new Error('the crashing up never started a runsvdir');
    await delay(10);
  }
  crashing.kill('SIGKILL');
  const crashed = await crashing;
  t.equal(crashed.signal, 'SIGKILL', 'the up was killed mid-way');
  t.ok(
    second?.processes.every((p) => !isRunning(p)),
    'the crashed up had cleaned the lab before it',
  );

  const down = await lab(['down', ...common]);
  t.equal(down.exitCode, 0, `down exits 0\n${down.stderr}`);
  t.match(down.stdout, /deleted \d namespace/);
  t.ok(
    seen.every((p) => !isRunning(p)),
    'every process the crashed up recorded is stopped',
  );
  t.same(processesMentioning(stateDir), [], 'no process refers to the lab state dir any more');
  t.ok(
    namespaces.every((ns) => !namespaceExists(ns)),
    'the lab namespaces are gone',
  );
  t.ok(namespaceExists(foreign), 'a namespace with the prefix that the lab did not make is untouched');
  t.equal(readState(stateDir), undefined, 'the state file is removed (logs stay)');

  const downAgain = await lab(['down', ...common]);
  t.equal(downAgain.exitCode, 0);
  t.match(downAgain.stdout, /stopped 0 process/);

  // up refuses namespaces it did not make.
  await execa('ip', ['netns', 'delete', foreign]);
  await execa('ip', ['netns', 'add', `${prefix}-br`]);
  t.teardown(() => execa('ip', ['netns', 'delete', `${prefix}-br`], { reject: false }));
  const refused = await lab(['up', '--hosts', '1', ...common]);
  t.equal(refused.exitCode, 1);
  t.match(refused.stderr, new RegExp(`namespace\\(s\\) ${prefix}-br already exist and are not recorded`));
  t.ok(namespaceExists(`${prefix}-br`), 'the existing namespace is left alone');
  t.same(processesMentioning(stateDir), [], 'nothing was started');

  // A non-empty directory that is not a lab state dir is never used (up wipes its lab's etcd/ and hosts/).
  const elsewhere = mkdtempSync(join(tmpdir(), 'birdwatch-notlab-'));
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  writeFileSync(join(elsewhere, 'keep.txt'), 'mine');
  const notLab = await lab(['up', '--hosts', '1', '--state', elsewhere, '--prefix', `${prefix}x`]);
  t.equal(notLab.exitCode, 1);
  t.match(notLab.stderr, /is not empty and is not a lab state dir/);
  t.equal(readFileSync(join(elsewhere, 'keep.txt'), 'utf8'), 'mine', 'its files are untouched');
});

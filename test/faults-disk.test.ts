import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import type { RunController } from '../src/controller/runController.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { fileTimeoutMs } from './reliability/size.js';
import { recordRow } from './reliability/summary.js';
import { loopbackKeyspace } from './support/keyspaces.js';
import { createWorld, sleep, waitFor, type World } from './support/world.js';
import { linesOf } from './support/logLines.js';

/**
 * Disk faults: the config dir made unwritable (we run as root, so permissions do not stop us: `chattr +i`
 * makes the directory immutable), and the filesystem full (a small tmpfs). Promise: a clear error naming the
 * directory, no partial or temporary files, the live files and BIRD untouched, and recovery when the disk is
 * writable again.
 */
t.setTimeout(fileTimeoutMs(170_000, 600_000));
/** How long a fixed birdwatch may take to retry a failed write by itself (its reload retry backs off to 5 s). */
const RETRY_WINDOW_MS = 7_000;

const baseKeyspace = (): Map<string, string> => loopbackKeyspace();

const writeErrors = (w: World) => w.logLines().filter((l) => l['level'] === 50 && l['failure'] === 'write');

/**
 * The disk is writable again. A birdwatch that retries converges without any new change; one that does not
 * waits for the next change (a no-op put makes one). Returns the convergence time and whether it retried.
 */
async function recover(t: Test, w: World, what: string): Promise<{ ms: number; retried: boolean }> {
  const writable = performance.now();
  const retried = await w.waitConverged('retry after the disk is writable', RETRY_WINDOW_MS).then(
    () => true,
    () => false,
  );
  t.test(`${what}: converged without a new etcd change`, async (t) => {
    t.ok(retried, `converged within ${RETRY_WINDOW_MS} ms of the disk becoming writable`);
  });
  if (!retried) {
    await w.client.put(keys.hostAddress('n2', 4)).value('127.0.0.2'); // same value, new revision: a new cycle
    await w.waitConverged(`${what}: after a new change`, 15_000);
  }
  return { ms: performance.now() - writable, retried };
}

async function failedWrite(
  t: Test,
  w: World,
  controller: RunController,
  change: string,
  ip: string,
  errno: RegExp,
): Promise<void> {
  const bird = readFileSync(join(w.configDir, 'bird.cfg'), 'utf8');
  const protocols = await w.protocols('bird');
  await w.client.put(keys.hostAddress(change, 4)).value(ip);
  await waitFor(
    'write failure',
    () => controller.status.failure,
    (f) => f?.kind === 'write',
    10_000,
  );
  const message = controller.status.failure?.message ?? '';
  t.match(message, w.configDir.replace(/\/config$/, ''), `the error names the directory: ${message}`);
  t.match(message, errno, 'and the system error');
  await w.client.put(keys.hostAddress(`${change}-2`, 4)).value(ip.replace(/\d+$/, (n) => String(Number(n) + 1)));
  await sleep(500);
  t.equal(writeErrors(w).length, 1, 'logged once at error level, not once per cycle');
  t.equal(readFileSync(join(w.configDir, 'bird.cfg'), 'utf8'), bird, 'live bird.cfg untouched');
  t.same(await w.protocols('bird'), protocols, 'BIRD runs the same protocols');
  t.ok(w.birds.bird?.running() && w.birds.bird6?.running(), 'BIRD keeps running the old configuration');
}

if (!(await canCreateNamespaces())) {
  t.test('disk faults', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test('config dir not writable (chattr +i): clear error, no partial files, recovery', async (t) => {
    const w = await createWorld(t, { keyspace: baseKeyspace() });
    const controller = await w.startController();
    await w.startBirds();
    await w.waitConverged('initial');
    const immutable = await execa('chattr', ['+i', w.configDir], { reject: false });
    if (immutable.exitCode !== 0) {
      t.skip(`chattr +i is not supported here: ${immutable.stderr}`, () => undefined);
      return;
    }
    t.teardown(() => execa('chattr', ['-i', w.configDir], { reject: false }));
    await failedWrite(t, w, controller, 'ro-a', '127.0.0.71', /EPERM|not permitted/);
    // Failed writes are retried: look between cycles, where a staging dir in use is not a leftover.
    await controller.idle();
    t.same(w.leftovers(), [], 'no temp files in the config dir, no staging dirs beside it');
    await execa('chattr', ['-i', w.configDir]);
    const { ms, retried } = await recover(t, w, 'read-only');
    // Failed writes are retried: look between cycles, where a staging dir in use is not a leftover.
    await controller.idle();
    t.same(w.leftovers(), [], 'still no leftovers after recovery');
    recordRow(t, {
      scenario: 'disk: config dir immutable (chattr +i)',
      result: retried ? 'pass' : 'FAIL',
      convergenceMs: ms,
      detail: retried ? 'retried by itself' : 'no retry: converged only after the next etcd change',
    });
    await controller.close();
  });

  t.test('filesystem full (tmpfs): clear error, no partial files, recovery', async (t) => {
    const mountPoint = mkdtempSync(join(tmpdir(), 'birdwatch-disk-'));
    const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint], { reject: false });
    if (mounted.exitCode !== 0) {
      rmSync(mountPoint, { recursive: true, force: true });
      t.skip(`cannot mount a tmpfs: ${mounted.stderr}`, () => undefined);
      return;
    }
    t.teardown(async () => {
      await execa('umount', ['-l', mountPoint], { reject: false });
      rmSync(mountPoint, { recursive: true, force: true });
    });
    const w = await createWorld(t, { keyspace: baseKeyspace(), configDir: join(mountPoint, 'config') });
    const controller = await w.startController();
    await w.startBirds();
    await w.waitConverged('initial');
    mkdirSync(join(mountPoint, 'filler'));
    let fillers = 0;
    try {
      for (;;) writeFileSync(join(mountPoint, 'filler', `f${fillers++}`), Buffer.alloc(4096, 1));
    } catch (error) {
      t.match((error as NodeJS.ErrnoException).code, 'ENOSPC', `filled the tmpfs (${fillers} × 4 KiB)`);
    }
    await failedWrite(t, w, controller, 'full-a', '127.0.0.81', /ENOSPC|no space/i);
    // Failed writes are retried: look between cycles, where a staging dir in use is not a leftover.
    await controller.idle();
    t.same(w.leftovers(), [], 'no half-written staging dir or temp file is left behind');
    rmSync(join(mountPoint, 'filler'), { recursive: true, force: true });
    const { ms, retried } = await recover(t, w, 'disk full');
    // Failed writes are retried: look between cycles, where a staging dir in use is not a leftover.
    await controller.idle();
    t.same(w.leftovers(), [], 'recovery leaves nothing behind');
    recordRow(t, {
      scenario: 'disk: filesystem full (tmpfs)',
      result: retried ? 'pass' : 'FAIL',
      convergenceMs: ms,
      detail: retried ? 'retried by itself' : 'no retry: converged only after the next etcd change',
    });
    await controller.close();
  });
  t.test(
    'staging both daemons side by side needs more space than is free: they are staged one at a time',
    async (t) => {
      const mountPoint = mkdtempSync(join(tmpdir(), 'birdwatch-disk-'));
      const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { reject: false });
      if (mounted.exitCode !== 0) {
        rmSync(mountPoint, { recursive: true, force: true });
        t.skip(`cannot mount a tmpfs: ${mounted.stderr}`, () => undefined);
        return;
      }
      t.teardown(async () => {
        await execa('umount', ['-l', mountPoint], { reject: false });
        rmSync(mountPoint, { recursive: true, force: true });
      });
      // A custom filter of ~48 KiB per daemon: each daemon's staged set is ~60 KiB, both at once ~120 KiB.
      const filter = (family: 4 | 6, action: string): string =>
        Array.from({ length: 1_300 }, (_, i) =>
          family === 4
            ? `if net = 10.${i >> 8}.${i & 255}.0/24 then ${action};`
            : `if net = fd00:${i.toString(16)}::/64 then ${action};`,
        ).join('\n');
      const keyspace = loopbackKeyspace(
        [keys.customFilter(4, 'big'), filter(4, 'reject')],
        [keys.customFilter(6, 'big'), filter(6, 'reject')],
      );
      const w = await createWorld(t, { keyspace, configDir: join(mountPoint, 'config') });
      const controller = await w.startController();
      await w.startBirds();
      await w.waitConverged('initial');
      await controller.idle();
      // Leave room for one daemon's staged set (~60 KiB) and a half, not for both.
      const { bavail, bsize } = statfsSync(mountPoint);
      writeFileSync(join(mountPoint, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 96 * 1024), 1));
      t.comment(`free after the filler: ${Math.round((statfsSync(mountPoint).bavail * bsize) / 1024)} KiB`);
      await w.client
        .if(keys.hostAddress('n1', 4), 'Create', '>', -1)
        .then(
          w.client.put(keys.customFilter(4, 'big')).value(filter(4, 'accept')),
          w.client.put(keys.customFilter(6, 'big')).value(filter(6, 'accept')),
        )
        .commit();
      await w.waitConverged('both daemons changed, on a nearly full disk', 15_000);
      await controller.idle();
      t.ok(linesOf(w.logLines(), 'staged-alone').length > 0, 'a daemon that ran out of space was staged alone');
      t.equal(controller.status.failure, undefined, 'no failure');
      t.same(w.leftovers(), []);
      await controller.close();
    },
  );
}

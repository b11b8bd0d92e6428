import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { validateBirdConfig } from '../src/bird/validateConfig.js';
import { keys } from '../src/model/keys.js';
import { NODE_LAYOUT } from '../src/render/layouts.js';
import { canCreateNamespaces } from './harness/netns.js';
import { startBirdwatch, type ChildBirdwatch } from './reliability/childBirdwatch.js';
import { fileTimeoutMs, size } from './reliability/size.js';
import { formatMs, recordRow } from './reliability/summary.js';
import { createWorld, sleep, waitFor, NODE, type World } from './support/world.js';
import { linesOf } from './support/logLines.js';

/**
 * birdwatch (`node dist/cli/main.js run`, a child process) SIGKILLed at random points of the apply path while
 * changes flow. A kill is triggered when a staging dir appears (stage/validate), when a temp file appears in the
 * config dir (the swap), or at a random time since start. After each kill: the config dir holds a complete set
 * that bird -p and bird6 -p accept; then a restarted birdwatch removes the leftovers and converges.
 */
// Six restarts on a loaded machine take a minute or more (node, the etcd sync, bird -p): room for twice that.
t.setTimeout(fileTimeoutMs(300_000, 1_200_000));
/** Start or restart → converged is a figure (reported below); this only bounds the wait for "converges by itself". */
const CONVERGED_WITHIN_MS = 60_000;
const KILLS = size(6, 50);
const SEED = Number(process.env['BIRDWATCH_CRASH_SEED'] ?? 424242);

/** mulberry32: a small seeded PRNG, so a run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const baseKeyspace = (): Map<string, string> =>
  loopbackKeyspace([keys.pool(4, '10.200.0.0/16'), JSON.stringify({ cidr: '10.200.0.0/16' })]);

/** Each change is one transaction touching bird.cfg, bird_aggr.cfg and bird6.cfg: a cycle swaps several files. */
function multiFileStream(client: Etcd3): { pause(): Promise<void>; resume(): void; stop(): Promise<number> } {
  let running = true;
  let paused = false;
  let count = 0;
  let idle: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      if (paused) {
        idle?.();
        await sleep(20);
        continue;
      }
      const i = count % 16;
      const present = Math.floor(count / 16) % 2 === 0;
      const ops = present
        ? [
            client.put(keys.hostAddress(`crash-${i}`, 4)).value(`127.0.2.${i + 1}`),
            client.put(keys.block(NODE, 4, `10.200.${i}.0/26`)).value('{}'),
            client
              .put(keys.globalPeer(6, `::1:${i + 1}`))
              .value(JSON.stringify({ ip: `::1:${i + 1}`, as_num: '65001' })),
          ]
        : [
            client.delete().key(keys.hostAddress(`crash-${i}`, 4)),
            client.delete().key(keys.block(NODE, 4, `10.200.${i}.0/26`)),
            client.delete().key(keys.globalPeer(6, `::1:${i + 1}`)),
          ];
      await client
        .if(keys.hostAddress(NODE, 4), 'Create', '>', -1)
        .then(...ops)
        .commit();
      count++;
      await sleep(20);
    }
  })();
  return {
    pause: () =>
      new Promise<void>((resolve) => {
        idle = () => {
          idle = undefined;
          resolve();
        };
        paused = true;
      }),
    resume: () => {
      paused = false;
    },
    stop: async () => {
      running = false;
      idle?.();
      await loop;
      return count;
    },
  };
}

type Trigger = 'staging' | 'swap' | 'random';

/** Resolves when the apply path reaches the trigger (a staging dir or a temp file appears), or at a random time. */
function armTrigger(w: World, trigger: Trigger, random: () => number): { fired: Promise<void>; close(): void } {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const fired = new Promise<void>((resolve) => {
    const fire = (): void => resolve();
    if (trigger === 'random') {
      timer = setTimeout(fire, 100 + random() * 900);
      return;
    }
    // Staging dirs are made inside the config dir; the swap renames staged files over the live names.
    const live = new Set(NODE_LAYOUT.map((e) => e.file));
    const [dir, matches] =
      trigger === 'staging'
        ? [w.configDir, (n: string) => n.startsWith('.staging-')]
        : [w.configDir, (n: string) => live.has(n)];
    const watcher = watch(dir, (_event, name) => {
      if (name && matches(name)) fire();
    });
    watchers.push(watcher);
    timer = setTimeout(fire, 5_000); // the stream always produces cycles; this only bounds the wait
  });
  return {
    fired,
    close: () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

if (!(await canCreateNamespaces())) {
  t.test('SIGKILL on the apply path', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test(
    `birdwatch SIGKILLed ${KILLS} times on the apply path (seed ${SEED}): the live set stays whole and valid; a restart converges`,
    async (t) => {
      const random = prng(SEED);
      const w = await createWorld(t, { keyspace: baseKeyspace() });
      let child: ChildBirdwatch = await startBirdwatch(t, w, {
        args: ['--min-reload-interval', '0'],
        logName: 'birdwatch-0.log',
      });
      await waitFor(
        'first configuration written',
        () => existsSync(join(w.configDir, 'bird.cfg')),
        (e) => e,
        CONVERGED_WITHIN_MS,
      );
      await w.startBirds();
      await w.waitConverged('initial', CONVERGED_WITHIN_MS);
      const stream = multiFileStream(w.client);
      const hits: Record<string, number> = { 'stage/validate': 0, swap: 0, 'elsewhere (render, reload, idle)': 0 };
      const convergence: number[] = [];
      const problems: string[] = [];
      for (let kill = 1; kill <= KILLS; kill++) {
        const trigger: Trigger = (['staging', 'swap', 'random'] as const)[kill % 3]!;
        const armed = armTrigger(w, trigger, random);
        await armed.fired;
        if (trigger !== 'random') await sleep(random() * (trigger === 'staging' ? 10 : 2));
        child.kill('SIGKILL');
        await child.exited;
        armed.close();
        const leftovers = w.leftovers();
        // The staging dir lives until the swap is done: a kill fired by a rename over a live file hit the swap itself.
        if (trigger === 'swap' && leftovers.some((l) => l.includes('.staging-'))) hits['swap']!++;
        else if (leftovers.some((l) => l.includes('.staging-'))) hits['stage/validate']!++;
        else hits['elsewhere (render, reload, idle)']!++;
        // The live set: exactly the layout's files, each whole, and BIRD accepts them as they are.
        const visible = readdirSync(w.configDir)
          .filter((n) => !n.startsWith('.'))
          .sort();
        const expectedNames = NODE_LAYOUT.map((e) => e.file).sort();
        if (visible.join() !== expectedNames.join())
          problems.push(`kill ${kill} (${trigger}): config dir holds ${visible.join(' ')}`);
        for (const daemon of ['bird', 'bird6'] as const) {
          const result = await validateBirdConfig({ binary: daemon, configPath: join(w.configDir, `${daemon}.cfg`) });
          if (!result.ok) problems.push(`kill ${kill} (${trigger}): ${daemon} -p rejects the live set: ${result.raw}`);
        }
        if (!w.birds.bird?.running() || !w.birds.bird6?.running()) problems.push(`kill ${kill}: BIRD stopped`);
        // Restart with the changes paused: it must clean up and converge by itself.
        await stream.pause();
        const restarted = performance.now();
        child = await startBirdwatch(t, w, { args: ['--min-reload-interval', '0'], logName: `birdwatch-${kill}.log` });
        try {
          await w.waitConverged(`restart after kill ${kill}`, CONVERGED_WITHIN_MS);
          convergence.push(performance.now() - restarted);
        } catch (error) {
          problems.push((error as Error).message);
        }
        // Converged may be true before the restart even started (the kill came after the swap), and its own first
        // cycle removes its staging dir a moment after BIRD and the disk agree: wait for the cleanup, bounded.
        const after = await waitFor(
          'no leftovers after the restart',
          () => w.leftovers(),
          (l) => l.length === 0,
          20_000,
        ).catch(() => w.leftovers());
        if (after.length > 0) problems.push(`kill ${kill}: after the restart converged, left over: ${after.join(' ')}`);
        if (leftovers.length > 0) {
          const logged = await waitFor(
            'the removed leftovers logged',
            () => linesOf(child.lines(), 'leftovers-removed').length > 0,
            (seen) => seen,
            20_000,
          ).catch(() => false);
          if (!logged) problems.push(`kill ${kill}: the restart did not log the removed leftovers`);
        }
        stream.resume();
      }
      const changes = await stream.stop();
      const stopped = performance.now();
      await w.waitConverged('after the last change', CONVERGED_WITHIN_MS);
      const final = performance.now() - stopped;
      const term = await child.stop();
      t.equal(term.code, 0, 'SIGTERM: the last birdwatch exits 0');
      t.same(problems, [], 'every kill left a complete valid set, and every restart cleaned up and converged');
      const sorted = [...convergence].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      const worst = sorted.at(-1);
      const where = Object.entries(hits)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
      t.comment(
        `${KILLS} kills (${where}); ${changes} changes; restart → converged: median ${formatMs(median)}, max ${formatMs(worst)}`,
      );
      t.ok(hits['stage/validate']! + hits['swap']! > 0, 'some kills landed inside the file writes');
      recordRow(t, {
        scenario: `birdwatch SIGKILL ×${KILLS} on the apply path`,
        result: problems.length === 0 ? 'pass' : 'FAIL',
        convergenceMs: median,
        detail: `seed ${SEED}; ${where}; restart→converged median ${formatMs(median)}, max ${formatMs(worst)}; last change→converged ${formatMs(final)}`,
      });
    },
  );
}

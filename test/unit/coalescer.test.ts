import t from 'tap';
import { parseReloadShare } from '../../src/cli/reloadShare.js';
import { CycleCoalescer, type CycleOutcome } from '../../src/controller/coalescer.js';
import { MAX_PACED_GAP_MS, reloadGapMs } from '../../src/controller/reloadPacer.js';
import { FakeClock, flush } from '../support/fakeClock.js';

function setup(minReloadIntervalMs: number, reloads = true) {
  const clock = new FakeClock();
  const controller = new AbortController();
  const started: number[] = [];
  let release: (() => void) | undefined;
  let blocking = false;
  const coalescer = new CycleCoalescer({
    clock,
    minReloadIntervalMs,
    signal: controller.signal,
    runCycle: async (): Promise<CycleOutcome> => {
      started.push(clock.now());
      if (blocking) await new Promise<void>((r) => (release = r));
      return { reloaded: reloads };
    },
  });
  return { clock, controller, started, coalescer, block: (on: boolean) => (blocking = on), release: () => release?.() };
}

t.test('the gap counts from the end of a reloading cycle, so a slow cycle cannot eat into it', async (t) => {
  const s = setup(250);
  s.block(true);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  await s.clock.advance(100); // the cycle runs for 100 ms
  s.coalescer.trigger().catch(t.threw);
  s.block(false);
  s.release();
  await flush();
  await s.clock.advance(300);
  await s.coalescer.idle();
  t.same(s.started, [0, 350]);
});

t.test('a lone change when idle starts a cycle at once', async (t) => {
  const s = setup(250);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  t.same(s.started, [0]);
});

t.test('changes during a cycle merge into exactly one follow-up cycle', async (t) => {
  const s = setup(0);
  s.block(true);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  for (let i = 0; i < 50; i++) s.coalescer.trigger().catch(t.threw);
  t.equal(s.started.length, 1, 'still one cycle while the first runs');
  s.block(false);
  s.release();
  await s.coalescer.idle();
  t.equal(s.started.length, 2, 'one follow-up for fifty changes');
});

t.test('the minimum reload gap bounds reloads during a storm', async (t) => {
  const s = setup(250);
  // 200 changes spread evenly over one second.
  for (let i = 0; i < 200; i++) {
    s.coalescer.trigger().catch(t.threw);
    await flush(); // a cycle takes no fake time: it ends before the clock moves on
    await s.clock.advance(5);
  }
  await s.clock.advance(1000);
  await s.coalescer.idle();
  t.same(
    s.started,
    [0, 250, 500, 750, 1000],
    'one cycle per gap (from the end of the last reload), the last after the last change',
  );
});

t.test('cycles that do not reload are not held back by the gap', async (t) => {
  const s = setup(250, false);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  await s.clock.advance(10);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  t.same(s.started, [0, 10]);
});

t.test('a change long after the last reload is not delayed', async (t) => {
  const s = setup(250);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  await s.clock.advance(400);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  t.same(s.started, [0, 400]);
});

t.test('abort stops the loop while it waits out the gap', async (t) => {
  const s = setup(250);
  s.coalescer.trigger().catch(t.threw);
  await flush();
  s.coalescer.trigger().catch(t.threw);
  s.controller.abort();
  await s.coalescer.idle();
  t.same(s.started, [0], 'no cycle after shutdown');
});

/** A coalescer whose cycles take `cycleMs` of fake time and report a reload BIRD answered in `reloadMs`. */
function pacedSetup(opts: {
  cycleMs: number;
  reloadMs: number;
  maxReloadShare?: number;
  minReloadIntervalMs?: number;
}) {
  const clock = new FakeClock();
  const controller = new AbortController();
  const started: number[] = [];
  const coalescer = new CycleCoalescer({
    clock,
    minReloadIntervalMs: opts.minReloadIntervalMs ?? 0,
    maxReloadShare: opts.maxReloadShare,
    signal: controller.signal,
    runCycle: async (): Promise<CycleOutcome> => {
      started.push(clock.now());
      await clock.sleep(opts.cycleMs);
      return { reloaded: true, reloadMs: opts.reloadMs };
    },
  });
  return { clock, started, coalescer };
}

t.test(
  'pacing: after a reload of r ms the next cycle waits r × (1/share − 1), so BIRD stays ≤ 25 % busy',
  async (t) => {
    const s = pacedSetup({ cycleMs: 20, reloadMs: 20 });
    for (let i = 0; i < 200; i++) {
      s.coalescer.trigger().catch(t.threw);
      await flush();
      await s.clock.advance(5);
    }
    await s.clock.advance(1000);
    await s.coalescer.idle();
    const gaps = s.started.slice(1).map((at, i) => at - s.started[i]!);
    t.ok(
      gaps.every((g) => g === 80),
      `each cycle starts 20 ms (the cycle) + 60 ms (3 × 20) after the last: ${gaps.join(',')}`,
    );
    // Each reload owns its period (reload + gap): over whole periods BIRD is busy exactly a quarter of the time.
    const span = s.started.at(-1)! + 80;
    t.ok((s.started.length * 20) / span <= 0.25 + 1e-9, 'BIRD reconfigures at most a quarter of the time');
    t.ok(s.started.at(-1)! >= 995 - 80, 'the last change is applied within one gap of its arrival');
  },
);

t.test('pacing: a fast reload lets the next change follow closely', async (t) => {
  const s = pacedSetup({ cycleMs: 0, reloadMs: 2 });
  s.coalescer.trigger().catch(t.threw);
  await flush();
  await s.clock.advance(1);
  s.coalescer.trigger().catch(t.threw); // arrives 1 ms after a 2 ms reload: waits until 6 ms
  await flush();
  t.same(s.started, [0], 'held while within the gap');
  await s.clock.advance(5);
  t.same(s.started, [0, 6], 'started 3 × 2 ms after the reload');
});

t.test('pacing: a share of 10 % leaves nine times the reload', async (t) => {
  const s = pacedSetup({ cycleMs: 0, reloadMs: 10, maxReloadShare: 0.1 });
  s.coalescer.trigger().catch(t.threw);
  await flush();
  s.coalescer.trigger().catch(t.threw);
  await s.clock.advance(200);
  await s.coalescer.idle();
  t.same(s.started, [0, 90]);
});

t.test('pacing: --min-reload-interval is a floor under the share bound', async (t) => {
  const s = pacedSetup({ cycleMs: 0, reloadMs: 2, minReloadIntervalMs: 100 });
  s.coalescer.trigger().catch(t.threw);
  await flush();
  s.coalescer.trigger().catch(t.threw);
  await s.clock.advance(300);
  await s.coalescer.idle();
  t.same(s.started, [0, 100], 'the explicit 100 ms, not 6 ms');
});

t.test('pacing: the share bound never holds changes longer than its cap', async (t) => {
  t.equal(reloadGapMs(30_000, { maxReloadShare: 0.25, minReloadIntervalMs: 0 }), MAX_PACED_GAP_MS);
  t.equal(reloadGapMs(30_000, { maxReloadShare: 0.25, minReloadIntervalMs: 20_000 }), 20_000, 'explicit floor wins');
  t.equal(reloadGapMs(8, { maxReloadShare: 1, minReloadIntervalMs: 0 }), 0, 'share 1: no bound');
  t.equal(reloadGapMs(Number.NaN, { maxReloadShare: 0.25, minReloadIntervalMs: 0 }), 0, 'unknown reload time');
});

t.test('--max-reload-share is validated at the boundary', async (t) => {
  t.equal(parseReloadShare('0.25'), 0.25);
  t.equal(parseReloadShare('25%'), 0.25);
  t.equal(parseReloadShare('1'), 1);
  t.equal(parseReloadShare('.5'), 0.5);
  for (const bad of ['0', '0%', '1.5', '150%', '-0.2', 'abc', '', '0.25s']) {
    t.throws(
      () => parseReloadShare(bad),
      {
        name: 'UsageError',
        argument: '--max-reload-share',
        message: new RegExp(
          `^--max-reload-share ${JSON.stringify(bad).replace(/[.%]/g, '\\$&')}: .*greater than 0 and at most 1`,
        ),
      },
      bad,
    );
  }
});

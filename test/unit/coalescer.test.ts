import t from 'tap';
import { CycleCoalescer, type CycleOutcome } from '../../src/controller/coalescer.js';
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

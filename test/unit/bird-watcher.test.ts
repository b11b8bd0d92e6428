/**
 * The BIRD watcher's parts on fake time and fake BIRDs (README "Reliability"): `show status` as BIRD 1.6.8 prints
 * it, telling another BIRD from the same one, the files' identity on disk, the watcher's looks between cycles, and
 * what `/readyz` says meanwhile. test/reliability-bird-restart.test.ts is the proof with real BIRDs.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LiveFiles } from '../../src/apply/liveFileSet.js';
import { decodeBirdReplies } from '../../src/bird/replyDecoder.js';
import { birdTimeMs, parseBirdStatus16 } from '../../src/bird/showStatus.js';
import { reconfiguredSince, restartedSince } from '../../src/controller/birdRunState.js';
import { BirdWatcher, type BirdDrift } from '../../src/controller/birdWatcher.js';
import type { BirdRunState } from '../../src/controller/edges.js';
import { abortAfter } from '../../src/controller/shutdownGrace.js';
import type { Daemon } from '../../src/model/daemon.js';
import { checkReadiness } from '../../src/observe/health.js';
import { createLogger } from '../../src/observe/logger.js';
import { RunStatus } from '../../src/observe/runStatus.js';
import { FakeClock, flush } from '../support/fakeClock.js';

/** `birdc -v show status` of a real BIRD 1.6.8 (after the greeting). */
const SHOW_STATUS_16 = [
  '1000-BIRD 1.6.8',
  '1011-Router ID is 10.0.0.1',
  '     Current server time is 2026-12-06 23:58:31',
  '     Last reboot on 2026-12-06 23:58:30',
  '     Last reconfiguration on 2026-12-06 23:58:31',
  '0013 Daemon is up and running',
  '',
].join('\n');

t.test('show status, as BIRD 1.6.8 prints it', async (t) => {
  const [reply] = decodeBirdReplies(SHOW_STATUS_16);
  t.same(parseBirdStatus16(reply!), {
    version: '1.6.8',
    routerId: '10.0.0.1',
    startedAt: '2026-12-06 23:58:30',
    reconfiguredAt: '2026-12-06 23:58:31',
    state: 'Daemon is up and running',
  });
  t.throws(() => parseBirdStatus16(decodeBirdReplies('9001 syntax error\n')[0]!), /unexpected reply to "show status"/);
  t.equal(birdTimeMs('2026-12-06 23:58:31'), Date.UTC(2026, 11, 6, 23, 58, 31));
  t.equal(birdTimeMs('2026-12-06 23:58:31.250'), Date.UTC(2026, 11, 6, 23, 58, 31, 250), 'a fraction (BIRD 2)');
  t.equal(birdTimeMs('23:58:31'), undefined, 'a format it does not know');
});

const state = (socket: string | undefined, startedAtS: number, configuredAfterS: number): BirdRunState => ({
  socket,
  startedAt: `start ${startedAtS}`,
  reconfiguredAt: `reconf ${startedAtS + configuredAfterS}`,
  startedAtMs: startedAtS * 1000,
  configuredAfterMs: configuredAfterS * 1000,
});

t.test('another BIRD, or the same one reconfigured', async (t) => {
  t.notOk(restartedSince(state('1:5', 100, 0), state('1:5', 101, 0)), 'its printed start moved by a second: the same');
  t.ok(restartedSince(state('1:5', 100, 0), state('2:9', 100, 0)), 'another control socket: another BIRD');
  t.ok(restartedSince(state(undefined, 100, 0), state(undefined, 160, 0)), 'no socket seen: the start time says');
  t.notOk(reconfiguredSince(state('1:5', 100, 20), state('1:5', 101, 20)), 'both times shifted together: the same');
  t.ok(reconfiguredSince(state('1:5', 100, 20), state('1:5', 100, 21)));
});

t.test("the files on disk: a stat each, a change behind birdwatch's back is named", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-live-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bird.cfg'), 'one');
  writeFileSync(join(dir, 'bird6.cfg'), 'six');
  const live = new LiveFiles(dir);
  await live.read(['bird.cfg', 'bird6.cfg', 'bird_aggr.cfg']);
  t.same(await live.changedOnDisk(), []);
  writeFileSync(join(dir, 'bird.cfg.new'), 'older');
  renameSync(join(dir, 'bird.cfg.new'), join(dir, 'bird.cfg'));
  writeFileSync(join(dir, 'bird_aggr.cfg'), 'appeared');
  t.same(await live.changedOnDisk(), ['bird.cfg', 'bird_aggr.cfg']);
});

t.test('the watcher: one look per interval between cycles; restarts, hand reconfigurations, files', async (t) => {
  const clock = new FakeClock();
  const states: Record<Daemon, BirdRunState | undefined> = {
    bird: state('1:1', 100, 0),
    bird6: state('2:1', 100, 0),
  };
  let asked = 0;
  let busy = false;
  let files = new Map<Daemon, string[]>();
  const drifts: [Daemon, BirdDrift][] = [];
  const watcher = new BirdWatcher({
    daemons: ['bird', 'bird6'],
    edges: {
      status: async (daemon) => {
        asked++;
        const s = states[daemon];
        if (!s) throw new Error('not answering');
        return s;
      },
    },
    clock,
    intervalMs: 2_000,
    filesChanged: async () => files,
    busy: () => busy,
    onDrift: (daemon, drift) => drifts.push([daemon, drift]),
    log: createLogger({ level: 'silent', pretty: false }),
  });
  const stop = new AbortController();
  const running = watcher.run(stop.signal);
  await watcher.cycleEnded(); // the reference: what the first cycle left
  asked = 0;
  await clock.advance(2_000);
  t.equal(asked, 2, 'one show status per daemon per interval');
  t.same(drifts, []);

  states.bird = state('1:2', 160, 0); // restarted
  await clock.advance(2_000);
  t.same(
    drifts.map(([d, x]) => [d, x.cause]),
    [['bird', 'restarted']],
  );
  t.match(drifts[0]![1].reason, /^bird restarted at start 160 and loaded the files on disk: reloading it/);

  drifts.length = 0;
  await watcher.cycleEnded();
  states.bird6 = state('2:1', 100, 30); // someone ran `birdc configure` or `configure undo`
  files = new Map([['bird', ['bird.cfg']]]);
  await clock.advance(2_000);
  t.same(
    drifts.map(([d, x]) => [d, x.cause]),
    [
      ['bird', 'files'],
      ['bird6', 'reconfigured'],
    ],
  );
  files = new Map();

  drifts.length = 0;
  busy = true; // a cycle runs: it looks itself; its end takes the reference again
  asked = 0;
  states.bird = state('1:3', 200, 0);
  await clock.advance(2_000);
  t.equal(asked, 0, 'no look while a cycle runs');
  busy = false;
  await watcher.cycleEnded();
  t.same(
    drifts.map(([d, x]) => [d, x.cause]),
    [['bird', 'restarted']],
    'a BIRD restarted while the cycle ran may have missed its reload: noticed at the cycle end',
  );

  drifts.length = 0;
  states.bird = undefined; // down: says nothing yet, the last BIRD seen stays the reference
  await clock.advance(2_000);
  t.same(drifts, []);
  states.bird = state('1:4', 300, 0);
  await clock.advance(2_000);
  t.match(drifts[0]?.[1].reason, /^bird restarted at start 300/);

  drifts.length = 0;
  states.bird = undefined;
  await watcher.cycleEnded(); // down when the cycle ended (its reload is owed, retried with backoff)
  states.bird = state('1:5', 400, 0);
  await clock.advance(2_000);
  t.match(
    drifts[0]?.[1].reason,
    /^bird restarted at start 400/,
    'down at the cycle end, up again: reloaded at once (not at the next retry)',
  );

  stop.abort();
  await flush();
  await running;
});

t.test('readiness while BIRD runs something else, and with skipped entries', async (t) => {
  const status = new RunStatus(['bird']);
  status.datastore = 'synced';
  status.daemons.bird!.reloadPending = false;
  status.daemons.bird!.lastAppliedAt = Date.now();
  const answers = { bird: { ok: true as const } };
  t.ok(checkReadiness(status, answers, { now: 0 }).ready);
  status.skipped = [{ key: '/calico/bgp/v1/global/custom_filters/v4/big', reason: 'larger than 64 KiB' }];
  const skipped = checkReadiness(status, answers, { now: 0 });
  t.ok(skipped.ready, 'skipped entries leave the node ready');
  t.match(
    skipped.checks.find((c) => c.condition === 'applied')?.message,
    /; 1 entry skipped \(\/calico\/bgp\/v1\/global\/custom_filters\/v4\/big\)$/,
  );
  status.daemons.bird!.drift = {
    cause: 'restarted',
    reason: 'bird restarted at 2026-12-06 23:58:30 and loaded the files on disk: reloading it with what etcd says',
    since: Date.UTC(2026, 11, 6, 23, 58, 31),
  };
  const drifted = checkReadiness(status, answers, { now: 0 });
  t.notOk(drifted.ready);
  t.equal(
    drifted.checks.find((c) => c.condition === 'bird')?.message,
    'since 2026-12-06T23:58:31.000Z: bird restarted at 2026-12-06 23:58:30 and loaded the files on disk: reloading it with what etcd says',
  );
  status.daemons.bird!.drift = undefined;
  status.daemons.bird!.reloadPending = true;
  status.guardHolds = [{ key: '/calico/bgp/v1/global/peer_v4/10.0.0.9', daemon: 'bird', reason: 'r', at: 0 }];
  t.match(
    checkReadiness(status, answers, { now: 0 }).checks.find((c) => c.condition === 'applied')?.message,
    /^the apply guard is reverting a change .* bird has not yet confirmed it runs the previous configuration/,
    'not "reverted" before BIRD is known to run the previous configuration',
  );
  status.daemons.bird!.reloadPending = false;
  t.match(
    checkReadiness(status, answers, { now: 0 }).checks.find((c) => c.condition === 'applied')?.message,
    /^the apply guard reverted a change/,
  );
});

t.test('the grace signal aborts its delay after the stop signal', async (t) => {
  const stop = new AbortController();
  const grace = abortAfter(stop.signal, 20);
  await new Promise((resolve) => setTimeout(resolve, 40));
  t.notOk(grace.aborted, 'nothing before the stop signal');
  stop.abort();
  t.notOk(grace.aborted, 'not at once');
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.ok(grace.aborted, 'after its delay');
  t.ok(abortAfter(AbortSignal.abort(), 0), 'an aborted signal starts the delay at once');
});

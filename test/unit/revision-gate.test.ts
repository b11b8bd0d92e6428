import t from 'tap';
import { RevisionGate, type Release } from '../../src/datastore/revisionGate.js';
import type { WatchEvent } from '../../src/datastore/keyspaceFeed.js';
import { FakeClock } from '../support/fakeClock.js';

const event = (key: string, modRevision: bigint): WatchEvent => ({ key, value: '1', modRevision });

/** A stream whose progress requests are answered in order; `outstanding` counts the unanswered ones. */
function fakeWatch() {
  const watch = {
    requests: 0,
    progressOutstanding: 0,
    requestProgress(): void {
      watch.requests++;
      watch.progressOutstanding++;
    },
  };
  return watch;
}

t.test(
  'a round counts only the answer to a request sent once it began, not one a probe asked for before',
  async (t) => {
    const clock = new FakeClock();
    const watch = fakeWatch();
    const released: Release[] = [];
    const abort = new AbortController();
    t.teardown(() => abort.abort());
    const gate = new RevisionGate({
      revision: 10n,
      wholeOnArrival: false,
      watch,
      release: (r) => released.push(r),
      late: () => undefined,
      clock,
      signal: abort.signal,
    });
    gate.rebase(10n);
    // The stream's stale probe asked for progress a moment ago; its answer is still on the way.
    watch.progressOutstanding = 1;
    gate.receive([event('/a', 11n)]); // one range's part of revision 11: the gate asks (round 1 of 2)
    t.equal(watch.requests, 1);
    const answer = (revision: bigint): void => {
      watch.progressOutstanding--;
      gate.answer(revision);
    };
    answer(11n); // the probe's answer: made before the round began (it may run ahead of queued events)
    t.equal(watch.requests, 1, "the probe's answer does not count as round 1");
    gate.receive([event('/b', 11n)]); // the other range's part, queued behind the probe's answer
    answer(11n); // round 1's own answer
    t.equal(watch.requests, 2, 'round 2 asked');
    t.same(released, [], 'nothing released after one round');
    answer(11n);
    t.equal(released.length, 1, 'released after the second round');
    t.same(
      released[0]!.events.map((e) => e.key),
      ['/a', '/b'],
      'revision 11 whole: both ranges’ parts together',
    );
  },
);

t.test('without a count of outstanding requests (a fake feed), every answer counts, as before', async (t) => {
  const clock = new FakeClock();
  let requests = 0;
  const released: Release[] = [];
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const gate = new RevisionGate({
    revision: 10n,
    wholeOnArrival: false,
    watch: { requestProgress: () => void requests++ },
    release: (r) => released.push(r),
    late: () => undefined,
    clock,
    signal: abort.signal,
  });
  gate.rebase(10n);
  gate.receive([event('/a', 11n)]);
  gate.answer(11n);
  gate.answer(11n);
  t.equal(requests, 2);
  t.equal(released.length, 1);
});

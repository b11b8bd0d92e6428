/**
 * The apply guard's pure parts and its window (README "The apply guard"): which path a change takes, the
 * verdict, what is blamed, the keyspace overlay, the flags, and the settle window on fake time with fake BIRD edges.
 */
import t from 'tap';
import { parseGuardOptions } from '../../src/cli/guardOptions.js';
import type { GuardEdges } from '../../src/controller/edges.js';
import { classifyApply, formatApplyPathForDiff } from '../../src/controller/guard/applyPath.js';
import { blameEntries } from '../../src/controller/guard/blame.js';
import { DEFAULT_GUARD_SETTINGS } from '../../src/controller/guard/settings.js';
import { settleVerdict, type GuardSnapshot } from '../../src/controller/guard/settleVerdict.js';
import { SettleWindow } from '../../src/controller/guard/settleWindow.js';
import { keyspaceOverlay } from '../../src/model/keyspaceOverlay.js';
import { FakeClock, flush } from '../support/fakeClock.js';

const peer = (name: string, ip: string, as: string): string =>
  `protocol bgp ${name} from bgp_template {\n  neighbor ${ip} as ${as};\n}\n`;
const template = (localAs: string): string => `template bgp bgp_template {\n  local as ${localAs};\n}\n`;
const cfg = (...parts: string[]): string => `router id 10.0.0.1;\n${parts.join('')}`;

t.test('classification: adds and removals are fast; shared parts and changed sessions are guarded', async (t) => {
  const live = new Map([['bird.cfg', cfg(template('64512'), peer('Mesh_10_0_0_2', '10.0.0.2', '64512'))]]);
  const [add] = classifyApply(
    live,
    new Map([
      [
        'bird.cfg',
        cfg(template('64512'), peer('Mesh_10_0_0_2', '10.0.0.2', '64512'), peer('Mesh_10_0_0_3', '10.0.0.3', '64512')),
      ],
    ]),
  );
  t.equal(add!.path, 'fast', 'one peer added');
  const [remove] = classifyApply(live, new Map([['bird.cfg', cfg(template('64512'))]]));
  t.equal(remove!.path, 'fast', 'one peer removed');
  const [shared] = classifyApply(
    live,
    new Map([['bird.cfg', cfg(template('64999'), peer('Mesh_10_0_0_2', '10.0.0.2', '64512'))]]),
  );
  t.equal(shared!.path, 'guarded');
  t.same(shared!.reasons, ['bird.cfg: template bgp bgp_template']);
  const [asChange] = classifyApply(
    live,
    new Map([['bird.cfg', cfg(template('64512'), peer('Mesh_10_0_0_2', '10.0.0.2', '64999'))]]),
  );
  t.same([asChange!.path, asChange!.reasons], ['guarded', ['~Mesh_10_0_0_2']], "a peer's AS");
  const [initial] = classifyApply(new Map(), live);
  t.equal(initial!.path, 'fast', 'a first configuration has nothing to protect');
  const withAggr = new Map([...live, ['bird_aggr.cfg', 'protocol static {\n}\nfunction calico_aggr ()\n{\n}\n']]);
  const [block] = classifyApply(
    withAggr,
    new Map([
      ...live,
      [
        'bird_aggr.cfg',
        'protocol static {\n  route 192.168.1.0/26 blackhole;\n}\nfunction calico_aggr ()\n{\n  if ( net = 192.168.1.0/26 ) then { accept; }\n}\n',
      ],
    ]),
  );
  t.equal(block!.path, 'fast', 'a block assigned (or released) by IPAM');
  const [none] = classifyApply(live, live);
  t.equal(none!.path, 'none');
  t.match(formatApplyPathForDiff(shared!), /^apply path: guarded .*template bgp bgp_template/);
  t.equal(formatApplyPathForDiff(add!), 'apply path: fast (plain configure)');
});

const snap = (sessions: Record<string, [boolean, number | undefined]>): GuardSnapshot => ({
  sessions: new Map(
    Object.entries(sessions).map(([name, [established, exported]]) => [
      name,
      { established, state: established ? 'Established' : 'Active', exported },
    ]),
  ),
});

t.test('verdict: watched sessions must be Established again; exports must not fall past the threshold', async (t) => {
  const before = snap({ A: [true, 4], B: [true, 4], C: [false, undefined] });
  const th = { maxExportDropPercent: 50 };
  t.ok(settleVerdict(before, snap({ A: [true, 4], B: [true, 4], C: [false, 0] }), new Set(), th).ok, 'all back');
  const down = settleVerdict(before, snap({ A: [true, 4], B: [false, 0], C: [true, 1] }), new Set(), th);
  t.notOk(down.ok);
  t.same(down.down, [{ name: 'B', state: 'Active' }]);
  t.ok(settleVerdict(before, snap({ A: [true, 4] }), new Set(['B']), th).ok, 'a removed session is not expected back');
  const gone = settleVerdict(before, snap({ A: [true, 4] }), new Set(), th);
  t.same(gone.down, [{ name: 'B', state: 'gone' }], 'a session that vanished without being removed');
  t.ok(settleVerdict(before, snap({ A: [true, 4], B: [true, 0] }), new Set(), th).ok, 'exactly 50 % is allowed');
  const fell = settleVerdict(before, snap({ A: [true, 3], B: [true, 0] }), new Set(), th);
  t.notOk(fell.ok);
  t.match(fell.summary, /routes exported fell from 8 to 3/);
  t.notOk(settleVerdict(before, snap({ A: [true, 4], B: [true, 3] }), new Set(), { maxExportDropPercent: 0 }).ok);
  // The peer removed us during the window (its etcd changed): not this apply's fault, neither down nor a route drop.
  const deconfigured = snap({ A: [true, 4], B: [false, 0] });
  const b = deconfigured.sessions.get('B')!;
  const peerGone: GuardSnapshot = {
    sessions: new Map([
      ...deconfigured.sessions,
      ['B', { ...b, state: 'Active (Received: Peer de-configured)', peerDeconfigured: true }],
    ]),
  };
  const kept = settleVerdict(before, peerGone, new Set(), th);
  t.ok(kept.ok, 'a session its peer de-configured is not blamed on the apply');
  t.same(kept.down, []);
  t.notOk(
    settleVerdict(before, snap({ A: [true, 4], B: [false, 0] }), new Set(), th).ok,
    'down for any other reason is',
  );
});

t.test('blame: the entries whose rendered lines are new, not the sessions only added', async (t) => {
  const before = new Map([['bird.cfg', cfg(peer('Global_10_0_0_9', '10.0.0.9', '64513'))]]);
  const after = new Map([
    ['bird.cfg', cfg(peer('Global_10_0_0_9', '10.0.0.9', '64999'), peer('Mesh_10_0_0_3', '10.0.0.3', '64512'))],
  ]);
  const spans = [
    { file: 'bird.cfg', key: 'g', firstLine: 2, lastLine: 4, kind: 'entry' as const },
    { file: 'bird.cfg', key: 'm', firstLine: 5, lastLine: 7, kind: 'entry' as const },
    { file: 'bird.cfg', key: 'r', firstLine: 1, lastLine: 1, kind: 'entry' as const },
  ];
  t.same(
    blameEntries('bird', before, after, spans, ['Mesh_10_0_0_3'], () => true),
    ['g'],
  );
  t.same(
    blameEntries('bird', before, after, spans, [], () => true),
    ['g', 'm'],
  );
  t.same(
    blameEntries('bird', before, after, spans, [], (k) => k !== 'g'),
    ['m'],
    'keys not in the keyspace',
  );
  t.same(
    blameEntries('bird6', before, after, spans, [], () => true),
    [],
    "another daemon's files",
  );
  // A mesh peer's block is rendered from its host's address and AS: the one that changed is blamed.
  const mesh = [{ ...spans[0]!, key: 'host/n2/ip_addr_v4', alsoFrom: ['host/n2/as_num', 'global/as_num'] }];
  const blame = (changed: readonly string[], inKeyspace: (k: string) => boolean = () => true): string[] =>
    blameEntries('bird', before, after, mesh, [], inKeyspace, (k) => changed.includes(k));
  t.same(blame(['host/n2/as_num']), ['host/n2/as_num'], "the host's AS changed: it is blamed, not its address");
  t.same(blame(['global/as_num']), ['global/as_num'], 'the global AS changed');
  t.same(blame([]), ['host/n2/ip_addr_v4'], 'nothing known to have changed: the span’s own key');
  t.same(
    blame(['host/n2/as_num'], (k) => k !== 'host/n2/as_num'),
    ['host/n2/ip_addr_v4'],
    'a changed key no longer in the keyspace is not held',
  );
});

t.test('keyspace overlay: overridden values and left-out keys, read through otherwise', async (t) => {
  const base = new Map([
    ['a', '1'],
    ['b', '2'],
  ]);
  const view = keyspaceOverlay(
    base,
    new Map<string, string | undefined>([
      ['a', '0'],
      ['b', undefined],
      ['c', '3'],
    ]),
  );
  t.same([...view].sort(), [
    ['a', '0'],
    ['c', '3'],
  ]);
  t.equal(view.size, 2);
  t.equal(view.get('b'), undefined);
  t.notOk(view.has('b'));
  t.equal(keyspaceOverlay(base, new Map()), base, 'no overrides: the keyspace itself');
});

t.test('flags: validated at the boundary, naming the option', async (t) => {
  const ok = { guard: 'on', guardWindow: '30s', guardMaxRouteDrop: '50', guardMargin: '15s' };
  t.same(parseGuardOptions(ok), { ...DEFAULT_GUARD_SETTINGS });
  t.equal(parseGuardOptions({ ...ok, guard: 'OFF' }).enabled, false);
  t.equal(parseGuardOptions({ ...ok, guardMaxRouteDrop: '20%' }).maxExportDropPercent, 20);
  t.throws(() => parseGuardOptions({ ...ok, guard: 'maybe' }), /^--guard "maybe": expected on or off/);
  t.throws(() => parseGuardOptions({ ...ok, guardWindow: '0' }), /^--guard-window "0": out of range/);
  t.throws(() => parseGuardOptions({ ...ok, guardMaxRouteDrop: '101' }), /^--guard-max-route-drop "101"/);
  t.throws(() => parseGuardOptions({ ...ok, guardMargin: '1500ms' }), /^--guard-margin "1500ms": BIRD counts whole/);
});

t.test(
  'the settle window on fake time: held for the whole window, then judged; a shutdown cuts it short',
  async (t) => {
    const clock = new FakeClock();
    let after = snap({ A: [false, 0] });
    const calls: string[] = [];
    const edges: GuardEdges = {
      snapshot: () => {
        calls.push(`snapshot@${clock.time}`);
        return Promise.resolve(after);
      },
      configureTimeout: () => Promise.reject(new Error('unused')),
      confirm: () => Promise.resolve({ outcome: 'confirmed', message: '0018' }),
      undo: () => Promise.resolve({ outcome: 'reverted', message: '0003' }),
      status: () => Promise.reject(new Error('unused')),
    };
    const guard = new SettleWindow({ ...DEFAULT_GUARD_SETTINGS, windowMs: 10_000 }, edges, clock);
    t.equal(guard.timeoutS, 25, 'BIRD reverts by itself at window + margin');
    let ticks = 0;
    const before = snap({ A: [true, 2] });
    const settling = guard.settle({ daemon: 'bird', before, removed: new Set(), tick: () => ticks++ });
    await clock.advance(9_000);
    after = snap({ A: [true, 2] }); // the session came back before the window's end
    t.same(calls, [], 'nothing judged inside the window');
    await clock.advance(1_000);
    const outcome = await settling;
    t.equal(outcome.kind, 'verdict');
    t.ok(outcome.kind === 'verdict' && outcome.verdict.ok, 'judged on the state at the end of the window');
    t.equal(outcome.settleMs, 10_000);
    t.equal(ticks, 10, 'the heartbeat ticks every second');
    t.same(calls, ['snapshot@10000']);

    const abort = new AbortController();
    const cut = guard.settle({ daemon: 'bird', before, removed: new Set(), signal: abort.signal });
    await clock.advance(3_000);
    abort.abort();
    await flush();
    t.same(await cut, { kind: 'interrupted', settleMs: 3_000 });

    calls.length = 0;
    const gone = await guard.settle({ daemon: 'bird', before, removed: new Set(['A']) });
    t.match(gone, { kind: 'verdict', settleMs: 0 }, 'the change removes every Established session: judged at once');
    t.same(calls, ['snapshot@13000']);

    after = snap({ A: [false, 0] });
    t.equal(await guard.before('bird'), undefined, 'nothing Established: nothing to protect (fast path)');
    after = snap({ A: [true, 1] });
    t.ok(await guard.before('bird'), 'an Established session: guarded');
  },
);

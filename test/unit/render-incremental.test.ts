import fc from 'fast-check';
import t from 'tap';
import { parseBirdVersionOption } from '../../src/bird/birdVersion.js';
import { nodeRole, type RenderOutcome, type RoleSession } from '../../src/controller/roleRenderer.js';
import { buildNodeModel } from '../../src/model/buildNodeModel.js';
import { IncrementalNodeModel } from '../../src/model/incrementalNodeModel.js';
import { keys } from '../../src/model/keys.js';
import { ChangeTrackedMap, RenderedKeyspaceChanges } from '../../src/model/keyspaceChanges.js';
import { keyspaceOverlay } from '../../src/model/keyspaceOverlay.js';
import { keyspaceWithout } from '../../src/model/keyspaceView.js';
import { derivationOf } from '../../src/model/listEdits.js';
import type { NodeModel } from '../../src/model/nodeModel.js';
import { entryAt, type RenderedConfig } from '../../src/render/fileSet.js';
import { BIRD2_NODE_LAYOUT } from '../../src/render/layouts.js';
import { renderBird2FileSet } from '../../src/render/renderBird2FileSet.js';
import { renderFileSet } from '../../src/render/renderFileSet.js';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { compileTemplateSet, type CompiledTemplateSet } from '../../src/render/templateSet.js';

/**
 * A long-lived renderer (what `run` keeps: it reuses what an earlier render worked out) against a fresh one
 * (a full render from nothing) after every step of random keyspace changes: puts, deletes, bad values and
 * quarantined keys. Files, spans (where a BIRD error is blamed), diagnostics, protocols and the summary must
 * be identical, or both must refuse the node with the same message.
 */
const SELF = 'node-a';
const sources = await loadTemplateSources();
const fresh = (): CompiledTemplateSet => compileTemplateSet(sources);
// Full renders share one compiled set: a fresh role makes fresh model objects, so nothing is reused across them.
const fullTemplates = fresh();

const HOSTS = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e', 'node-f', 'bad_Name'];
const V4 = ['10.0.0.1', '10.0.0.2', '10.0.0.10', '10.0.1.5', '192.168.7.9', '0.0.0.0', 'fe80::1', '10.0.0.300', ''];
const V6 = ['2001:db8::1', '2001:db8::2', 'fe80::1', '2001:db8::a', '10.0.0.1', ''];
const AS = ['64512', '64513', '1.10', 'seventy', '4294967296', ''];
const PEER_IP4 = ['10.0.0.2', '10.9.0.1', '10.0.0.1'];

const keyArb = fc.oneof(
  fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom(4, 6)).map(([h, f]) => keys.hostAddress(h, f)),
  fc.constantFrom(...HOSTS).map((h) => keys.hostAsNumber(h)),
  fc.constantFrom(keys.globalAsNumber, keys.nodeMesh, keys.globalLogLevel, keys.hostLogLevel(SELF)),
  fc.constantFrom(...PEER_IP4).map((ip) => keys.globalPeer(4, ip)),
  fc.constantFrom(...PEER_IP4).map((ip) => keys.hostPeer(SELF, 4, ip)),
  fc.constantFrom('192.168.0.0/16', '10.244.0.0/16').map((c) => keys.pool(4, c)),
  fc.constantFrom('192.168.0.0/26', '192.168.0.64/26').map((c) => keys.block(SELF, 4, c)),
  fc.constantFrom('f1', 'f2').map((n) => keys.customFilter(4, n)),
  fc.constantFrom('10.0.0.2', '10.0.0.10').map((ip) => keys.routeReflector(4, ip)),
);

function valueArb(key: string): fc.Arbitrary<string> {
  if (key.endsWith('/ip_addr_v4')) return fc.constantFrom(...V4);
  if (key.endsWith('/ip_addr_v6')) return fc.constantFrom(...V6);
  if (key.endsWith('/as_num')) return fc.constantFrom(...AS);
  if (key.endsWith('/node_mesh')) return fc.constantFrom('{"enabled":true}', '{"enabled":false}', 'nope');
  if (key.endsWith('/loglevel')) return fc.constantFrom('info', 'debug', 'none', 'loud');
  if (key.includes('/peer_v4/'))
    return fc.constantFrom(...AS).map((as) => JSON.stringify({ ip: key.slice(key.lastIndexOf('/') + 1), as_num: as }));
  if (key.includes('/pool/'))
    return fc.constantFrom('{"cidr":"192.168.0.0/16"}', '{"cidr":"10.244.0.0/16","ipip":"tunl0"}', '{}', 'x');
  if (key.includes('/block/')) return fc.constant('{}');
  if (key.includes('/custom_filters/')) return fc.constantFrom('  if net ~ 10.0.0.0/8 then accept;', '}', '');
  if (key.includes('/rr_v4/'))
    return fc.constantFrom('{"ip":"10.0.0.2","cluster_id":"1.0.0.1"}', '{"ip":"10.0.0.10"}', 'junk');
  return fc.string();
}

type Step =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'delete'; key: string }
  | { kind: 'quarantine'; picks: number[] };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: keyArb.chain((key) => valueArb(key).map((value): Step => ({ kind: 'put', key, value }))) },
  { weight: 3, arbitrary: keyArb.map((key): Step => ({ kind: 'delete', key })) },
  { weight: 1, arbitrary: fc.array(fc.nat(), { maxLength: 2 }).map((picks): Step => ({ kind: 'quarantine', picks })) },
);

type Rendered = { ok: true; outcome: RenderOutcome } | { ok: false; message: string };

function render(
  role: Pick<RoleSession, 'render'>,
  keyspace: ReadonlyMap<string, string>,
  templates: CompiledTemplateSet,
): Rendered {
  try {
    return { ok: true, outcome: role.render(keyspace, templates) };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

const comparable = (r: Rendered): unknown =>
  r.ok
    ? {
        files: [...r.outcome.files],
        spans: r.outcome.spans(),
        diagnostics: r.outcome.diagnostics,
        summary: r.outcome.summary,
        ipipPools: r.outcome.ipipPools,
      }
    : r.message;

function initialKeyspace(): Map<string, string> {
  const keyspace = new Map<string, string>([
    [keys.globalAsNumber, '64511'],
    [keys.pool(4, '192.168.0.0/16'), '{"cidr":"192.168.0.0/16"}'],
    [keys.block(SELF, 4, '192.168.0.0/26'), '{}'],
  ]);
  ['node-a', 'node-b', 'node-c', 'node-d'].forEach((h, i) => {
    keyspace.set(keys.hostAddress(h, 4), `10.0.0.${i + 1}`);
    keyspace.set(keys.hostAddress(h, 6), `2001:db8::${i + 1}`);
  });
  return keyspace;
}

t.test('a long-lived renderer gives exactly what a full render gives, after any sequence of changes', (t) => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => {
      const keyspace = initialKeyspace();
      const longLived = nodeRole(SELF, 'off').session();
      const templates = fresh();
      let quarantined = new Set<string>();
      for (const step of steps) {
        if (step.kind === 'put') keyspace.set(step.key, step.value);
        else if (step.kind === 'delete') keyspace.delete(step.key);
        else {
          const present = [...keyspace.keys()];
          quarantined = new Set(step.picks.map((i) => present[i % present.length]!));
        }
        const view = keyspaceWithout(keyspace, quarantined);
        const incremental = comparable(render(longLived, view, templates));
        const full = comparable(render(nodeRole(SELF, 'off'), view, fullTemplates));
        if (JSON.stringify(incremental) !== JSON.stringify(full)) {
          t.same(incremental, full, `after ${JSON.stringify(steps)}`);
          return false;
        }
      }
      return true;
    }),
    { numRuns: 200, seed: 14_03 },
  );
  t.pass('200 random sequences');
  t.end();
});

t.test("a session's changed keys count from its own last render: other renders of the role do not touch it", (t) => {
  // What a check beside the run loop does (the lab's convergence check renders what etcd holds now with the run
  // loop's role): the role renders another keyspace between two of the session's renders.
  const live = new ChangeTrackedMap();
  for (const [key, value] of initialKeyspace()) live.set(key, value);
  const role = nodeRole(SELF, 'off');
  const session = role.session();
  const changes = new RenderedKeyspaceChanges();
  const templates = fresh();
  session.render(live, templates, changes.take(live, new Set(), new Map()));
  const elsewhere = initialKeyspace();
  for (const h of ['node-b', 'node-c', 'node-d']) elsewhere.delete(keys.hostAddress(h, 4));
  t.notMatch(role.render(elsewhere, templates).files.get('bird.cfg')!, /Mesh_10_0_0_3/, 'the other render');
  live.set(keys.hostAddress('node-e', 4), '10.0.0.5');
  const after = session.render(live, templates, changes.take(live, new Set(), new Map()));
  t.equal(after.files.get('bird.cfg'), role.render(live, fullTemplates).files.get('bird.cfg'));
  t.match(after.files.get('bird.cfg')!, /Mesh_10_0_0_3 /, "the peers the other render lacked are the session's still");
  t.end();
});

t.test('a peer changed in place is rendered again, not reused (the check above can fail)', (t) => {
  const keyspace = initialKeyspace();
  const role = nodeRole(SELF, 'off').session();
  const templates = fresh();
  const before = role.render(keyspace, templates).files.get('bird.cfg')!;
  t.match(before, /protocol bgp Mesh_10_0_0_2 from bgp_template \{\n {2}neighbor 10\.0\.0\.2 as 64511;/);
  keyspace.set(keys.hostAsNumber('node-b'), '64999');
  const after = role.render(keyspace, templates).files.get('bird.cfg')!;
  t.match(after, /neighbor 10\.0\.0\.2 as 64999;/);
  t.equal(
    after,
    render(nodeRole(SELF, 'off'), keyspace, fresh()).ok ? role.render(keyspace, fresh()).files.get('bird.cfg') : '',
  );
  t.end();
});

t.test('quarantine still finds the entry behind a line after incremental renders', (t) => {
  const keyspace = initialKeyspace();
  const role = nodeRole(SELF, 'off').session();
  const templates = fresh();
  role.render(keyspace, templates);
  keyspace.set(keys.hostAddress('node-e', 4), '10.0.0.77');
  const outcome = role.render(keyspace, templates);
  const lines = outcome.files.get('bird.cfg')!.split('\n');
  const line = lines.findIndex((l) => l.startsWith('protocol bgp Mesh_10_0_0_77 ')) + 1;
  t.ok(line > 0);
  t.equal(entryAt(outcome.spans(), 'bird.cfg', line + 1)?.key, keys.hostAddress('node-e', 4));
  t.end();
});

t.test('a render names the files that changed since the previous one, and keeps the earlier text of the rest', (t) => {
  const keyspace = initialKeyspace();
  const role = nodeRole(SELF, 'off').session();
  const templates = fresh();
  const first = role.render(keyspace, templates);
  t.equal(first.changedFiles, undefined, 'nothing to compare the first render with');
  keyspace.set(keys.hostAddress('node-e', 4), '10.0.0.77');
  const second = role.render(keyspace, templates);
  t.same([...second.changedFiles!], ['bird.cfg']);
  t.equal(second.files.get('bird6.cfg'), first.files.get('bird6.cfg'));
  keyspace.set(keys.hostAddress('node-e', 6), '2001:db8::77');
  t.same([...role.render(keyspace, templates).changedFiles!], ['bird6.cfg']);
  t.same([...role.render(keyspace, templates).changedFiles!], [], 'the same keyspace again: nothing changed');
  t.end();
});

// ---------------------------------------------------------------------------------------------------------------
// The changed-keys path `run` takes: the live map's change log (ChangeTrackedMap), the quarantined keys left out
// and held entries at their earlier value (RenderedKeyspaceChanges), the model updated by the changed keys alone
// (IncrementalNodeModel) and the templates re-rendering only the blocks the model's list edits touch; for the
// BIRD 1.6 and the BIRD 2/3 templates alike, against a full build from nothing after every step.

const PEER_IP6 = ['2001:db8::2', '2001:db8::99', '2001:db8::1'];
const HOSTS_WIDE = [...HOSTS, 'node-g', 'node-h'];
const wideKeyArb = fc.oneof(
  keyArb,
  fc.tuple(fc.constantFrom(...HOSTS_WIDE), fc.constantFrom(4, 6)).map(([h, f]) => keys.hostAddress(h, f)),
  fc.constantFrom(...PEER_IP6).map((ip) => keys.globalPeer(6, ip)),
  fc.constantFrom(...PEER_IP6).map((ip) => keys.hostPeer(SELF, 6, ip)),
  fc.constantFrom('10.0.0.0/24', '').map(() => keys.hostNetwork(SELF)),
  fc.constantFrom('2001:db8::2', '2001:db8::a').map((ip) => keys.routeReflector(6, ip)),
  fc.constantFrom('node-b', 'node-c').map((h) => keys.hostLogLevel(h)),
);

function wideValueArb(key: string): fc.Arbitrary<string> {
  if (key.includes('/peer_v6/'))
    return fc.constantFrom(...AS).map((as) => JSON.stringify({ ip: key.slice(key.lastIndexOf('/') + 1), as_num: as }));
  if (key.endsWith('/network_v4')) return fc.constantFrom('10.0.0.0/24', '10.0.0.0/8', 'x', '');
  if (key.includes('/rr_v6/')) return fc.constantFrom('{"ip":"2001:db8::2"}', 'junk');
  if (key.includes('/pool/'))
    return fc.constantFrom(
      '{"cidr":"192.168.0.0/16"}',
      '{"cidr":"10.244.0.0/16","ipip":"tunl0","ipip_mode":"cross-subnet"}',
      '{"cidr":"192.168.0.0/16","ipip":"tunl0"}',
      'x',
    );
  return valueArb(key);
}

type BatchStep =
  | { kind: 'writes'; writes: { key: string; value: string | undefined }[] }
  | { kind: 'quarantine'; picks: number[] }
  | { kind: 'hold'; picks: number[]; values: (string | undefined)[] };

const writeArb = wideKeyArb.chain((key) =>
  fc.oneof(
    { weight: 3, arbitrary: wideValueArb(key).map((value) => ({ key, value: value })) },
    { weight: 1, arbitrary: fc.constant({ key, value: undefined as string | undefined }) },
  ),
);
const batchArb: fc.Arbitrary<BatchStep> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(writeArb, { minLength: 1, maxLength: 4 })
      .map((writes): BatchStep => ({ kind: 'writes', writes })),
  },
  {
    weight: 1,
    arbitrary: fc.array(fc.nat(), { maxLength: 2 }).map((picks): BatchStep => ({ kind: 'quarantine', picks })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.array(fc.nat(), { maxLength: 2 }),
        fc.array(fc.constantFrom('10.0.0.9', '64600', undefined), { maxLength: 2 }),
      )
      .map(([picks, values]): BatchStep => ({ kind: 'hold', picks, values })),
  },
);

const bird2FullTemplates = compileTemplateSet(sources, BIRD2_NODE_LAYOUT);
const bird3 = (() => {
  const parsed = parseBirdVersionOption('3.3.2');
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
})();

type Dialect = 'bird1' | 'bird2';
const serialized = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
const renderModel = (dialect: Dialect, model: NodeModel, templates: CompiledTemplateSet): RenderedConfig =>
  dialect === 'bird1'
    ? renderFileSet(model, templates, { ipip: 'krt-tunnel' })
    : renderBird2FileSet(model, templates, { ipip: 'onlink', bird: bird3 });

function outcomeOf(build: () => NodeModel, dialect: Dialect, templates: CompiledTemplateSet): unknown {
  try {
    const model = build();
    const rendered = renderModel(dialect, model, templates);
    return { files: [...rendered.files], spans: rendered.spans(), diagnostics: model.diagnostics, model };
  } catch (error) {
    return (error as Error).message;
  }
}

for (const dialect of ['bird1', 'bird2'] as const) {
  t.test(`${dialect}: the changed-keys path gives exactly a full build, after any sequence of changes`, (t) => {
    let incrementalSteps = 0;
    let steps = 0;
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 5, maxLength: 30 }), (batches) => {
        const live = new ChangeTrackedMap();
        for (const [key, value] of initialKeyspace()) live.set(key, value);
        const changes = new RenderedKeyspaceChanges();
        const model = new IncrementalNodeModel(SELF);
        const templates = dialect === 'bird1' ? fresh() : compileTemplateSet(sources, BIRD2_NODE_LAYOUT);
        let quarantined = new Set<string>();
        let held = new Map<string, string | undefined>();
        for (const step of batches) {
          const present = [...live.keys()];
          if (step.kind === 'writes')
            for (const { key, value } of step.writes) {
              if (value === undefined) live.delete(key);
              else live.set(key, value);
            }
          else if (step.kind === 'quarantine')
            quarantined = new Set(step.picks.map((i) => present[i % present.length]!));
          else held = new Map(step.picks.map((i, n) => [present[i % present.length]!, step.values[n]]));
          const view = keyspaceOverlay(keyspaceWithout(live, quarantined), held);
          const changed = changes.take(live, quarantined, held);
          const incremental = outcomeOf(() => model.build(view, changed), dialect, templates);
          steps++;
          if (model.lastBuild === 'changes') incrementalSteps++;
          const full = outcomeOf(
            () => buildNodeModel(view, { nodeName: SELF }),
            dialect,
            dialect === 'bird1' ? fullTemplates : bird2FullTemplates,
          );
          if (serialized(incremental) !== serialized(full)) {
            t.same(incremental, full, `after ${JSON.stringify(batches)}`);
            return false;
          }
        }
        return true;
      }),
      { numRuns: 300, seed: 23_01 },
    );
    // Global settings and this node's own addresses rebuild everything; most steps must not.
    t.ok(
      incrementalSteps > steps / 2,
      `${incrementalSteps} of ${steps} builds took the changed keys alone (not a build from the index)`,
    );
    t.end();
  });
}

t.test(
  'a one-host change at 2,000 nodes edits the peer list, its view and its block; nothing else is made again',
  (t) => {
    const live = new ChangeTrackedMap();
    for (const [key, value] of initialKeyspace()) live.set(key, value);
    for (let i = 0; i < 2000; i++) live.set(keys.hostAddress(`host-${i}`, 4), `10.1.${i >> 8}.${i & 255}`);
    const changes = new RenderedKeyspaceChanges();
    const role = nodeRole(SELF, 'off').session();
    const templates = fresh();
    const first = role.render(live, templates, changes.take(live, new Set(), new Map()));
    live.set(keys.hostAddress('host-7', 4), '10.2.0.7');
    const changed = changes.take(live, new Set(), new Map());
    t.same([...changed!], [keys.hostAddress('host-7', 4)], 'the live map names the one key written');
    const second = role.render(live, templates, changed);
    t.not(second.files.get('bird.cfg'), first.files.get('bird.cfg'));
    t.equal(
      second.files.get('bird.cfg'),
      renderFileSet(buildNodeModel(live, { nodeName: SELF }), fullTemplates, { ipip: 'off' }).files.get('bird.cfg'),
    );

    const model = new IncrementalNodeModel(SELF);
    const before = model.build(live, undefined).v4.peers;
    live.set(keys.hostAddress('host-8', 4), '10.2.0.8');
    const after = model.build(live, new Set([keys.hostAddress('host-8', 4)])).v4.peers;
    t.equal(model.lastBuild, 'changes');
    const derivation = derivationOf(after);
    t.equal(derivation?.from, before, 'the new peer list is made from the last one');
    t.equal(derivation?.edits.length, 2, 'by one removal and one insertion');
    t.equal(
      after.filter((p) => !before.includes(p)).length,
      1,
      'every other peer is the same object (its view and text are reused)',
    );
    t.end();
  },
);

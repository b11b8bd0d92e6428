import fc from 'fast-check';
import t from 'tap';
import { nodeRole, type RenderOutcome, type RoleRenderer } from '../../src/controller/roleRenderer.js';
import { keys } from '../../src/model/keys.js';
import { keyspaceWithout } from '../../src/model/keyspaceView.js';
import { entryAt } from '../../src/render/fileSet.js';
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

function render(role: RoleRenderer, keyspace: ReadonlyMap<string, string>, templates: CompiledTemplateSet): Rendered {
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
      const longLived = nodeRole(SELF, 'off');
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

t.test('a peer changed in place is rendered again, not reused (the check above can fail)', (t) => {
  const keyspace = initialKeyspace();
  const role = nodeRole(SELF, 'off');
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
  const role = nodeRole(SELF, 'off');
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
  const role = nodeRole(SELF, 'off');
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

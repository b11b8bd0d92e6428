import t from 'tap';
import { parseBirdVersionOption, type BirdVersion } from '../../src/bird/birdVersion.js';
import { buildNodeModel } from '../../src/model/buildNodeModel.js';
import { encodePeer } from '../../src/model/encodings.js';
import { NodeConfigError } from '../../src/model/errors.js';
import { keys } from '../../src/model/keys.js';
import { splitStatements } from '../../src/render/configBlocks.js';
import { entryAt } from '../../src/render/fileSet.js';
import type { IpipRendering } from '../../src/render/ipipMode.js';
import { BIRD2_NODE_LAYOUT } from '../../src/render/layouts.js';
import { renderBird2FileSet } from '../../src/render/renderBird2FileSet.js';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import { loadScenario } from '../support/fixtures.js';

/**
 * The BIRD 2/3 rendering's own rules (README "What is rendered"; ../shared/reference/bird2.md's traps): one file
 * namespace for both families, explicit channels, kernel `metric 0`, no `listen bgp`, IPIP through `onlink` only
 * where the BIRD has it, and the quarantine's map from lines back to datastore keys.
 */
const templates = compileTemplateSet(await loadTemplateSources(), BIRD2_NODE_LAYOUT);
const bird = (text: string): BirdVersion => {
  const parsed = parseBirdVersionOption(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

/** seed-tutorial with both families, a peer of each kind, and the same custom filter body in v4 and v6. */
function keyspace(): Map<string, string> {
  const k = loadScenario('seed-tutorial').keyspace;
  k.set(keys.hostAddress('calico-01', 6), 'fd80:24e2:f998:72d7::1');
  k.set(keys.hostAddress('calico-02', 6), 'fd80:24e2:f998:72d7::2');
  k.set(keys.globalPeer(4, '172.17.8.1'), encodePeer('172.17.8.1', 64567));
  k.set(keys.hostPeer('calico-01', 6, 'fd80:24e2:f998:72d7::99'), encodePeer('fd80:24e2:f998:72d7::99', 64568));
  k.set(keys.customFilter(4, 'same'), 'if net.len > 30 then reject;');
  k.set(keys.customFilter(6, 'same'), 'if net.len > 30 then reject;');
  k.set(keys.customFilter(6, 'v6only'), 'if net ~ fd00:dead::/32 then reject;');
  k.set('/calico/v1/ipam/v6/pool/fd00:1::-64', JSON.stringify({ cidr: 'fd00:1::/64' }));
  k.set('/calico/ipam/v2/host/calico-01/ipv6/block/fd00:1::-122', '{}');
  k.set(keys.hostNetwork('calico-01'), '172.17.8.0/24');
  k.set(
    keys.pool(4, '192.168.0.0/16'),
    JSON.stringify({ cidr: '192.168.0.0/16', ipip: 'tunl0', ipip_mode: 'cross-subnet' }),
  );
  return k;
}

const render = (ipip: IpipRendering = 'off', version = '3.3.2') =>
  renderBird2FileSet(buildNodeModel(keyspace(), { nodeName: 'calico-01' }), templates, { ipip, bird: bird(version) });

t.test('one daemon’s files, no name of BIRD 1.6’s bird6', async (t) => {
  t.same([...render().files.keys()], ['bird_aggr.cfg', 'custom_filters.cfg', 'bird_ipam.cfg', 'bird.cfg']);
});

t.test('one namespace: every name is defined once across both families', async (t) => {
  const names: string[] = [];
  for (const [file, text] of render('onlink').files)
    for (const s of splitStatements(text)) {
      const m = /^(filter|function|template bgp|protocol \w+)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(s.text);
      if (m) names.push(`${m[2]} (${file})`);
    }
  const bare = names.map((n) => n.split(' ')[0]);
  t.same(
    bare.filter((n, i) => bare.indexOf(n) !== i),
    [],
    `no duplicates among ${names.length} names`,
  );
  t.ok(bare.includes('custom_filters_v4') && bare.includes('custom_filters_v6'), 'each family its own functions');
});

t.test('channels always explicit; kernel metric 0; no listen bgp', async (t) => {
  const statements = [...render().files.values()].flatMap((text) => splitStatements(text).map((s) => s.text));
  const kinds = (re: RegExp) => statements.filter((s) => re.test(s));
  for (const s of kinds(/^protocol (kernel|static|direct)\b|^template bgp /))
    t.match(s, /\bipv[46]\b/, `${s.slice(0, 30)}…: has its channel`);
  t.match(kinds(/^protocol direct/)[0], /ipv4; ipv6;/, 'direct: both families');
  const kernels = kinds(/^protocol kernel/);
  t.equal(kernels.length, 2, 'one kernel protocol per table');
  for (const k of kernels) t.match(k, /metric 0;/, 'metric 0, as BIRD 1.6 (2.x defaults to 32)');
  for (const k of kernels) t.match(k, /learn;/);
  for (const tpl of kinds(/^template bgp/)) {
    t.match(tpl, /import (filter \w+|all);/, 'explicit import (RFC 8212 makes it an error on eBGP)');
    t.match(tpl, /export filter calico_pools_v[46];/, 'explicit export');
    t.match(tpl, /gateway recursive;/);
    t.match(tpl, /next hop self;/);
  }
  t.notOk(
    statements.some((s) => /listen bgp/.test(s)),
    'BIRD 2 has no listen bgp',
  );
  for (const p of kinds(/^protocol bgp/)) {
    const family = /neighbor [0-9a-f]*:/.test(p) ? 'v6' : 'v4';
    t.match(p, new RegExp(`from bgp_template_${family} `), `${p.slice(0, 40)}…: its family’s template`);
  }
});

t.test('IPIP: onlink in the BGP import filter where BIRD has it; a clear error where not', async (t) => {
  const ipam = render('onlink').files.get('bird_ipam.cfg')!;
  t.match(
    ipam,
    'if ! ( bgp_next_hop ~ 172.17.8.0/24 ) then { ifname = "tunl0"; onlink = true; gw = bgp_next_hop; onlink = true; }',
    'cross-subnet: the tunnel only for next hops outside the node’s subnet',
  );
  t.notMatch(render('off').files.get('bird_ipam.cfg')!, /onlink = true/, '--ipip off: routed natively');
  for (const [ipip, version] of [
    ['onlink', '3.1.0'],
    ['onlink', '3.0.2'],
    ['onlink', '2.0.11'],
    ['krt-tunnel', '2.0.12'],
  ] as const) {
    let error: unknown;
    try {
      render(ipip, version);
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof NodeConfigError, `${ipip} on ${version}: the node’s error`);
    if (error instanceof NodeConfigError) {
      t.equal(error.key, '/calico/v1/ipam/v4/pool/192.168.0.0-16', 'it names the pool’s key');
      t.match(error.message, version, 'and the version');
      t.match(error.message, '--ipip off', 'and what to do');
    }
  }
  t.doesNotThrow(() => render('onlink', '2.0.12'));
});

t.test('entry spans: each line back to its key, in a file holding both families', async (t) => {
  const rendered = render();
  const spans = rendered.spans();
  const keyAt = (file: string, pattern: RegExp, nth = 0): string | undefined => {
    const lines = rendered.files.get(file)!.split('\n');
    const found = lines.flatMap((l, i) => (pattern.test(l) ? [i + 1] : []));
    t.ok(found.length > nth, `${pattern} in ${file}`);
    return entryAt(spans, file, found[nth]!)?.key;
  };
  t.equal(keyAt('bird.cfg', /neighbor 172\.17\.8\.102 /), keys.hostAddress('calico-02', 4), 'v4 mesh session');
  t.equal(keyAt('bird.cfg', /neighbor fd80:24e2:f998:72d7::2 /), keys.hostAddress('calico-02', 6), 'v6 mesh session');
  t.equal(keyAt('bird.cfg', /neighbor 172\.17\.8\.1 as/), keys.globalPeer(4, '172.17.8.1'), 'global peer');
  t.equal(
    keyAt('bird.cfg', /neighbor fd80:24e2:f998:72d7::99 /),
    keys.hostPeer('calico-01', 6, 'fd80:24e2:f998:72d7::99'),
    'node-specific v6 peer',
  );
  t.equal(keyAt('bird.cfg', /^router id /), keys.hostAddress('calico-01', 4), 'router id');
  t.equal(keyAt('bird.cfg', /source address 172\.17\.8\.101/), keys.hostAddress('calico-01', 4), 'v4 source address');
  t.equal(
    keyAt('bird.cfg', /source address fd80:/),
    keys.hostAddress('calico-01', 6),
    'v6 source address: its own key',
  );
  t.equal(keyAt('bird_ipam.cfg', /net ~ 192\.168\.0\.0\/16/), keys.pool(4, '192.168.0.0/16'), 'v4 pool');
  t.equal(keyAt('bird_ipam.cfg', /net ~ fd00:1::\/64/), keys.pool(6, 'fd00:1::/64'), 'v6 pool');
  t.equal(
    keyAt('bird_aggr.cfg', /route fd00:1::\/122 blackhole/),
    keys.block('calico-01', 6, 'fd00:1::/122'),
    'v6 block',
  );
  t.equal(keyAt('custom_filters.cfg', /net\.len > 30/, 0), keys.customFilter(4, 'same'), 'v4 filter');
  t.equal(keyAt('custom_filters.cfg', /net\.len > 30/, 1), keys.customFilter(6, 'same'), 'the same body in v6: v6 key');
  t.equal(keyAt('bird.cfg', /^protocol kernel kernel4/), undefined, 'template lines: no entry');
});

t.test('byte-stable: the same keyspace in another order renders the same bytes', async (t) => {
  const model = (k: Map<string, string>) => buildNodeModel(k, { nodeName: 'calico-01' });
  const opts = { ipip: 'onlink' as const, bird: bird('2.0.12') };
  t.same(
    renderBird2FileSet(model(new Map([...keyspace()].reverse())), templates, opts).files,
    renderBird2FileSet(model(keyspace()), templates, opts).files,
  );
});

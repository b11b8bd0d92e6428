import t from 'tap';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { buildNodeModel } from '../src/model/buildNodeModel.js';
import { keys } from '../src/model/keys.js';
import { renderFileSet } from '../src/render/renderFileSet.js';
import { compileTemplateSet } from '../src/render/templateSet.js';
import { birdAccepts } from './support/birdCheck.js';

// A bad optional field costs that field, not the entry: the pool is still exported (its workloads keep their
// routes), the diagnostic (`defaulted`) names the key and the field. Required fields still refuse the entry.

const base = (): Map<string, string> =>
  new Map([
    [keys.hostAddress('me', 4), '10.0.0.1'],
    [keys.hostAddress('me', 6), '2001:db8::1'],
    [keys.hostAddress('other', 4), '10.0.0.2'],
  ]);

const POOLS: readonly [
  family: 4 | 6,
  cidr: string,
  fields: Record<string, unknown>,
  reason: RegExp,
  ipip: string | undefined,
][] = [
  [
    4,
    '10.1.0.0/16',
    { ipip: 'tun"0' },
    /^"ipip": interface name must be .*; the pool is kept without IPIP \(routed natively\)$/,
    undefined,
  ],
  [4, '10.2.0.0/16', { ipip: 5 }, /^"ipip": must be an interface name string; /, undefined],
  [6, 'fd00:3::/48', { ipip: 'tunl0' }, /^"ipip": is IPv4 only; the pool is kept without IPIP/, undefined],
  [
    4,
    '10.4.0.0/16',
    { ipip: 'tunl0', ipip_mode: 'never' },
    /^"ipip_mode" must be "always" or "cross-subnet"; the pool is kept with IPIP mode always$/,
    'tunl0',
  ],
  [
    4,
    '10.5.0.0/16',
    { masquerade: 'yes' },
    /^"masquerade" must be true or false; the field is ignored \(the pool is kept\)$/,
    undefined,
  ],
  [6, 'fd00:6::/48', { disabled: 1 }, /^"disabled" must be true or false; /, undefined],
  [4, '10.7.0.0/16', { ipam: null }, /^"ipam" must be true or false; /, undefined],
];

t.test('pools: each bad optional field is dropped with a diagnostic, the pool is exported', async (t) => {
  const keyspace = base();
  for (const [f, cidr, fields] of POOLS) keyspace.set(keys.pool(f, cidr), JSON.stringify({ cidr, ...fields }));
  keyspace.set(keys.pool(4, '10.8.0.0/16'), JSON.stringify({ cidr: '10.9.0.0/16', masquerade: 'yes' }));
  const model = buildNodeModel(keyspace, { nodeName: 'me' });
  for (const [f, cidr, , reason, ipip] of POOLS) {
    const key = keys.pool(f, cidr);
    const pool = (f === 4 ? model.v4 : model.v6).pools.find((p) => p.cidr.text === cidr);
    t.ok(pool, `${cidr} is kept`);
    t.equal(pool?.ipipInterface, ipip, `${cidr}: ipip ${ipip ?? 'none'}`);
    t.match(
      model.diagnostics.filter((d) => d.key === key),
      [{ action: 'defaulted', reason }],
      `${key}: one defaulted diagnostic`,
    );
  }
  t.match(
    model.diagnostics.find((d) => d.key === keys.pool(4, '10.8.0.0/16')),
    { action: 'skipped', reason: /does not match the key/ },
    'a bad required field still skips the pool',
  );
  const templates = compileTemplateSet(await loadTemplateSources());
  for (const ipip of ['off', 'krt-tunnel'] as const) {
    const files = renderFileSet(model, templates, { ipip }).files;
    for (const [f, cidr] of POOLS)
      t.match(
        files.get(f === 4 ? 'bird_ipam.cfg' : 'bird6_ipam.cfg'),
        `if ( net ~ ${cidr} ) then {`,
        `${cidr} exported (${ipip})`,
      );
    t.notOk(
      [...files.values()].some((c) => c.includes('tun"0')),
      'the dropped value appears nowhere',
    );
    if (ipip === 'off') t.same(await birdAccepts(files), [], 'bird -p and bird6 -p accept it');
  }
});

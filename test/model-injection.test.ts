import t from 'tap';
import { buildNodeModel } from '../src/model/buildNodeModel.js';
import { keys } from '../src/model/keys.js';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { renderFileSet } from '../src/render/renderFileSet.js';
import { compileTemplateSet } from '../src/render/templateSet.js';
import { birdAccepts } from './support/birdCheck.js';

// Fragments that would change BIRD's configuration if any of them reached it.
const PAYLOADS = [
  '10.0.0.5; protocol static x { }',
  '10.0.0.5\nprotocol static y { }',
  '10.0.0.5"; include "/etc/shadow',
  '64511; } protocol static z { ',
  'tunl0"; krt_tunnel = "x',
  '1.0.0.1 }',
  '\u0000\u001b[31m',
  '𝔟𝔦𝔯𝔡',
];
const MARKERS = [
  'protocol static x',
  'protocol static y',
  'protocol static z',
  '/etc/shadow',
  'krt_tunnel = "x',
  '𝔟𝔦𝔯𝔡',
  '\u001b',
];

/** Every field a datastore string can reach, as a function of the payload: [key, value]. */
const FIELDS: ReadonlyArray<[string, (p: string) => [string, string]]> = [
  ['other host ip_addr_v4', (p) => [keys.hostAddress('other', 4), p]],
  ['other host ip_addr_v6', (p) => [keys.hostAddress('other6', 6), p]],
  ['other host as_num', (p) => [keys.hostAsNumber('other'), p]],
  ['own as_num', (p) => [keys.hostAsNumber('me'), p]],
  ['own loglevel', (p) => [keys.hostLogLevel('me'), p]],
  ['own network_v4', (p) => [keys.hostNetwork('me'), p]],
  ['global as_num', (p) => [keys.globalAsNumber, p]],
  ['global loglevel', (p) => [keys.globalLogLevel, p]],
  ['node_mesh', (p) => [keys.nodeMesh, JSON.stringify({ enabled: p })]],
  ['global peer ip', (p) => [keys.globalPeer(4, '10.9.0.1'), JSON.stringify({ ip: p, as_num: '65000' })]],
  ['global peer as_num', (p) => [keys.globalPeer(4, '10.9.0.2'), JSON.stringify({ ip: '10.9.0.2', as_num: p })]],
  ['global peer key', (p) => [keys.globalPeer(4, p), JSON.stringify({ ip: p, as_num: '65000' })]],
  [
    'node peer as_num',
    (p) => [keys.hostPeer('me', 6, '2001:db8::99'), JSON.stringify({ ip: '2001:db8::99', as_num: p })],
  ],
  ['pool cidr', (p) => [keys.pool(4, '10.50.0.0/16'), JSON.stringify({ cidr: p })]],
  ['pool key', (p) => [keys.pool(4, p), JSON.stringify({ cidr: p })]],
  ['pool ipip', (p) => [keys.pool(4, '10.51.0.0/16'), JSON.stringify({ cidr: '10.51.0.0/16', ipip: p })]],
  [
    'pool ipip_mode',
    (p) => [keys.pool(4, '10.52.0.0/16'), JSON.stringify({ cidr: '10.52.0.0/16', ipip: 'tunl0', ipip_mode: p })],
  ],
  ['block key', (p) => [keys.block('me', 4, p), '{}']],
  [
    'route reflector cluster_id',
    (p) => [keys.routeReflector(4, '10.9.0.3'), JSON.stringify({ ip: '10.9.0.3', cluster_id: p })],
  ],
  ['custom filter name', (p) => [keys.customFilter(4, p), 'reject;']],
  ['node name', (p) => [keys.hostAddress(p, 4), '10.9.0.4']],
];

const baseKeyspace = (): Map<string, string> =>
  new Map([
    [keys.hostAddress('me', 4), '10.0.0.1'],
    [keys.hostAddress('me', 6), '2001:db8::1'],
    [keys.hostAddress('peer', 4), '10.0.0.2'],
    [keys.pool(4, '192.168.0.0/16'), '{"cidr":"192.168.0.0/16","ipip":"tunl0"}'],
  ]);

t.test('a hostile value in any field is refused with a diagnostic naming its key and never rendered', async (t) => {
  const templates = compileTemplateSet(await loadTemplateSources());
  const everything = baseKeyspace();
  for (const [field, make] of FIELDS) {
    for (const payload of PAYLOADS) {
      const [key, value] = make(payload);
      const keyspace = baseKeyspace();
      keyspace.set(key, value);
      everything.set(key, value);
      const model = buildNodeModel(keyspace, { nodeName: 'me' });
      t.ok(
        model.diagnostics.some((d) => d.key === key),
        `${field} ${JSON.stringify(payload)}: diagnostic names ${key}`,
      );
      for (const ipip of ['off', 'krt-tunnel'] as const) {
        const files = renderFileSet(model, templates, { ipip }).files;
        for (const [name, content] of files) {
          for (const marker of MARKERS)
            t.notOk(
              content.includes(marker),
              `${field} ${JSON.stringify(payload)}: ${name} has no ${JSON.stringify(marker)}`,
            );
        }
      }
    }
  }
  // All payloads at once still give a configuration the real daemons accept, with the valid entries intact.
  const model = buildNodeModel(everything, { nodeName: 'me' });
  const files = renderFileSet(model, templates, { ipip: 'off' }).files;
  t.same(await birdAccepts(files), []);
  t.match(files.get('bird.cfg'), /protocol bgp Mesh_10_0_0_2 from bgp_template/);
  t.match(files.get('bird_ipam.cfg'), /net ~ 192\.168\.0\.0\/16/);
});

import t from 'tap';
import { nodeRole } from '../../src/controller/roleRenderer.js';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { encodePeer } from '../../src/model/encodings.js';
import { keys } from '../../src/model/keys.js';
import { entryAt } from '../../src/render/fileSet.js';
import { NODE_LAYOUT } from '../../src/render/layouts.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import { loadScenario } from '../support/fixtures.js';

/** A BIRD error at file:line names the entry behind that line: the quarantine depends on it being exact. */
t.test('every rendered entry is found at its lines; template lines map to nothing', async (t) => {
  const keyspace = loadScenario('seed-tutorial').keyspace;
  keyspace.set(keys.hostAddress('calico-01', 6), 'fd80:24e2:f998:72d7::1');
  keyspace.set(keys.globalPeer(4, '172.17.8.1'), encodePeer('172.17.8.1', 64567));
  keyspace.set(keys.hostPeer('calico-01', 6, 'fd80:24e2:f998:72d7::99'), encodePeer('fd80:24e2:f998:72d7::99', 64568));
  keyspace.set(keys.customFilter(4, 'f1'), 'if net ~ 10.0.0.0/8 then reject;');
  const rendered = nodeRole('calico-01', 'off').render(
    keyspace,
    compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT),
  );
  const spans = rendered.spans();
  const lineOf = (file: string, pattern: RegExp): number => {
    const index = rendered.files
      .get(file)!
      .split('\n')
      .findIndex((l) => pattern.test(l));
    t.not(index, -1, `${pattern} in ${file}`);
    return index + 1;
  };
  const keyAt = (file: string, pattern: RegExp): string | undefined => entryAt(spans, file, lineOf(file, pattern))?.key;
  t.equal(
    keyAt('bird.cfg', /neighbor 172\.17\.8\.102 /),
    keys.hostAddress('calico-02', 4),
    'a mesh session → the other host’s address key',
  );
  t.equal(
    keyAt('bird.cfg', /^protocol bgp Mesh_172_17_8_102 /),
    keys.hostAddress('calico-02', 4),
    'its first line too',
  );
  t.same(
    entryAt(spans, 'bird.cfg', lineOf('bird.cfg', /neighbor 172\.17\.8\.102 /))?.alsoFrom,
    [keys.hostAsNumber('calico-02'), keys.globalAsNumber],
    'a mesh session is also rendered from its host’s AS (the guard blames the one that changed)',
  );
  t.equal(
    entryAt(spans, 'bird.cfg', lineOf('bird.cfg', /neighbor 172\.17\.8\.1 as/))?.alsoFrom,
    undefined,
    'a global peer: its AS is in its own value',
  );
  t.equal(keyAt('bird.cfg', /neighbor 172\.17\.8\.1 as/), keys.globalPeer(4, '172.17.8.1'), 'a global peer → its key');
  t.equal(
    keyAt('bird6.cfg', /neighbor fd80:24e2:f998:72d7::99 /),
    keys.hostPeer('calico-01', 6, 'fd80:24e2:f998:72d7::99'),
    'a node-specific peer → its key',
  );
  t.equal(keyAt('bird.cfg', /^router id /), keys.hostAddress('calico-01', 4), 'router id → the node’s own IPv4 key');
  t.equal(
    keyAt('bird6.cfg', /source address/),
    keys.hostAddress('calico-01', 6),
    'bird6’s source address → the node’s own IPv6 key',
  );
  t.equal(
    keyAt('bird_ipam.cfg', /net ~ 192\.168\.0\.0\/16/),
    keys.pool(4, '192.168.0.0/16'),
    'a pool line → the pool key',
  );
  t.equal(
    keyAt('bird_aggr.cfg', /route 192\.168\.47\.0\/26 blackhole/),
    keys.block('calico-01', 4, '192.168.47.0/26'),
    'a block line → the block key',
  );
  t.equal(keyAt('custom_filters.cfg', /10\.0\.0\.0\/8/), keys.customFilter(4, 'f1'), 'a custom filter → its key');
  t.equal(
    keyAt('bird.cfg', /^protocol kernel/),
    undefined,
    'the templates’ own lines → no entry (the live configuration is kept)',
  );
  t.equal(keyAt('bird.cfg', /^template bgp bgp_template/), undefined);
});

import { Command } from 'commander';
import t from 'tap';
import { addRoleOptions, resolveRole, type RoleFlags } from '../src/cli/roleOptions.js';
import { nodeRole, reflectorRole } from '../src/controller/roleRenderer.js';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { parseIpAddress, type IpAddress } from '../src/model/address.js';
import { buildNodeModel } from '../src/model/buildNodeModel.js';
import { buildReflectorModel } from '../src/model/buildReflectorModel.js';
import type { Diagnostic } from '../src/model/diagnostics.js';
import { encodePeer, encodeRouteReflector } from '../src/model/encodings.js';
import { NodeConfigError } from '../src/model/errors.js';
import { keys } from '../src/model/keys.js';
import { NODE_LAYOUT, REFLECTOR_LAYOUT } from '../src/render/layouts.js';
import { compileTemplateSet } from '../src/render/templateSet.js';
import { ADDRESS_SAMPLES } from './support/addressSweep.js';
import { birdAccepts } from './support/birdCheck.js';
import { BIRD_1_6 } from '../src/bird/birdVersion.js';

/**
 * Every address class the model refuses (the samples of the sweep), in every place an address comes from:
 * global peer, node-specific peer, another host's address (mesh), route reflector, the node's own addresses and
 * the reflector's own identity. Each is skipped with a diagnostic naming key, value and reason; the rest renders
 * and passes the real bird -p / bird6 -p.
 */

const refused = ADDRESS_SAMPLES.filter((s) => !s.usable);
const usable = ADDRESS_SAMPLES.filter((s) => s.usable);
const addr = (text: string): IpAddress => {
  const parsed = parseIpAddress(text);
  if (!parsed.ok) throw new Error(text);
  return parsed.value;
};

const base = (): Map<string, string> =>
  new Map([
    [keys.hostAddress('me', 4), '10.0.0.1'],
    [keys.hostAddress('me', 6), '2001:db8:1::1'],
    [keys.hostAddress('ok', 4), '10.0.0.2'],
    [keys.hostAddress('ok', 6), '2001:db8::2'],
  ]);

/** A keyspace with every refused sample as a global peer, a node peer, a mesh host and a reflector. */
function refusedKeyspace(): { keyspace: Map<string, string>; refusedKeys: Map<string, string> } {
  const keyspace = base();
  const refusedKeys = new Map<string, string>();
  const put = (key: string, value: string, text: string): void => {
    keyspace.set(key, value);
    refusedKeys.set(key, text);
  };
  refused.forEach((s, i) => {
    put(keys.globalPeer(s.family, s.text), encodePeer(s.text, 64600), s.text);
    put(keys.hostPeer('me', s.family, s.text), encodePeer(s.text, 64601), s.text);
    put(keys.hostAddress(`host-${i}`, s.family), s.text, s.text);
    put(keys.routeReflector(s.family, s.text), encodeRouteReflector(s.text, '1.0.0.1'), s.text);
  });
  return { keyspace, refusedKeys };
}

const diagnosticFor = (diagnostics: readonly Diagnostic[], key: string): Diagnostic | undefined =>
  diagnostics.find((d) => d.key === key);

t.test(
  'node: every refused class in every place is skipped with a diagnostic, and the rest passes bird -p',
  async (t) => {
    const { keyspace, refusedKeys } = refusedKeyspace();
    const model = buildNodeModel(keyspace, { nodeName: 'me' });
    for (const [key, text] of refusedKeys) {
      const d = diagnosticFor(model.diagnostics, key);
      t.ok(d, `${key} has a diagnostic`);
      t.equal(d?.action, 'skipped', `${key} is skipped`);
      t.match(
        d?.reason,
        new RegExp(`^"${addr(text).text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" is `),
        `${key}: the reason names the address (${d?.reason})`,
      );
    }
    const neighbors = [...model.v4.peers, ...model.v6.peers].map((p) => p.address.text);
    t.same(neighbors, ['10.0.0.2', '2001:db8::2'], 'only the valid mesh host is a peer');
    t.same([...model.v4.routeReflectors, ...model.v6.routeReflectors], [], 'no refused reflector is kept');
    const templates = compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT);
    const rendered = nodeRole('me', 'off').render(keyspace, templates);
    t.same(await birdAccepts(rendered.files), [], 'bird -p and bird6 -p accept the files');
    for (const s of refused) {
      const text = addr(s.text).text;
      for (const [name, content] of rendered.files)
        t.notOk(content.includes(`neighbor ${text} `), `${name} has no neighbor ${text}`);
    }
  },
);

t.test('node: the classes BIRD accepts and a session can reach stay peers', async (t) => {
  const keyspace = base();
  for (const s of usable) keyspace.set(keys.globalPeer(s.family, s.text), encodePeer(s.text, 64600));
  const model = buildNodeModel(keyspace, { nodeName: 'me' });
  t.same(
    model.diagnostics.filter((d) => d.key.includes('/peer_')),
    [],
    'no peer is refused',
  );
  const globals = [...model.v4.peers, ...model.v6.peers]
    .filter((p) => p.kind === 'global')
    .map((p) => p.address.text)
    .sort();
  t.same(globals, usable.map((s) => addr(s.text).text).sort());
  const templates = compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT);
  t.same(
    await birdAccepts(nodeRole('me', 'off').render(keyspace, templates).files),
    [],
    'bird -p and bird6 -p accept them',
  );
});

t.test('node: an unusable own IPv4 is a NodeConfigError naming the key, as a missing one', async (t) => {
  for (const s of refused.filter((x) => x.family === 4)) {
    const keyspace = base().set(keys.hostAddress('me', 4), s.text);
    try {
      buildNodeModel(keyspace, { nodeName: 'me' });
      t.fail(`${s.text} accepted as own address`);
    } catch (error) {
      t.ok(
        error instanceof NodeConfigError && error.key === keys.hostAddress('me', 4),
        `${s.text}: NodeConfigError for the key`,
      );
      t.match((error as Error).message, `/calico/bgp/v1/host/me/ip_addr_v4 = "${s.text}": "${s.text}" is `);
    }
  }
});

t.test('node: an unusable own IPv6 turns IPv6 BGP off with a diagnostic, as a missing one', async (t) => {
  for (const s of refused.filter((x) => x.family === 6)) {
    const keyspace = base()
      .set(keys.hostAddress('me', 6), s.text)
      .set(keys.globalPeer(6, '2001:db8::9'), encodePeer('2001:db8::9', 64600));
    const model = buildNodeModel(keyspace, { nodeName: 'me' });
    t.equal(model.v6.address, undefined, `${s.text}: no IPv6 address`);
    t.same(model.v6.peers, [], `${s.text}: no IPv6 peers`);
    t.match(diagnosticFor(model.diagnostics, keys.hostAddress('me', 6)), { action: 'skipped', reason: /^".*" is / });
    t.equal(model.v4.peers.length, 1, 'IPv4 is untouched');
  }
  const templates = compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT);
  const rendered = nodeRole('me', 'off').render(base().set(keys.hostAddress('me', 6), 'fe80::1'), templates);
  t.match(rendered.files.get('bird6.cfg'), /# IPv6 disabled on this node\./);
  t.same(await birdAccepts(rendered.files), []);
});

t.test('reflector: refused reflectors and clients are skipped; a bad cluster_id costs the field only', async (t) => {
  const { keyspace, refusedKeys } = refusedKeyspace();
  keyspace.set(keys.routeReflector(4, '10.0.0.100'), JSON.stringify({ ip: '10.0.0.100', cluster_id: 'bogus' }));
  keyspace.set(keys.routeReflector(4, '10.0.0.101'), JSON.stringify({ ip: '10.0.0.101', cluster_id: '1.2.3.256' }));
  keyspace.set(keys.routeReflector(6, '2001:db8::100'), JSON.stringify({ ip: '2001:db8::100', cluster_id: '7' }));
  keyspace.set(keys.globalPeer(4, '10.0.0.100'), encodePeer('10.0.0.100', 64511));
  keyspace.set(keys.globalPeer(6, '2001:db8::100'), encodePeer('2001:db8::100', 64511));
  const model = buildReflectorModel(keyspace, {
    ipv4: addr('10.0.0.100'),
    ipv6: addr('2001:db8::100'),
    asNumber: undefined,
  });
  const sessions = (f: typeof model.v4): string[] =>
    f.sessions.map((s) => `${s.protocolName}${s.clusterId ? ` cluster ${s.clusterId}` : ''}`);
  t.same(
    sessions(model.v4),
    ['Reflector_10_0_0_101', 'Client_10_0_0_1', 'Client_10_0_0_2'],
    'the other reflector (bad cluster_id) is still meshed with; clients served without a cluster id',
  );
  t.same(
    sessions(model.v6),
    ['Client_2001_db8__2 cluster 7', 'Client_2001_db8_1__1 cluster 7'],
    'a plain-number cluster id is used',
  );
  t.match(diagnosticFor(model.diagnostics, keys.routeReflector(4, '10.0.0.100')), {
    action: 'defaulted',
    reason: /^"cluster_id": .*; the reflector is kept without rr cluster id$/,
  });
  t.match(diagnosticFor(model.diagnostics, keys.routeReflector(4, '10.0.0.101')), {
    action: 'defaulted',
    reason: /"cluster_id"/,
  });
  for (const [key] of [...refusedKeys].filter(([k]) => k.includes('/rr_v') || /\/host\/host-\d+\//.test(k))) {
    t.match(diagnosticFor(model.diagnostics, key), { action: 'skipped' }, `${key} skipped`);
  }
  const templates = compileTemplateSet(await loadTemplateSources(), REFLECTOR_LAYOUT);
  const rendered = reflectorRole({ ipv4: addr('10.0.0.100'), ipv6: addr('2001:db8::100'), asNumber: undefined }).render(
    keyspace,
    templates,
  );
  t.notOk(rendered.files.get('bird.cfg')?.includes('rr cluster id'), 'no rr cluster id in bird.cfg');
  t.match(rendered.files.get('bird6.cfg'), /rr cluster id 7;/);
  t.same(await birdAccepts(rendered.files), [], 'bird -p and bird6 -p accept the reflector files');
});

t.test('reflector: its own --ip/--ip6 (or IP/IP6) must be usable: exit-2 usage error naming the flag', async (t) => {
  const role = (args: string[], env: Record<string, string> = {}) => {
    const flags = addRoleOptions(new Command())
      .parse(['--role', 'route-reflector', ...args], { from: 'user' })
      .opts<RoleFlags>();
    return resolveRole(flags, env, 'off', BIRD_1_6);
  };
  t.throws(() => role(['--ip', '0.0.0.0']), {
    name: 'UsageError',
    message:
      '--ip "0.0.0.0": "0.0.0.0" is the unspecified address; BIRD refuses it as a neighbor and ignores it as a router id',
  });
  t.throws(() => role(['--ip', '10.0.0.100', '--ip6', 'fe80::1']), {
    name: 'UsageError',
    message: /^--ip6 "fe80::1": "fe80::1" is an IPv6 link-local address/,
  });
  t.throws(() => role([], { IP: '224.0.0.1' }), { name: 'UsageError', message: /^IP "224\.0\.0\.1": .*multicast/ });
  t.doesNotThrow(() => role(['--ip', '127.0.0.1', '--ip6', '::1']), 'loopback is usable');
});

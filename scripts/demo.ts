/**
 * npm run demo (scripts/demo → this file): the seed tutorial with real BIRDs in network namespaces,
 * configured by birdwatch from a real etcd, every step set up with the birdwatch CLI and verified:
 *
 *   1. calico-01 registered with the CLI (IP/IP6 variables), calico-02 registering itself at start as
 *      calico-node did (IP=autodetect); each host's bird, bird6 and birdwatch run as the shipped runit
 *      services; a pool; one IPAM block per host (v4 and v6); the mesh session is Established and each host
 *      has the other's block in its kernel. calico-02's bird is SIGKILLed: runsv restarts it, the routes
 *      stay in the kernel meanwhile, the session comes back.
 *   2. calico-rr runs `birdwatch run --role route-reflector`; `bgppeer rr add`; `bgp node-mesh off`:
 *      mesh sessions gone, both hosts Established with the reflector, blocks still reach the other host.
 *
 * `--mixed` (npm run demo -- --mixed): the same steps with calico-01 on BIRD 1.6, calico-02 on BIRD 2.0.12 and the
 * reflector on BIRD 3.3.2 (scripts/setup-bird's builds; each birdwatch picks its dialect from `bird --version`),
 * then 3. calico-01 upgraded in place to BIRD 2.0.12: its kernel keeps the routes, bird6's files are gone.
 *
 * Exits 0 only when every check passed; otherwise 1 with the reason. Always tears the lab down.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from '../test/harness/netns.js';
import { existsSync, readdirSync } from 'node:fs';
import { BIRDWATCH_MAIN, REPO_ROOT, SERVICES, labBird, startLab, type Lab, type LabHost } from '../test/lab/lab.js';
import {
  kernelRoutes,
  labSnapshot,
  protocolName,
  routeFor,
  waitRoute,
  waitSessions,
  waitUntil,
  watchRoute,
} from '../test/lab/observe.js';
import { errorMessage } from '../src/errorMessage.js';

const WAIT_MS = 45_000;
const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const out = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};
const indent = (text: string): string => text.replace(/\s+$/, '').replace(/^/gm, '    ');
const say = (text: string): void => out(`\n== ${text}`);
const ok = (text: string): void => out(`   ✓ ${text}`);

class DemoFailure extends Error {}

/** Runs `birdwatch …` (the built CLI) like an operator would, printing the command and its output. */
async function birdwatch(
  env: NodeJS.ProcessEnv,
  args: readonly string[],
  expectExit = 0,
  shownEnv = '',
): Promise<string> {
  out(`\n$ ${shownEnv}birdwatch ${args.join(' ')}`);
  const result = await execa(process.execPath, [BIRDWATCH_MAIN, ...args], { env, reject: false, cwd: REPO_ROOT });
  if (result.stdout.trim() !== '') out(indent(result.stdout));
  if (result.stderr.trim() !== '') out(indent(result.stderr));
  if (result.exitCode !== expectExit)
    throw new DemoFailure(`birdwatch ${args.join(' ')} exited ${String(result.exitCode)} (expected ${expectExit})`);
  return result.stdout;
}

/** `sv status` of the host's services, as an operator would look: birdwatch and its BIRD's daemons run. */
async function svStatus(host: LabHost): Promise<void> {
  const services = SERVICES.filter((s) => s === 'birdwatch' || host.daemons.includes(s));
  const dirs = services.map((s) => join(host.serviceDir, s));
  out(`\n$ sv status ${dirs.join(' ')}`);
  const result = await execa('sv', ['status', ...dirs], { reject: false });
  out(indent(result.stdout));
  if (result.exitCode !== 0 || !result.stdout.split('\n').every((l) => l.startsWith('run: ')))
    throw new DemoFailure(`${host.name}: not every service runs`);
}

async function showKernel(host: LabHost, family: 4 | 6): Promise<void> {
  out(`\n$ ip -n ${host.namespace}${family === 6 ? ' -6' : ''} route show proto bird`);
  out(indent((await kernelRoutes(host, family)).join('\n') || '(none)'));
}

/** `birdc show route <cidr>` on the host's BIRD: which protocol the route was learned from. */
async function learnedFrom(host: LabHost, cidr: string, protocol: string, from: string): Promise<void> {
  const family = cidr.includes(':') ? 6 : 4;
  // BIRD 1.6: birdc6 for bird6; BIRD 2/3: the host's own birdc, on bird's socket for both families.
  const birdc = host.daemons.includes('bird6') ? (family === 6 ? 'birdc6' : 'birdc') : (host.bird.birdc ?? 'birdc');
  out(`\n$ ${birdc} -s ${host.socket(family)} show route ${cidr}`);
  const result = await execa(birdc, ['-s', host.socket(family), 'show', 'route', cidr], { reject: false });
  out(indent(result.stdout));
  const learned = new RegExp(`\\[${protocol} [^\\]]* from ${from.replace(/[.]/g, '\\.')}\\]`);
  if (!learned.test(result.stdout))
    throw new DemoFailure(`${host.name}: ${cidr} is not learned from ${protocol} (from ${from})`);
  ok(`${host.name} learned ${cidr} from the reflector (${protocol}, from ${from})`);
}

async function status(env: NodeJS.ProcessEnv, host: LabHost, expect: RegExp[]): Promise<void> {
  const text = await birdwatch(env, [
    'status',
    '--bird-socket',
    host.sockets.bird,
    '--bird6-socket',
    host.sockets.bird6,
  ]);
  for (const re of expect)
    if (!re.test(text)) throw new DemoFailure(`birdwatch status on ${host.name} does not show ${String(re)}`);
}

async function check<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    const value = await run();
    ok(what);
    return value;
  } catch (e) {
    throw new DemoFailure(`${what}: ${errorMessage(e)}`);
  }
}

const row = (ip: string, type: string): RegExp =>
  new RegExp(`\\|\\s*${ip.replace(/[.]/g, '\\.')}\\s*\\|\\s*${type}\\s*\\|\\s*up\\s*\\|[^\\n]*Established`);

async function demo(lab: Lab, mixed: boolean): Promise<void> {
  const [c1, c2, rr] = lab.hosts as [LabHost, LabHost, LabHost];
  const env = { ...process.env, ETCD_ENDPOINTS: lab.etcd.endpoints.join(',') };
  const blocks = {
    [c1.name]: { v4: '192.168.47.0/26', v6: 'fd00:1::47:0/122' },
    [c2.name]: { v4: '192.168.181.192/26', v6: 'fd00:1::181:c0/122' },
  };
  const other = (h: LabHost): LabHost => (h === c1 ? c2 : c1);

  say(`Lab: hosts ${lab.hosts.map((h) => `${h.name} (${h.ip4}, ${h.ip6})`).join(', ')}`);
  out(
    `   each host is a network namespace (${lab.hosts.map((h) => h.namespace).join(', ')}) on a bridge in ${lab.bridgeNamespace};`,
  );
  out(
    `   etcd listens on ${lab.etcd.endpoints.join(',')} (root namespace loopback; a relay makes it appear on each host's`,
  );
  out('   own loopback). Each host runs what a calico-node runs, under runit: one runsvdir in the host namespace with');
  out('   the services birdwatch ships (packaging/runit): birdwatch (run --once, then run), bird and bird6 (in the');
  out('   foreground, started once a valid bird.cfg exists), each logging through svlogd.');
  if (mixed)
    out(
      `   BIRD per host: ${lab.hosts.map((h) => `${h.name} ${h.bird.version.text} (${h.daemons.join(' + ')})`).join(', ')}; each birdwatch asks its bird --version.`,
    );
  out(`\n$ export ETCD_ENDPOINTS=${env.ETCD_ENDPOINTS}`);

  say('Step 1: two Calico nodes, a pool, a block each (the seed tutorial)');
  await birdwatch(
    { ...env, IP: c1.ip4, IP6: c1.ip6 },
    ['node', 'register', '--node', c1.name],
    0,
    `IP=${c1.ip4} IP6=${c1.ip6} `,
  );
  out(`\n   starting calico-node on ${c1.name}: runsvdir -P ${c1.serviceDir} in ${c1.namespace}`);
  await check(`${c1.name}: the birdwatch service rendered its config, bird and bird6 answer`, () =>
    lab.startHost(c1.name),
  );
  out(`\n   starting calico-node on ${c2.name} the calico-node way: it registers itself at start`);
  out('   (BIRDWATCH_REGISTER=1 IP=autodetect IP6=autodetect: the birdwatch service runs `run --once --register`)');
  await check(`${c2.name}: registered itself, bird and bird6 answer`, () =>
    lab.startHost(c2.name, { env: { BIRDWATCH_REGISTER: '1', IP: 'autodetect', IP6: 'autodetect' } }),
  );
  const nodes = await birdwatch(env, ['node', 'show']);
  if (!nodes.includes(c2.ip4) || !nodes.includes(c2.ip6))
    throw new DemoFailure(`${c2.name} did not register ${c2.ip4} and ${c2.ip6}`);
  ok(`${c2.name} registered the addresses it found on its eth0: ${c2.ip4}, ${c2.ip6}`);
  await svStatus(c2);
  await birdwatch(env, ['pool', 'add', '192.168.0.0/16']);
  await birdwatch(env, ['pool', 'add', 'fd00:1::/48']);
  out('\n   IPAM claims a block of the pool for each host (what the Calico IPAM driver writes on first use):');
  const client = lab.client();
  for (const h of [c1, c2]) {
    for (const [family, cidr] of [
      [4, blocks[h.name]?.v4 ?? ''],
      [6, blocks[h.name]?.v6 ?? ''],
    ] as const) {
      const key = keys.block(h.name, family, cidr);
      await client.put(key).value('{}');
      out(`   set ${key} = {}`);
    }
  }

  say('Step 1 check: the mesh session is Established on both hosts, v4 and v6');
  for (const h of [c1, c2]) {
    const o = other(h);
    await check(
      `${h.name}: ${protocolName('Mesh', o.ip4)} and ${protocolName('Mesh', o.ip6)} Established`,
      async () => {
        await waitSessions(h, 4, [protocolName('Mesh', o.ip4)], { timeoutMs: WAIT_MS });
        await waitSessions(h, 6, [protocolName('Mesh', o.ip6)], { timeoutMs: WAIT_MS });
      },
    );
  }
  for (const h of [c1, c2]) {
    const o = other(h);
    await status(env, h, [row(o.ip4, 'node-to-node mesh'), row(o.ip6, 'node-to-node mesh')]);
  }
  say("Step 1 check: each host's kernel routes the other host's block to it");
  for (const h of [c1, c2]) {
    const o = other(h);
    await check(
      `${h.name}: ${blocks[o.name]?.v4 ?? ''} via ${o.ip4} and ${blocks[o.name]?.v6 ?? ''} via ${o.ip6} (proto bird)`,
      async () => {
        await waitRoute(h, blocks[o.name]?.v4 ?? '', o.ip4, { timeoutMs: WAIT_MS });
        await waitRoute(h, blocks[o.name]?.v6 ?? '', o.ip6, { timeoutMs: WAIT_MS });
      },
    );
    await showKernel(h, 4);
    await showKernel(h, 6);
  }

  say(`Step 1 check: runit brings back a killed bird (${c2.name}); the kernel keeps the routes meanwhile`);
  const birdPid = c2.pid('bird');
  if (birdPid === undefined) throw new DemoFailure(`${c2.name}: bird is not running`);
  out(`\n$ kill -KILL ${birdPid}    # ${c2.name}'s bird`);
  const killedAt = Date.now();
  process.kill(birdPid, 'SIGKILL');
  await check(`${c2.name}: runsv started bird again (new PID)`, async () => {
    await waitUntil(
      `${c2.name}: a new bird`,
      () => Promise.resolve({ ok: (c2.pid('bird') ?? birdPid) !== birdPid, seen: String(c2.pid('bird')) }),
      { timeoutMs: 10_000 },
    );
  });
  await check(
    `${c2.name}: ${blocks[c1.name]?.v4 ?? ''} still in its kernel (bird -R: graceful-restart recovery)`,
    async () => {
      if (routeFor(await kernelRoutes(c2, 4), blocks[c1.name]?.v4 ?? '') === undefined)
        throw new Error('the route is gone');
    },
  );
  await check(`${c2.name}: mesh Established again`, async () => {
    await waitSessions(c2, 4, [protocolName('Mesh', c1.ip4)], { timeoutMs: WAIT_MS });
    await waitSessions(c1, 4, [protocolName('Mesh', c2.ip4)], { timeoutMs: WAIT_MS });
  });
  out(`   (${((Date.now() - killedAt) / 1000).toFixed(1)} s from the kill)`);
  await svStatus(c2);

  say(`Step 2: a route reflector on ${rr.name}, then the mesh off`);
  out(
    `\n   starting the reflector: runsvdir in ${rr.namespace}, its birdwatch service with BIRDWATCH_OPTS="--role route-reflector --ip ${rr.ip4} --ip6 ${rr.ip6}"`,
  );
  await check(`${rr.name}: reflector config rendered, bird and bird6 answer`, () =>
    lab.startHost(rr.name, { role: 'route-reflector' }),
  );
  await birdwatch(env, ['bgppeer', 'rr', 'add', rr.ip4]);
  await birdwatch(env, ['bgppeer', 'rr', 'add', rr.ip6]);
  await birdwatch(env, ['bgp', 'node-mesh', 'off']);

  say('Step 2 check: mesh sessions gone; both hosts Established with the reflector; the reflector has both clients');
  for (const h of [c1, c2]) {
    await check(
      `${h.name}: only ${protocolName('Global', rr.ip4)} / ${protocolName('Global', rr.ip6)}, Established`,
      async () => {
        await waitSessions(h, 4, [protocolName('Global', rr.ip4)], { timeoutMs: WAIT_MS });
        await waitSessions(h, 6, [protocolName('Global', rr.ip6)], { timeoutMs: WAIT_MS });
      },
    );
  }
  await check(
    `${rr.name}: ${protocolName('Client', c1.ip4)} and ${protocolName('Client', c2.ip4)} (and v6) Established`,
    async () => {
      await waitSessions(rr, 4, [protocolName('Client', c1.ip4), protocolName('Client', c2.ip4)], {
        timeoutMs: WAIT_MS,
      });
      await waitSessions(rr, 6, [protocolName('Client', c1.ip6), protocolName('Client', c2.ip6)], {
        timeoutMs: WAIT_MS,
      });
    },
  );
  for (const h of [c1, c2]) await status(env, h, [row(rr.ip4, 'global'), row(rr.ip6, 'global')]);
  await status(env, rr, [/Established/]);

  say('Step 2 check: the blocks still reach the other host, now reflected by the reflector');
  for (const h of [c1, c2]) {
    const o = other(h);
    await check(
      `${h.name}: ${blocks[o.name]?.v4 ?? ''} via ${o.ip4} and ${blocks[o.name]?.v6 ?? ''} via ${o.ip6}`,
      async () => {
        await waitRoute(h, blocks[o.name]?.v4 ?? '', o.ip4, { timeoutMs: WAIT_MS });
        await waitRoute(h, blocks[o.name]?.v6 ?? '', o.ip6, { timeoutMs: WAIT_MS });
      },
    );
    await showKernel(h, 4);
    await showKernel(h, 6);
    await learnedFrom(h, blocks[o.name]?.v4 ?? '', protocolName('Global', rr.ip4), rr.ip4);
    await learnedFrom(h, blocks[o.name]?.v6 ?? '', protocolName('Global', rr.ip6), rr.ip6);
  }
  await check(`${rr.name}: no kernel routes (a reflector only reflects)`, async () => {
    const routes = [...(await kernelRoutes(rr, 4)), ...(await kernelRoutes(rr, 6))];
    if (routes.length > 0) throw new Error(`found ${routes.join(' | ')}`);
  });
  if (mixed) await upgrade(lab, c1, c2, rr, blocks[c2.name] ?? { v4: '', v6: '' });
}

/** --mixed, step 3: `host` upgraded in place from BIRD 1.6 to BIRD 2.0.12 (same config dir). */
async function upgrade(
  lab: Lab,
  host: LabHost,
  other: LabHost,
  rr: LabHost,
  otherBlocks: { readonly v4: string; readonly v6: string },
): Promise<void> {
  say(`Step 3: ${host.name} upgraded in place from BIRD ${host.bird.version.text} to BIRD 2.0.12`);
  out(`   the host's services stop; \`bird\` becomes BIRD 2.0.12; they start again on the same config dir`);
  const watchers = [otherBlocks.v4, otherBlocks.v6].map((prefix) => watchRoute(host, prefix));
  await lab.stopHost(host.name);
  await check(`${host.name}: birdwatch rendered BIRD 2's bird.cfg, BIRD 2.0.12 answers`, () =>
    lab.startHost(host.name, { bird: '2.0.12', keepConfig: true }),
  );
  await check(
    `${host.name}: ${protocolName('Global', rr.ip4)} / ${protocolName('Global', rr.ip6)} Established`,
    async () => {
      await waitSessions(host, 4, [protocolName('Global', rr.ip4)], { timeoutMs: WAIT_MS });
      await waitSessions(host, 6, [protocolName('Global', rr.ip6)], { timeoutMs: WAIT_MS });
    },
  );
  await check(`${host.name}: ${otherBlocks.v4} via ${other.ip4} and ${otherBlocks.v6} via ${other.ip6}`, async () => {
    await waitRoute(host, otherBlocks.v4, other.ip4, { timeoutMs: WAIT_MS });
    await waitRoute(host, otherBlocks.v6, other.ip6, { timeoutMs: WAIT_MS });
  });
  for (const [i, watcher] of watchers.entries()) {
    const { samples, missing } = await watcher.stop();
    const prefix = i === 0 ? otherBlocks.v4 : otherBlocks.v6;
    if (missing > 0)
      throw new DemoFailure(`${host.name}: ${prefix} left the kernel in ${missing} of ${samples} samples`);
    ok(`${host.name}: ${prefix} stayed in the kernel through the upgrade (${samples} samples)`);
  }
  await check(`${host.name}: bird6's files are gone (a BIRD 1.6 put back could not start on them)`, async () => {
    await waitUntil(
      'no bird6 files',
      async () => {
        const left = readdirSync(host.configDir).filter((f) => /^(bird6|custom_filters6)/.test(f));
        return { ok: left.length === 0 && existsSync(join(host.configDir, 'bird.cfg')), seen: left.join(', ') };
      },
      { timeoutMs: WAIT_MS },
    );
  });
  out(`\n$ ls ${host.configDir}`);
  out(
    indent(
      readdirSync(host.configDir)
        .filter((f) => !f.startsWith('.'))
        .join('  '),
    ),
  );
  await showKernel(host, 4);
  await showKernel(host, 6);
  await svStatus(host);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      state: { type: 'string', default: join(tmpdir(), 'birdwatch-demo') },
      mixed: { type: 'boolean', default: false },
    },
  });
  const mixed = values.mixed;
  out(
    `birdwatch demo: real ${mixed ? 'BIRD 1.6, 2.0.12 and 3.3.2' : 'BIRD 1.6'} in network namespaces, configured by birdwatch from etcd`,
  );
  if (mixed) {
    try {
      for (const version of ['2.0.12', '3.3.2']) labBird(version);
    } catch (e) {
      out(`\nDemo FAILED: ${errorMessage(e)} (scripts/setup-bird builds it)`);
      return 1;
    }
  }
  if (!(await canCreateNamespaces())) {
    out(
      '\nDemo FAILED: network namespaces cannot be created here (`ip netns add` needs root / CAP_SYS_ADMIN); run it as root.',
    );
    return 1;
  }
  let lab: Lab | undefined;
  let stopping = false;
  const interrupted = new Promise<number>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        stopping = true;
        out(`\n${signal}: stopping the demo`);
        resolve(130);
      });
    }
  });
  const run = async (): Promise<number> => {
    try {
      lab = await startLab({
        hosts: mixed
          ? [
              { name: 'calico-01' },
              { name: 'calico-02', bird: '2.0.12' },
              { name: 'calico-rr', role: 'route-reflector', bird: '3.3.2' },
            ]
          : [{ name: 'calico-01' }, { name: 'calico-02' }, { name: 'calico-rr', role: 'route-reflector' }],
        prefix: 'bwdemo',
        stateDir: values.state,
        register: false,
        start: false,
        killOnExit: true,
        log: (line) => out(`   lab: ${line}`),
      });
      await demo(lab, mixed);
      out(`\nDemo passed: every step verified (${elapsed()}).`);
      return 0;
    } catch (e) {
      if (stopping) return 130;
      const reason = e instanceof DemoFailure ? e.message : ((e instanceof Error ? e.stack : undefined) ?? String(e));
      out(`\nDemo FAILED after ${elapsed()}: ${reason}`);
      if (lab !== undefined) {
        out(`\nSessions and kernel routes now:\n${indent(await labSnapshot(lab).catch((err: Error) => err.message))}`);
        out(`\nLog tails (full logs in ${lab.stateDir}/hosts):\n${indent(await lab.describe())}`);
      }
      return 1;
    }
  };
  const code = await Promise.race([run(), interrupted]);
  if (lab !== undefined) {
    const report = await lab.down();
    out(`\nCleaned up: stopped ${report.stopped} processes, deleted ${report.namespacesDeleted.length} namespaces.`);
  }
  return code;
}

// Exit explicitly: after an interruption the demo's pending waits would otherwise keep running.
process.exit(await main());

/**
 * Looking at a running lab: BGP sessions (BIRD's `show protocols` over the control socket), the kernel
 * routes BIRD installed in a host's namespace (`ip route show proto bird`), and bounded waits whose
 * timeout message says what was expected and what was last seen.
 */
import { execa } from 'execa';
import type { Test } from 'tap';
import type { ProtocolEntry } from '../../src/bird/showProtocols.js';
import { showProtocols } from '../../src/bird/showProtocolsCommand.js';
import { parseProtocolName } from '../../src/model/protocolName.js';
import { delay } from '../harness/process.js';
import type { Lab, LabHost } from './lab.js';

export type Family = 4 | 6;

/** The BGP protocols of one family on the host (BIRD 1.6: its daemon's; BIRD 2/3: bird's, by the peer's family). */
async function bgpSessions(host: LabHost, family: Family): Promise<ProtocolEntry[]> {
  const rows = await showProtocols(host.socket(family), { timeoutMs: 3_000 });
  const bgp = rows.filter((r): r is ProtocolEntry => r.kind === 'protocol' && r.proto === 'BGP');
  if (host.daemons.includes('bird6')) return bgp;
  return bgp.filter((r) => (parseProtocolName(r.name)?.address?.family ?? 4) === family);
}

/** `name=BgpState` per BGP protocol, sorted: compact for messages. */
function summarize(sessions: readonly ProtocolEntry[]): string {
  return (
    sessions
      .map((s) => `${s.name}=${s.bgpState ?? s.state}${s.lastError !== undefined ? ` (${s.lastError})` : ''}`)
      .sort()
      .join(', ') || '(no BGP protocols)'
  );
}

/** Kernel routes BIRD installed in the host's namespace, one line each (`192.168.1.0/26 via 10.99.0.2 dev eth0 …`). */
export async function kernelRoutes(host: LabHost, family: Family): Promise<string[]> {
  const result = await execa('ip', ['-n', host.namespace, `-${family}`, 'route', 'show', 'proto', 'bird']);
  return result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The kernel route for `prefix` (exact destination), or undefined. */
export function routeFor(routes: readonly string[], prefix: string): string | undefined {
  return routes.find(
    (r) =>
      r.split(/\s+/).includes(prefix) &&
      (r.startsWith(`${prefix} `) || r.startsWith(`blackhole ${prefix}`) || r === prefix),
  );
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it returns `{ok: true}`; on timeout throws `<what>: not reached within N ms; last
 * seen: <seen>` (probe errors count as "seen").
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<{ ok: boolean; seen: string }>,
  options: WaitOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let seen = '(nothing yet)';
  for (;;) {
    try {
      const r = await probe();
      seen = r.seen;
      if (r.ok) return seen;
    } catch (e) {
      seen = `error: ${(e as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms; last seen: ${seen}`);
    // Jittered: every poll wakes the BIRDs it asks, and polling all hosts in lockstep would align their
    // event loops — and with them the instant their BGP connect timers fire (see secondGate in lab.ts).
    const interval = options.intervalMs ?? 100;
    await delay(interval / 2 + Math.random() * interval);
  }
}

/** Protocol name birdwatch gives a peer: `<kind>_<ip>` with `.` and `:` as `_`. */
export function protocolName(kind: 'Mesh' | 'Global' | 'Node' | 'Reflector' | 'Client', ip: string): string {
  return `${kind}_${ip.replace(/[.:]/g, '_')}`;
}

/**
 * Waits until the host's BGP protocols of `family` are exactly `expected` (names), all Established; returns them
 * as they were then.
 */
export async function waitSessions(
  host: LabHost,
  family: Family,
  expected: readonly string[],
  options: WaitOptions = {},
): Promise<ProtocolEntry[]> {
  const want = [...expected].sort();
  let seen: ProtocolEntry[] = [];
  await waitUntil(
    `${host.name} IPv${family} (BIRD ${host.bird.version.text}): BGP protocols exactly [${want.join(', ')}], all Established`,
    async () => {
      seen = await bgpSessions(host, family);
      const names = seen.map((s) => s.name).sort();
      const ok =
        names.length === want.length &&
        names.every((n, i) => n === want[i]) &&
        seen.every((s) => s.bgpState === 'Established');
      return { ok, seen: `${host.name} v${family}: ${summarize(seen)}` };
    },
    options,
  );
  return seen;
}

/**
 * Waits until the host's kernel has a BIRD route to `prefix` via `via` (or, with `via` undefined, no route to
 * it); returns the route line then (undefined: none).
 */
export async function waitRoute(
  host: LabHost,
  prefix: string,
  via: string | undefined,
  options: WaitOptions = {},
): Promise<string | undefined> {
  const family: Family = prefix.includes(':') ? 6 : 4;
  let route: string | undefined;
  await waitUntil(
    `${host.name} kernel: ${via === undefined ? `no route to ${prefix}` : `${prefix} via ${via} proto bird`}`,
    async () => {
      const routes = await kernelRoutes(host, family);
      route = routeFor(routes, prefix);
      const ok = via === undefined ? route === undefined : route !== undefined && route.split(/\s+/).includes(via);
      if (ok) return { ok, seen: `${host.name}: ${route ?? `no route to ${prefix}`}` };
      return { ok, seen: routes.join(' | ') || '(no proto bird routes)' };
    },
    options,
  );
  return route;
}

/**
 * Waits for the sessions (waitSessions), then asserts what it saw: each expected protocol, and no other, in BGP
 * state Established.
 */
export async function expectSessions(
  t: Test,
  host: LabHost,
  family: Family,
  expected: readonly string[],
  options: WaitOptions = {},
): Promise<void> {
  const sessions = await waitSessions(host, family, expected, options);
  t.same(
    Object.fromEntries(sessions.map((s) => [s.name, s.bgpState ?? s.state])),
    Object.fromEntries(expected.map((name) => [name, 'Established'])),
    `${host.name} IPv${family}: ${expected.length === 0 ? 'no BGP protocols' : `${expected.join(', ')} Established`}`,
  );
}

/**
 * Waits for the kernel route (waitRoute), then asserts what it saw: the route to `prefix` goes via `via` (with
 * `via` undefined: there is none).
 */
export async function expectRoute(
  t: Test,
  host: LabHost,
  prefix: string,
  via: string | undefined,
  options: WaitOptions = {},
): Promise<void> {
  const route = await waitRoute(host, prefix, via, options);
  if (via === undefined) t.equal(route, undefined, `${host.name}: no route to ${prefix}`);
  else {
    const words = route?.split(/\s+/) ?? [];
    t.same({ to: words[0], via: words[words.indexOf('via') + 1] }, { to: prefix, via }, `${host.name}: ${route}`);
  }
}

/** Samples the host's kernel every ~50 ms until stopped; counts the samples that lacked a route to `prefix`. */
export function watchRoute(host: LabHost, prefix: string): { stop(): Promise<{ samples: number; missing: number }> } {
  let running = true;
  let samples = 0;
  let missing = 0;
  const loop = (async () => {
    while (running) {
      const routes = await kernelRoutes(host, prefix.includes(':') ? 6 : 4).catch(() => []);
      samples++;
      if (routeFor(routes, prefix) === undefined) missing++;
      await delay(50);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, missing };
    },
  };
}

/** Sessions of every running host, for failure messages. */
export async function labSnapshot(lab: Lab): Promise<string> {
  const lines: string[] = [];
  for (const h of lab.hosts) {
    if (!h.running()) continue;
    for (const family of [4, 6] as const) {
      const sessions = await bgpSessions(h, family).then(summarize, (e: Error) => `error: ${e.message}`);
      const routes = await kernelRoutes(h, family).then(
        (r) => r.join(' | '),
        (e: Error) => `error: ${e.message}`,
      );
      lines.push(`${h.name} v${family}: ${sessions}; routes: ${routes}`);
    }
  }
  return lines.join('\n');
}

/**
 * Indices of the lab's etcd members the process `pid` in `host`'s namespace has an established TCP
 * connection to (from `ss` in that namespace: the host's etcd relay listens on each member's port).
 */
export async function etcdMembersUsedBy(lab: Lab, host: LabHost, pid: number): Promise<number[]> {
  const result = await execa('ss', ['-N', host.namespace, '-tnpH', 'state', 'established']);
  const peers = new Set(
    result.stdout
      .split('\n')
      .filter((line) => line.includes(`pid=${pid},`))
      .map((line) => line.trim().split(/\s+/)[3] ?? ''),
  );
  return lab.etcd.members.flatMap((m, i) => (peers.has(new URL(m.clientUrl).host) ? [i] : []));
}

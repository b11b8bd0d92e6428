import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { configureBird } from '../../src/bird/configure.js';
import { runBirdCommand } from '../../src/bird/controlSocket.js';
import { parseProtocolDetails, type ProtocolDetails } from '../../src/bird/protocolDetails.js';
import { parseShowProtocols } from '../../src/bird/showProtocols.js';
import type { FileSet } from '../../src/render/fileSet.js';
import { startBird, type BirdProcess } from '../harness/bird.js';
import { createNamespace } from '../harness/netns.js';
import { delay, killOnProcessExit, stopChild, type TeardownRegistrar } from '../harness/process.js';
import { startBgpSpeaker, type BgpSpeaker, type SpeakerSession } from './bgpSpeaker.js';
import type { InstalledBird } from './birdVersions.js';

/**
 * One BIRD version in its own network namespace, for the dialect differential test: long-lived daemons (bird and
 * bird6 for BIRD 1.6, one bird for 2/3), reconfigured to each case's rendering (`configure "<file>"`: a few ms,
 * where starting a daemon is tens), and the test speaker (bgpSpeakerChild.ts) playing every neighbor. The namespace
 * routes every address to lo (`local 0.0.0.0/0`, `local ::/0` in the local table), so any
 * rendering's addresses work, and BIRD's kernel protocols program only the namespace's main table.
 *
 * BIRD 3's kernel protocol programs nothing until its first scan, about a second after it starts: a lab is
 * warmed up (warmUp) with a node rendering before its observations count, and kernel protocols must then stay (a
 * reflector rendering has none: run those cases last).
 *
 * What one case yields, in terms both dialects share (observe()): the BGP sessions as BIRD reports them in
 * `show protocols all` (before and after the speaker brings them up) and as the speaker saw them on the wire, the
 * routes each session exported, the filter's decisions on probe routes, route counts per family and protocol
 * kind, and the routes in the namespace's kernel table.
 */
export interface LabCase {
  readonly files: FileSet;
  /** Probe routes per family, added by a static protocol beside the rendering (`probe4`, `probe6`). */
  readonly probes: Readonly<Record<4 | 6, readonly string[]>>;
  readonly sessions: readonly SpeakerSession[];
  /** The BGP export filter to ask about per family (node role); none for a reflector. */
  readonly exportFilter: boolean;
  /**
   * Read the kernel routes BIRD programs. BIRD 3 is slow at it in this lab (often over a second after a
   * reconfiguration, where 1.6 and 2 take milliseconds), so a random keyspace reads them only now and then.
   */
  readonly kernel: boolean;
}

interface SessionObservation {
  readonly neighbor: string | undefined;
  readonly neighborAs: number | undefined;
  /** The family's channel the session runs (BIRD 1.6: the daemon's family). */
  readonly channel: string | undefined;
  /** BGP state before the speaker dialled: `Passive` for `passive on`, `Active` for the side that dials. */
  readonly before: string | undefined;
  readonly established: boolean;
  /** The AS BIRD announced in its OPEN. */
  readonly localAs: number | undefined;
  /** `Session:` words once Established: internal/external, multihop, route-reflector, AS4. */
  readonly session: readonly string[] | undefined;
  readonly sourceAddress: string | undefined;
  /** Import and export filter, named as BIRD 1.6 names them (lab normalisation, see normaliseFilter). */
  readonly filters: readonly [string | undefined, string | undefined];
  /** What BIRD sent the speaker: prefix → CLUSTER_LIST. */
  readonly routes: Readonly<Record<string, readonly string[]>> | undefined;
}

export interface LabObservation {
  readonly configureErrors: readonly string[];
  readonly sessions: Readonly<Record<string, SessionObservation>>;
  /** Probe and table routes the BGP export filter accepts, per family (`show route filter`). */
  readonly accepted: Readonly<Record<4 | 6, readonly string[]>>;
  /** Routes imported per `family:kind` (kernel, static, direct, probe). */
  readonly counts: Readonly<Record<string, string>>;
  /** `ip route show proto bird`, per family, sorted. */
  readonly kernel: Readonly<Record<4 | 6, readonly string[]>>;
}

export interface DialectLab {
  readonly installed: InstalledBird;
  observe(c: LabCase): Promise<LabObservation>;
  /** Runs a node case and waits until the kernel protocols have scanned once (BIRD 3: about a second). */
  warmUp(c: LabCase): Promise<void>;
}

/** `ip route` types written before the destination (a unicast route starts with it). */
const ROUTE_TYPES: ReadonlySet<string> = new Set([
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'unicast',
]);

const family = (channel: string | undefined): 4 | 6 | undefined =>
  channel === 'ipv4' ? 4 : channel === 'ipv6' ? 6 : undefined;

/**
 * BIRD 2/3 names carry the family (`calico_pools_v4`); BIRD 1.6's do not. `calico_bgp_import_v4` is `accept;`
 * when rendered with `--ipip off` (the only mode this lab compares), which 1.6 shows as ACCEPT.
 */
function normaliseFilter(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const bare = name.replace(/_v[46]$/, '');
  return bare === 'calico_bgp_import' ? 'ACCEPT' : bare;
}

const bgpProtocolNames = (files: FileSet): string[] =>
  [...files.values()].flatMap((text) => [...text.matchAll(/^protocol bgp (\S+)/gm)].map((m) => m[1]!));

const prefixes = (lines: readonly { code: number; text: string }[]): string[] =>
  lines
    .filter((l) => l.code === 1007)
    .map((l) => l.text.trim().split(/\s+/, 1)[0]!)
    .filter((p) => p.includes('/'))
    .sort();

export async function startDialectLab(
  t: TeardownRegistrar,
  installed: InstalledBird,
  work: string,
  name: string,
): Promise<DialectLab> {
  const bird1 = installed.version.dialect === 'bird1';
  const dir = join(work, `${installed.version.text}-${name}`);
  mkdirSync(dir, { recursive: true });
  const ns = await createNamespace(t, 'bwdia');
  // Every address is local: the speaker binds any neighbor address, BIRD any source address. In the local table,
  // which is looked up before main once any rule exists (a rule keeps Linux from merging local and main into one
  // lookup, where the blackholes BIRD programs in main would shadow the local default).
  await execa('ip', ['-n', ns.name, '-4', 'rule', 'add', 'pref', '100', 'lookup', '100']);
  await execa('ip', ['-n', ns.name, '-4', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', 'local']);
  await execa('ip', ['-n', ns.name, '-6', 'route', 'add', 'local', '::/0', 'dev', 'lo', 'table', 'local']);
  await execa('ip', [
    'netns',
    'exec',
    ns.name,
    'sysctl',
    '-qw',
    'net.ipv4.ip_nonlocal_bind=1',
    'net.ipv6.ip_nonlocal_bind=1',
  ]);
  writeFileSync(join(dir, 'start.cfg'), 'router id 192.0.2.1;\nprotocol device {\n}\n');
  const start = async (name: string, binary: string): Promise<BirdProcess> => {
    const proc = await startBird({
      family: 4,
      binary,
      configPath: join(dir, 'start.cfg'),
      socketPath: join(dir, `${name}.ctl`),
      logFile: join(dir, `${name}.log`),
      wrapper: ns.exec,
    });
    t.teardown(() => proc.stop());
    return proc;
  };
  // BIRD 1.6: bird (IPv4) and bird6 (IPv6), each with its own main file; BIRD 2/3: one daemon, one bird.cfg.
  const daemons: { proc: BirdProcess; main: string; wrapper: string; families: readonly (4 | 6)[] }[] = bird1
    ? [
        { proc: await start('bird', installed.bird), main: 'bird.cfg', wrapper: 'probe4.cfg', families: [4] },
        { proc: await start('bird6', installed.bird6!), main: 'bird6.cfg', wrapper: 'probe6.cfg', families: [6] },
      ]
    : [{ proc: await start('bird', installed.bird), main: 'bird.cfg', wrapper: 'probe.cfg', families: [4, 6] }];
  const speaker: BgpSpeaker = await startBgpSpeaker(t, ns.exec);

  /** Runs `fn` on a daemon; if the daemon died meanwhile, the error says so with BIRD's last words (a BUG line). */
  async function diagnosed<T>(proc: BirdProcess, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (proc.running()) throw error;
      const last = (await proc.output()).split('\n').filter((l) => /<BUG>|<FATAL>|<ERR>/.test(l));
      throw new Error(`BIRD ${installed.version.text} died (${what}): ${last.slice(-2).join(' | ')}`, { cause: error });
    }
  }
  const command = (proc: BirdProcess, cmd: string) =>
    diagnosed(proc, cmd, () => runBirdCommand(proc.socketPath, cmd, { timeoutMs: 10_000 }));
  const configure = (proc: BirdProcess, configPath: string) =>
    diagnosed(proc, `configure "${configPath}"`, () =>
      configureBird(proc.socketPath, { configPath, timeoutMs: 10_000 }),
    );

  const probeProtocol = (f: 4 | 6, routes: readonly string[]): string =>
    [
      `protocol static probe${f} {`,
      ...(bird1 ? [] : [`  ipv${f};`]),
      ...routes.map((r) => `  route ${r} blackhole;`),
      '}',
      '',
    ].join('\n');

  /**
   * Every BGP protocol of the case is there (BIRD 3 adds them after its configure reply) and has left `Idle` (the
   * lock taken): `Passive` now means `passive on`.
   */
  async function settledStates(expected: readonly string[]): Promise<Map<string, string>> {
    // BIRD 1.6 takes seconds to start a thousand sessions (fixtures/mesh-1000).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const states = new Map<string, string>();
      let waiting = false;
      for (const d of daemons) {
        const reply = await command(d.proc, 'show protocols');
        for (const row of parseShowProtocols(reply.lines.filter((l) => l.code === 1002).map((l) => l.text))) {
          if (row.kind !== 'protocol' || row.proto !== 'BGP') continue;
          states.set(row.name, row.bgpState ?? row.state);
          if (row.bgpState === 'Idle' && row.lastError === undefined) waiting = true;
        }
      }
      if ((!waiting && expected.every((name) => states.has(name))) || Date.now() > deadline) return states;
      await delay(5);
    }
  }

  /** `show protocols all` once the static protocols hold every route they were given (BIRD 3 imports later). */
  async function settledDetails(
    expected: ReadonlyMap<string, number>,
  ): Promise<{ daemon: number; details: ProtocolDetails[] }[]> {
    const deadline = Date.now() + 3_000;
    for (;;) {
      const all = await Promise.all(
        daemons.map(async (d, daemon) => ({
          daemon,
          details: parseProtocolDetails((await command(d.proc, 'show protocols all')).lines),
        })),
      );
      const imported = new Map<string, number>();
      for (const { daemon, details } of all)
        for (const p of details)
          if (p.protocol.proto === 'Static')
            for (const c of p.channels)
              imported.set(
                `${daemons[daemon]!.families.length === 1 ? daemons[daemon]!.families[0] : family(c.name)}:${p.protocol.name.startsWith('probe') ? 'probe' : 'static'}`,
                c.routes?.imported ?? 0,
              );
      if ([...expected].every(([k, n]) => (imported.get(k) ?? 0) === n) || Date.now() > deadline) return all;
      await delay(10);
    }
  }

  // The namespace's routes from BIRD, kept current by one `ip monitor route` (one `ip route show` per family and
  // poll cost more than all of BIRD's work on a case).
  const kernelTable = new Map<string, { family: 4 | 6; line: string }>();
  const monitor = spawn('ip', ['-n', ns.name, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  killOnProcessExit(monitor);
  t.teardown(() => stopChild(monitor, 1_000));
  createInterface({ input: monitor.stdout }).on('line', (raw) => {
    if (!/ proto bird\b/.test(raw)) return;
    const deleted = raw.startsWith('Deleted ');
    const line = raw
      .replace(/^Deleted /, '')
      .replace(/ proto bird\b/, '')
      .trim()
      .replace(/\s+/g, ' ');
    const words = line.split(' ');
    const written = ROUTE_TYPES.has(words[0]!) ? words[1]! : words[0]!;
    const family = written.includes(':') ? 6 : 4;
    // `ip` writes a host route without its length; BIRD with it.
    const destination = written.includes('/') ? written : `${written}/${family === 4 ? 32 : 128}`;
    if (deleted) kernelTable.delete(`${family} ${destination}`);
    else kernelTable.set(`${family} ${destination}`, { family, line });
  });
  await delay(50); // the monitor is listening

  /**
   * The family's routes in the namespace's main table, once they are the ones BIRD exports to it (`show route
   * export <kernel protocol>`; kernel export is asynchronous, and BIRD 3 programs nothing before its first scan).
   */
  async function kernelRoutes(f: 4 | 6, daemon: (typeof daemons)[number], protocol: string): Promise<string[]> {
    const exported = new Set(prefixes((await command(daemon.proc, `show route export ${protocol}`)).lines));
    const deadline = Date.now() + 3_000;
    for (;;) {
      const routes = [...kernelTable.entries()].filter(([, r]) => r.family === f);
      const done = routes.length === exported.size && routes.every(([key]) => exported.has(key.slice(2)));
      if (done || Date.now() > deadline) return routes.map(([, r]) => r.line).sort();
      await delay(5);
    }
  }

  const wrapper = (d: (typeof daemons)[number], main: string, probes: LabCase['probes']): string =>
    [`include "${main}";`, ...d.families.map((f) => probeProtocol(f, probes[f]))].join('\n');

  /**
   * Ends the previous case's BGP sessions before the next case when the next one has a session of the same name:
   * its files again without `protocol bgp` blocks (the kernel, static and direct protocols stay as they are, so
   * BIRD keeps them running). That session then starts fresh: one whose connection had just closed would wait out
   * BIRD's error wait time and refuse the speaker.
   */
  let previous: { files: FileSet; probes: LabCase['probes']; dialled: ReadonlySet<string> } | undefined;
  async function retire(next: LabCase): Promise<void> {
    await speaker.round([], 0);
    if (!previous) return;
    const last = previous;
    if (last.dialled.size === 0) return;
    // The speaker's connections are closed; removing sessions BIRD still holds Established, by the thousand, has
    // crashed BIRD 3.3.2 here (`Assertion 'birdloop_inside(sl->loop)' failed at lib/event.c:161`): wait until BIRD
    // has seen them close.
    await until(async () => {
      const rows = await Promise.all(daemons.map(async (d) => (await command(d.proc, 'show protocols')).lines));
      return !rows.flat().some((l) => /^\S+\s+BGP\s.*Established/.test(l.text));
    });
    const names = [...next.files.values()].flatMap((text) =>
      [...text.matchAll(/^protocol bgp (\S+)/gm)].map((m) => m[1]!),
    );
    if (!names.some((name) => last.dialled.has(name))) return; // the next configure removes them
    await Promise.all(
      daemons.map(async (d) => {
        const main = last.files.get(d.main) ?? '';
        writeFileSync(join(dir, `nobgp-${d.main}`), main.replace(/^protocol bgp [^\n]*\{\n(?:[^\n]*\n)*?\}\n/gm, ''));
        writeFileSync(join(dir, `retire-${d.wrapper}`), wrapper(d, `nobgp-${d.main}`, last.probes));
        const r = await configure(d.proc, join(dir, `retire-${d.wrapper}`));
        if (!r.ok) throw new Error(`BIRD ${installed.version.text}: retiring the last case: ${r.message}`);
      }),
    );
    await until(async () => {
      const rows = await Promise.all(daemons.map(async (d) => (await command(d.proc, 'show protocols')).lines));
      return !rows.flat().some((l) => /^\S+\s+BGP\s/.test(l.text));
    });
  }

  /** Polls `done` every 5 ms, for up to 3 s. */
  async function until(done: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 3_000;
    while (!(await done()) && Date.now() < deadline) await delay(5);
  }

  const lab: DialectLab = {
    installed,
    async warmUp(c) {
      await lab.observe({ ...c, exportFilter: false, kernel: false });
      await delay(1_500);
    },
    async observe(c) {
      await retire(c);
      for (const [name, text] of c.files) writeFileSync(join(dir, name), text);
      for (const d of daemons) writeFileSync(join(dir, d.wrapper), wrapper(d, d.main, c.probes));
      const configured = await Promise.all(daemons.map((d) => configure(d.proc, join(dir, d.wrapper))));
      const configureErrors = configured.flatMap((r) => (r.ok ? [] : [`${r.code} ${r.message}`]));
      previous = { files: c.files, probes: c.probes, dialled: new Set(c.sessions.map((x) => x.id)) };
      if (configureErrors.length > 0)
        return { configureErrors, sessions: {}, accepted: { 4: [], 6: [] }, counts: {}, kernel: { 4: [], 6: [] } };

      const states = await settledStates(bgpProtocolNames(c.files));
      const wire = new Map((await speaker.round(c.sessions, 3_000 + 20 * c.sessions.length)).map((r) => [r.id, r]));
      // The probe protocols hold every probe (BIRD 3 imports after the configure reply).
      const expected = new Map<string, number>();
      for (const f of [4, 6] as const) {
        expected.set(`${f}:probe`, c.probes[f].length);
      }
      const all = await settledDetails(expected);

      const sessions: Record<string, SessionObservation> = {};
      const counts: Record<string, string> = {};
      const kernelProtocols: Partial<Record<4 | 6, { daemon: (typeof daemons)[number]; name: string }>> = {};
      for (const { daemon, details } of all) {
        const d = daemons[daemon]!;
        for (const p of details) {
          if (p.protocol.proto === 'BGP' && p.bgp) {
            const name = p.protocol.name;
            const channels = bird1 ? [{ ...p.channels[0], name: `ipv${d.families[0]}` }] : p.channels;
            const r = wire.get(name);
            sessions[name] = {
              neighbor: p.bgp.neighborAddress,
              neighborAs: p.bgp.neighborAs,
              channel: channels.length === 1 ? channels[0]!.name : `${channels.length} channels`,
              before: states.get(name),
              established: p.bgp.state === 'Established',
              localAs: r?.open?.as,
              session: p.bgp.session,
              sourceAddress: p.bgp.sourceAddress,
              filters: [normaliseFilter(channels[0]?.inputFilter), normaliseFilter(channels[0]?.outputFilter)],
              routes: r?.established ? r.routes : undefined,
            };
            // BIRD 2/3 print the local AS; the OPEN on the wire says it for 1.6 too: they must agree.
            if (p.bgp.localAs !== undefined && r?.open && p.bgp.localAs !== r.open.as)
              throw new Error(`${name}: Local AS ${p.bgp.localAs} but OPEN said ${r.open.as}`);
          } else if (['Kernel', 'Static', 'Direct'].includes(p.protocol.proto)) {
            const kind = p.protocol.name.startsWith('probe') ? 'probe' : p.protocol.proto.toLowerCase();
            for (const ch of p.channels) {
              const f = d.families.length === 1 ? d.families[0] : family(ch.name);
              // Imported only: BIRD 1.6's export counts keep counting across reconfigurations.
              counts[`${f}:${kind}`] = ch.routes ? `${ch.routes.imported} imported` : 'down';
              if (kind === 'kernel' && f !== undefined) kernelProtocols[f] = { daemon: d, name: p.protocol.name };
            }
          }
        }
      }

      const accepted: Record<4 | 6, string[]> = { 4: [], 6: [] };
      if (c.exportFilter)
        for (const f of [4, 6] as const) {
          const d = daemons.find((x) => x.families.includes(f))!;
          const cmd = bird1
            ? 'show route filter calico_pools'
            : `show route table master${f} filter calico_pools_v${f}`;
          accepted[f] = prefixes((await command(d.proc, cmd)).lines);
        }

      const kernelOf = async (f: 4 | 6): Promise<string[]> => {
        const k = kernelProtocols[f];
        return c.exportFilter && c.kernel && k ? kernelRoutes(f, k.daemon, k.name) : [];
      };
      const [kernel4, kernel6] = await Promise.all([kernelOf(4), kernelOf(6)]);
      const kernel = { 4: kernel4, 6: kernel6 };
      const sorted = <T>(o: Record<string, T>): Record<string, T> =>
        Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
      return { configureErrors, sessions: sorted(sessions), accepted, counts: sorted(counts), kernel };
    },
  };
  return lab;
}

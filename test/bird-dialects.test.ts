import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { parseBirdVersionOption } from '../src/bird/birdVersion.js';
import { familyBits, formatIPv4, formatIPv6, type AddressFamily } from '../src/model/address.js';
import { buildNodeModel } from '../src/model/buildNodeModel.js';
import { cidrContains, parseCidr, type Cidr } from '../src/model/cidr.js';
import { NodeConfigError } from '../src/model/errors.js';
import type { NodeModel } from '../src/model/nodeModel.js';
import type { ReflectorModel } from '../src/model/reflectorModel.js';
import { BIRD2_NODE_LAYOUT, BIRD2_REFLECTOR_LAYOUT, NODE_LAYOUT, REFLECTOR_LAYOUT } from '../src/render/layouts.js';
import { renderBird2FileSet, renderBird2ReflectorFileSet } from '../src/render/renderBird2FileSet.js';
import { renderFileSet } from '../src/render/renderFileSet.js';
import { renderReflectorFileSet } from '../src/render/renderReflectorFileSet.js';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { compileTemplateSet } from '../src/render/templateSet.js';
import { canCreateNamespaces } from './harness/netns.js';
import { fuzzCaseArb, landedHostile, NODE, validEntries } from './reliability/fuzzCase.js';
import { size } from './reliability/size.js';
import { scenarioModel, type ScenarioModel } from './support/bird2Goldens.js';
import type { SpeakerSession } from './support/bgpSpeaker.js';
import { bird16, birdOfVersion, isMissing, WANTED_BIRD2_VERSIONS } from './support/birdVersions.js';
import { startDialectLab, type DialectLab, type LabCase, type LabObservation } from './support/dialectLab.js';
import { listScenarios, loadScenario } from './support/fixtures.js';

/**
 * The BIRD 2/3 rendering makes the same routing as the BIRD 1.6 one (README "What is rendered"): for every fixture
 * and RANDOM_CASES random keyspaces (the fuzz generator's, hostile entries included), the 1.6 rendering runs in
 * BIRD 1.6 (bird + bird6) and the 2/3 rendering in each BIRD 2/3, each version in its own namespace
 * (support/dialectLab.ts), and every version must report the same:
 * - sessions, from `show protocols all` and the wire: neighbor, AS, channel family, passive side (the state before
 *   anyone dials), Established once the test speaker dials, the local AS in BIRD's OPEN, `Session:` (internal or
 *   external, multihop, route-reflector), source address (BIRD 2/3 accept a connection only at their configured
 *   source address), import and export filter;
 * - what each session exported to the speaker (prefixes, with the CLUSTER_LIST a reflector adds — its cluster id);
 * - the export filter's decisions on probe routes (each pool, a subnet and a host inside it, each block and a
 *   more-specific inside it, custom filters' prefixes, prefixes outside everything), via `show route filter`;
 * - route counts per family of the kernel, static (blocks), direct and probe protocols, and the kernel routes
 *   BIRD programs in the namespace (`ip route show proto bird`: `metric 0`, blackholes for blocks).
 * Compared as data, not text. BIRDWATCH_DIALECT_SEED picks another seed; BIRDWATCH_SOAK=1 runs 2,000 cases.
 */
const SEED = Number(process.env['BIRDWATCH_DIALECT_SEED'] ?? 20261206);
const RANDOM_CASES = Number(process.env['BIRDWATCH_DIALECT_CASES'] ?? size(300, 2_000));
t.setTimeout(size(240_000, 3_600_000));

const has16 = bird16();
const wanted = WANTED_BIRD2_VERSIONS.map((v) => ({ v, bird: birdOfVersion(v) }));
const missing = [
  ...(isMissing(has16) ? [has16.missing] : []),
  ...wanted.flatMap((w) => (isMissing(w.bird) ? [w.bird.missing] : [])),
];

if (!(await canCreateNamespaces())) {
  t.test('BIRD 1.6 vs 2/3', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else if (isMissing(has16) || wanted.every((w) => isMissing(w.bird))) {
  t.test('BIRD 1.6 vs 2/3', { skip: missing.join('; ') }, () => undefined);
} else {
  for (const m of missing) t.test(`a BIRD missing`, { skip: m }, () => undefined);
  const work = mkdtempSync(join(tmpdir(), 'birdwatch-dialects-'));
  // BIRDWATCH_DIALECT_KEEP=1 keeps the files and each BIRD's log (its path is in the first comment).
  if (process.env['BIRDWATCH_DIALECT_KEEP'] === '1') t.comment(`files and logs kept in ${work}`);
  else t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const sources = await loadTemplateSources();
  const templates = {
    node16: compileTemplateSet(sources, NODE_LAYOUT),
    reflector16: compileTemplateSet(sources, REFLECTOR_LAYOUT),
    node2: compileTemplateSet(sources, BIRD2_NODE_LAYOUT),
    reflector2: compileTemplateSet(sources, BIRD2_REFLECTOR_LAYOUT),
  };
  const started = performance.now();
  // Each lab's namespace and children add a process 'exit' hook (removed at teardown): eight labs pass Node's 10.
  process.setMaxListeners(100);
  /**
   * One lab per BIRD version, twice: the cases are shared between two such lanes. A case spends most of its time
   * waiting on BIRD (sessions, exports, the kernel), not computing, so two lanes nearly halve the file's time.
   */
  interface Lane {
    readonly reference: DialectLab;
    readonly others: readonly DialectLab[];
  }
  const LANES = 2;
  const startLane = async (lane: number): Promise<Lane> => {
    const [reference, ...others] = await Promise.all([
      startDialectLab(t, has16, work, `lane${lane}`),
      ...wanted.flatMap((w) => (isMissing(w.bird) ? [] : [startDialectLab(t, w.bird, work, `lane${lane}`)])),
    ]);
    return { reference: reference, others };
  };
  const lanes = await Promise.all(Array.from({ length: LANES }, (_, i) => startLane(i)));
  const versions = [lanes[0]!.reference, ...lanes[0]!.others].map((l) => l.installed.version.text);
  const parsedVersion = parseBirdVersionOption('2.0.12');
  if (!parsedVersion.ok) throw new Error(parsedVersion.reason);
  const bird2Version = parsedVersion.value;

  /** A dialect-neutral case: the 1.6 and 2/3 renderings of one model, its probes and the speaker's sessions. */
  interface DialectCase {
    readonly id: string;
    readonly bird1: LabCase;
    readonly bird2: LabCase;
  }

  const subnet = (c: Cidr, length: number): string | undefined => {
    if (length < c.prefixLength || length > familyBits(c.family)) return undefined;
    return `${c.family === 4 ? formatIPv4(c.network) : formatIPv6(c.network)}/${length}`;
  };
  const FIXED_PROBES: Readonly<Record<AddressFamily, readonly string[]>> = {
    4: [
      '10.99.1.0/24',
      '10.99.0.0/16',
      '10.98.0.0/24',
      '10.97.0.0/16',
      '10.96.1.0/24',
      '192.168.250.0/24',
      '203.0.113.0/24',
      '10.0.0.0/8',
    ],
    6: ['fd00:99::/32', 'fd00:98::/48', 'fd00:dead::/32', '2001:db8:ffff::/48', 'fd00::/16'],
  };
  /**
   * A custom filter that reads a BGP attribute (`bgp_path.len > 50`) decides differently on a route that has none,
   * by language: BIRD 1.6 stops with a runtime error (`Prefix, path, clist or eclist expected`: the route is
   * rejected), BIRD 2/3 read the attribute as empty and go on (README "What is rendered"). Probes are static
   * routes, so such a family gets no probes inside its pools (where the custom filter's decision would be the
   * last word); its blocks, the prefixes outside its pools and every BGP session's exports are still compared.
   */
  let languageDifferences = 0;
  const readsBgpAttribute = (body: string): boolean => /\bbgp_[a-z_]+/.test(body);

  /** Probe routes per family: what the export filter must decide on, beside the rendering's own block routes. */
  function probes(model: NodeModel): Record<4 | 6, string[]> {
    const out = { 4: [] as string[], 6: [] as string[] };
    for (const f of [4, 6] as const) {
      const family = f === 4 ? model.v4 : model.v6;
      const blocks = new Set(family.blocks.map((b) => b.text));
      const all = new Set<string>(FIXED_PROBES[f]);
      for (const p of family.pools)
        for (const len of [p.cidr.prefixLength, f === 4 ? 26 : 122, f === 4 ? 32 : 128])
          all.add(subnet(p.cidr, len) ?? p.cidr.text);
      for (const b of family.blocks) {
        const inner = subnet(b, b.prefixLength + 2);
        if (inner) all.add(inner);
      }
      let probes = [...all].filter((p) => !blocks.has(p));
      if (family.customFilters.some((c) => readsBgpAttribute(c.body))) {
        const parsed = (text: string) => parseCidr(text, f);
        const inPool = (text: string): boolean => {
          const c = parsed(text);
          return c.ok && family.pools.some((p) => cidrContains(p.cidr, c.value));
        };
        const before = probes.length;
        probes = probes.filter((p) => !inPool(p));
        if (probes.length < before) languageDifferences++;
      }
      out[f] = probes.sort();
    }
    return out;
  }

  let routerIds = 0;
  const nextRouterId = (avoid: string): string => {
    for (;;) {
      routerIds++;
      const id = `100.127.${(routerIds >> 8) & 255}.${routerIds & 255}`;
      if (id !== avoid && (routerIds & 255) !== 0) return id;
    }
  };

  function nodeSessions(model: NodeModel): SpeakerSession[] {
    return [model.v4, model.v6].flatMap((fam) =>
      fam.address === undefined
        ? []
        : fam.peers.map((p) => ({
            id: p.protocolName,
            family: fam.family,
            local: p.address.text,
            remote: fam.address!.text,
            as: p.asNumber,
            routerId: nextRouterId(model.routerId.text),
            ebgp: p.asNumber !== model.asNumber,
            announce: undefined,
          })),
    );
  }

  function reflectorSessions(model: ReflectorModel): SpeakerSession[] {
    return [model.v4, model.v6].flatMap((fam) =>
      fam.address === undefined
        ? []
        : fam.sessions.map((s, i) => ({
            id: s.protocolName,
            family: fam.family,
            local: s.address.text,
            remote: fam.address!.text,
            as: s.asNumber,
            routerId: nextRouterId(model.routerId.text),
            ebgp: s.asNumber !== s.localAsNumber,
            // One route per client: the reflector must pass it to the others with its cluster id.
            announce: fam.family === 4 ? `198.51.100.${i + 1}/32` : `2001:db8:ff::${(i + 1).toString(16)}/128`,
          })),
    );
  }

  /**
   * The speaker dials at most this many sessions a case (the first by name): BIRD reports every session's facts
   * anyway, and a 1,000-node mesh (fixtures/mesh-1000) would otherwise spend seconds per BIRD accepting 2,000.
   */
  const DIALLED = 64;
  const dialled = (sessions: SpeakerSession[]): SpeakerSession[] =>
    [...sessions].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, DIALLED);

  function dialectCase(id: string, built: ScenarioModel, kernel = true): DialectCase {
    if (built.kind === 'reflector') {
      const sessions = dialled(reflectorSessions(built.model));
      const common = { probes: { 4: [], 6: [] }, sessions, exportFilter: false, kernel: false };
      return {
        id,
        bird1: { files: renderReflectorFileSet(built.model, templates.reflector16).files, ...common },
        bird2: { files: renderBird2ReflectorFileSet(built.model, templates.reflector2).files, ...common },
      };
    }
    const model = built.model;
    const sessions = dialled(nodeSessions(model));
    const p = probes(model);
    const common = { probes: p, sessions, exportFilter: true, kernel };
    return {
      id,
      bird1: { files: renderFileSet(model, templates.node16, { ipip: 'off' }).files, ...common },
      bird2: {
        files: renderBird2FileSet(model, templates.node2, { ipip: 'off', bird: bird2Version }).files,
        ...common,
      },
    };
  }

  interface Tally {
    cases: number;
    sessions: number;
    established: number;
    passive: number;
    routesOnWire: number;
    clusterLists: number;
    accepted: number;
    kernelRoutes: number;
    slowest: { id: string; ms: number };
    dialled: number;
  }
  const tally = (): Tally => ({
    cases: 0,
    sessions: 0,
    established: 0,
    passive: 0,
    routesOnWire: 0,
    clusterLists: 0,
    accepted: 0,
    kernelRoutes: 0,
    slowest: { id: '', ms: 0 },
    dialled: 0,
  });
  const count = (into: Tally, o: LabObservation): void => {
    into.cases++;
    for (const s of Object.values(o.sessions)) {
      into.sessions++;
      if (s.established) into.established++;
      if (s.before === 'Passive') into.passive++;
      for (const list of Object.values(s.routes ?? {})) {
        into.routesOnWire++;
        if (list.length > 0) into.clusterLists++;
      }
    }
    into.accepted += o.accepted[4].length + o.accepted[6].length;
    into.kernelRoutes += o.kernel[4].length + o.kernel[6].length;
  };

  /** Runs one case in every lab of a lane; the differences of each BIRD 2/3 from BIRD 1.6, as short lines. */
  async function differences({ reference, others }: Lane, c: DialectCase, seen: Tally): Promise<string[]> {
    const caseStarted = performance.now();
    const [ref, ...rest] = await Promise.all([
      reference.observe(c.bird1),
      ...others.map((lab) => lab.observe(c.bird2)),
    ]);
    count(seen, ref);
    seen.dialled += c.bird1.sessions.length;
    const ms = Math.round(performance.now() - caseStarted);
    if (ms > seen.slowest.ms) seen.slowest = { id: c.id, ms };
    const problems: string[] = [];
    for (const [i, obs] of [ref, ...rest].entries()) {
      const version = i === 0 ? reference.installed.version.text : others[i - 1]!.installed.version.text;
      if (obs.configureErrors.length > 0)
        problems.push(`${c.id}: BIRD ${version} refused the configuration: ${obs.configureErrors.join('; ')}`);
    }
    rest.forEach((obs, i) => {
      const version = others[i]!.installed.version.text;
      const a = ref;
      const b = obs;
      const names = new Set([...Object.keys(a.sessions), ...Object.keys(b.sessions)]);
      for (const name of names) {
        const x = JSON.stringify(a.sessions[name]);
        const y = JSON.stringify(b.sessions[name]);
        if (x !== y) problems.push(`${c.id}: ${name}: BIRD 1.6 ${x} / BIRD ${version} ${y}`);
      }
      for (const key of ['accepted', 'counts', 'kernel'] as const) {
        const x = JSON.stringify(a[key]);
        const y = JSON.stringify(b[key]);
        if (x !== y) problems.push(`${c.id}: ${key}: BIRD 1.6 ${x} / BIRD ${version} ${y}`);
      }
    });
    return problems;
  }

  const report = (t: Test, what: string, problems: readonly string[], seen: Tally): void => {
    if (problems.length > 0) writeFileSync(join(work, `${what}-differences.txt`), problems.join('\n'));
    t.same(
      problems.slice(0, 8),
      [],
      `${what}: every BIRD 2/3 routes as BIRD 1.6 does (${problems.length} differences)`,
    );
    t.comment(`${what}: ${JSON.stringify(seen)} (BIRD ${versions.join(', ')}; ${LANES} lanes)`);
  };

  // Every fixture that renders (a node's error has nothing to run: golden-bird2 checks it), reflectors first: a
  // reflector's rendering has no kernel protocol, and BIRD 3's takes a second to program routes once (re-)added,
  // so the labs are warmed up once, after the reflectors.
  const fixtures = listScenarios()
    .flatMap((name) => {
      try {
        return [{ name, built: scenarioModel(loadScenario(name)) }];
      } catch (error) {
        if (error instanceof NodeConfigError) return [];
        throw error;
      }
    })
    .sort((a, b) => Number(a.built.kind === 'node') - Number(b.built.kind === 'node'));
  const warmUpCase = dialectCase('warm-up', fixtures.find((f) => f.built.kind === 'node')!.built);
  const warmUp = () =>
    Promise.all(
      lanes.flatMap(({ reference, others }) => [
        reference.warmUp(warmUpCase.bird1),
        ...others.map((lab) => lab.warmUp(warmUpCase.bird2)),
      ]),
    );

  /** Every case once, on whichever lane is free; the differences in case order. */
  async function runAll(cases: readonly (() => DialectCase | undefined)[], seen: Tally): Promise<string[]> {
    const found = new Map<number, string[]>();
    let next = 0;
    await Promise.all(
      lanes.map(async (lane) => {
        for (let i = next++; i < cases.length; i = next++) {
          const c = cases[i]!();
          if (c) found.set(i, await differences(lane, c, seen));
        }
      }),
    );
    return [...found].sort(([a], [b]) => a - b).flatMap(([, p]) => p);
  }

  t.test('the fixtures', async (t) => {
    const seen = tally();
    const problems: string[] = [];
    const run = (kind: ScenarioModel['kind']) =>
      fixtures
        .filter((f) => f.built.kind === kind)
        .map(
          ({ name, built }) =>
            () =>
              dialectCase(name, built),
        );
    problems.push(...(await runAll(run('reflector'), seen)));
    await warmUp();
    problems.push(...(await runAll(run('node'), seen)));
    report(t, 'fixtures', problems, seen);
    t.ok(seen.established >= 0.9 * seen.dialled, `sessions came up (${seen.established} of ${seen.dialled} dialled)`);
    t.ok(seen.passive > 0 && seen.passive < seen.sessions, 'both passive and active sides seen');
    t.ok(
      seen.routesOnWire > 0 && seen.clusterLists > 0,
      'routes exported on the wire, reflected ones with a cluster list',
    );
    t.ok(seen.accepted > 0 && seen.kernelRoutes > 0, 'filter decisions and kernel routes seen');
  });

  t.test(`${RANDOM_CASES} random keyspaces (seed ${SEED})`, async (t) => {
    const seen = tally();
    const problems: string[] = [];
    const cases = fc.sample(fuzzCaseArb, { seed: SEED, numRuns: RANDOM_CASES }).map((fuzz, i) => () => {
      const valid = validEntries(fuzz);
      const all = new Map(valid);
      for (const [key, h] of landedHostile(fuzz, valid)) all.set(key, h.value);
      let model: NodeModel;
      try {
        model = buildNodeModel(all, { nodeName: NODE });
      } catch (error) {
        if (error instanceof NodeConfigError) return undefined;
        throw error;
      }
      // Kernel routes on every tenth keyspace: BIRD 3 takes over a second for them here (support/dialectLab.ts).
      return dialectCase(`random ${i}`, { kind: 'node', model }, i % 10 === 0);
    });
    problems.push(...(await runAll(cases, seen)));
    report(t, 'random', problems, seen);
    t.comment(
      `${languageDifferences} families had a custom filter reading a BGP attribute: no probes inside their pools`,
    );
    t.ok(seen.cases >= RANDOM_CASES * 0.9, `${seen.cases} keyspaces ran`);
    t.ok(seen.established > 0 && seen.accepted > 0, 'sessions and filter decisions seen');
  });

  t.test('runtime', async (t) => {
    t.comment(`whole file: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}

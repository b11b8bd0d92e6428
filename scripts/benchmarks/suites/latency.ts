/**
 * latency: one new host key put → the new protocol listed by birdwatch's BIRD, interleaved round by round with the
 * bare floor (lib/floor.ts) making the same one-peer transition on a second BIRD; each pair gives a ratio.
 * Runs inside a live session (suites/live.ts).
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { benchNamespace } from '../lib/birdPair.js';
import { addedProtocols, assertReloadsAccepted, reloadMsOf, type Birdwatch } from '../lib/birdwatch.js';
import type { EtcdLab } from '../lib/etcdLab.js';
import { floorRound, floorWatch, pollVisible, RawBirdSocket, type FloorRound } from '../lib/floor.js';
import { physicalFloorBinary, startPhysicalFloor, type PhysicalFloor } from '../lib/physicalFloor.js';
import { startBird, type InstalledBird } from '../lib/harness.js';
import { extraHost } from '../lib/keyspace.js';
import { bare, table, type SummaryTable } from '../lib/markdown.js';
import { memoryOf } from '../lib/procfs.js';
import { pacingGapMs, type PacingFlags } from '../lib/pacing.js';
import { sleep, type Scope } from '../lib/scope.js';
import { count, median, ms, percentile, ratio } from '../lib/stats.js';
import type { Targets } from '../targets.js';

/** `, BIRD 2.0.12` in a row's scale and a verdict's name; nothing for BIRD 1.6 (the reference the targets are for). */
export const birdTag = (bird: string): string => (bird.startsWith('1.') ? '' : `, BIRD ${bird}`);

export interface LatencyResult {
  readonly nodes: number;
  /** The BIRD the session ran against (`1.6.8`, `2.0.12`). */
  readonly bird: string;
  /** Interleaved rounds: birdwatch's, then the floor's, alternately. */
  readonly rounds: number;
  /** put sent → the new protocol listed by `show protocols "NAME"` in birdwatch's BIRD. */
  readonly putToVisibleMs: number[];
  /** birdwatch's own `latencyMs`: first change seen by its watch → BIRD answered. */
  readonly latencyMs: number[];
  readonly cycleMs: number[];
  readonly validateMs: number[];
  readonly reloadMs: number[];
  /** The Node-side floor, round by round (lib/floor.ts). */
  readonly floor: FloorRound[];
  /** Per round: birdwatch's put → visible over the Node-side floor's of the round that follows it. */
  readonly ratios: number[];
  /** The physical floor, round by round (lib/physical-floor.c: no Node); empty with the reason when it cannot run. */
  readonly physical: FloorRound[];
  readonly physicalRatios: number[];
  readonly physicalMissing: string | undefined;
  /** Peak RSS (VmHWM) of the birdwatch process at the end of the session, kB. */
  readonly hwmKib: number;
}

/** Interleaved round pairs run before the measured ones and dropped (JIT warm-up). */
const WARMUP_ROUNDS = 3;

async function copyConfig(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) if (name.endsWith('.cfg')) await copyFile(join(from, name), join(to, name));
}

export async function measureLatency(
  scope: Scope,
  etcd: EtcdLab,
  bw: Birdwatch,
  dir: string,
  configDir: string,
  birdSocket: string,
  plan: { readonly nodes: number; readonly changes: number },
  options: PacingFlags & { readonly progress: (text: string) => void },
  bird: InstalledBird,
): Promise<LatencyResult> {
  // The floor's BIRD: a second bird, started on a copy of what birdwatch applied; each round it is given the file
  // birdwatch's BIRD just got, so it makes the same one-peer-added transition. It needs a namespace of its own: two
  // BIRDs in one namespace fight over the BGP port ("Cannot open listening socket"), which slows every configure.
  const floorNs = await benchNamespace(scope);
  const floorDir = join(dir, 'floor');
  await copyConfig(configDir, floorDir);
  const floorBird = await startBird({
    family: 4,
    binary: bird.bird,
    configPath: join(floorDir, 'bird.cfg'),
    socketPath: join(dir, 'floor-bird.ctl'),
    logFile: join(dir, 'floor-bird.log'),
    wrapper: floorNs.exec,
  });
  scope.teardown(() => floorBird.stop());
  const watch = await floorWatch(etcd.client, '/bench/floor/');
  scope.teardown(() => watch.cancel());
  const floorControl = await RawBirdSocket.open(floorBird.socketPath);
  const floorPoll = floorBird.socketPath;
  const bwPoll = birdSocket;
  scope.teardown(() => floorControl.close());

  // The physical floor's BIRD: a third one, making the same transition again, driven by a C program (no Node).
  const binary = await physicalFloorBinary();
  let physical: PhysicalFloor | undefined;
  const physicalDir = join(dir, 'physical');
  if ('path' in binary) {
    const physicalNs = await benchNamespace(scope);
    await copyConfig(configDir, physicalDir);
    const physicalBird = await startBird({
      family: 4,
      binary: bird.bird,
      configPath: join(physicalDir, 'bird.cfg'),
      socketPath: join(dir, 'physical-bird.ctl'),
      logFile: join(dir, 'physical-bird.log'),
      wrapper: physicalNs.exec,
    });
    scope.teardown(() => physicalBird.stop());
    physical = await startPhysicalFloor(
      scope,
      binary.path,
      etcd.endpoint,
      '/bench/physical/',
      physicalBird.socketPath,
      bird.bird,
    );
  }

  const r: { -readonly [K in keyof LatencyResult]: LatencyResult[K] } = {
    nodes: plan.nodes,
    bird: bird.version.text,
    rounds: plan.changes,
    putToVisibleMs: [],
    latencyMs: [],
    cycleMs: [],
    validateMs: [],
    reloadMs: [],
    floor: [],
    ratios: [],
    physical: [],
    physicalRatios: [],
    physicalMissing: 'missing' in binary ? binary.missing : undefined,
    hwmKib: Number.NaN,
  };
  let readyAt = performance.now();
  // The first WARMUP_ROUNDS pairs are run and dropped: V8 compiles the cycle's code on its first changes.
  for (let i = -WARMUP_ROUNDS; i < plan.changes; i++) {
    // Each birdwatch round starts once its pacing allows a reload at once: none waits for the pacer.
    await sleep(readyAt - performance.now());
    const host = extraHost('lat', 100, i + WARMUP_ROUNDS);
    const from = bw.lines.length;
    const sentAt = performance.now();
    await etcd.client.put(host.key).value(host.ip);
    const visibleAt = await pollVisible(bwPoll, host.protocol);
    const applied = await bw.waitFor((l) => l.fields['event'] === 'change-applied', {
      from,
      what: `change ${i} applied`,
    });
    const cycle = await bw.waitFor((l) => l.fields['event'] === 'configuration-applied', {
      from,
      what: `change ${i}: the cycle line`,
    });
    assertReloadsAccepted(cycle, `change ${i}`);
    if (!addedProtocols(cycle).includes(host.protocol))
      throw new Error(
        `change ${i}: the cycle did not add ${host.protocol} (${JSON.stringify(cycle.fields['changes'])})`,
      );
    const reloadMs = reloadMsOf(cycle, 'bird');
    readyAt = performance.now() + pacingGapMs(reloadMs, options) + 20;
    await copyConfig(configDir, floorDir);
    const floor = await floorRound(
      etcd.client,
      watch,
      `/bench/floor/${plan.nodes}/${i + WARMUP_ROUNDS}`,
      join(floorDir, 'bird.cfg'),
      floorControl,
      floorPoll,
      host.protocol,
      bird.bird,
    );
    let bare: FloorRound | undefined;
    if (physical) {
      await copyConfig(configDir, physicalDir);
      bare = await physical.round(
        `/bench/physical/${plan.nodes}/${i + WARMUP_ROUNDS}`,
        host.protocol,
        join(physicalDir, 'bird.cfg'),
      );
    }
    if (process.env['BENCH_DEBUG'])
      options.progress(
        `round ${i}: birdwatch ${(visibleAt - sentAt).toFixed(1)} ms, floor ${floor.totalMs.toFixed(1)} ms, physical ${bare?.totalMs.toFixed(1) ?? '—'} ms`,
      );
    if (i < 0) continue;
    r.floor.push(floor);
    r.ratios.push((visibleAt - sentAt) / floor.totalMs);
    if (bare) {
      r.physical.push(bare);
      r.physicalRatios.push((visibleAt - sentAt) / bare.totalMs);
    }
    r.putToVisibleMs.push(visibleAt - sentAt);
    r.latencyMs.push(Number(applied.fields['latencyMs']));
    r.cycleMs.push(Number(applied.fields['cycleMs']));
    r.validateMs.push(Number(applied.fields['validateMs']));
    r.reloadMs.push(reloadMs);
  }
  r.hwmKib = (await memoryOf(bw.pid)).hwmKib;
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// report

/** Per-round ratio (birdwatch round over the floor round beside it): median and spread. */
function roundRatios(l: LatencyResult, physical = false): { p10: number; p50: number; p90: number } {
  const ratios = physical ? l.physicalRatios : l.ratios;
  return { p10: percentile(ratios, 10), p50: median(ratios), p90: percentile(ratios, 90) };
}
const floorTotals = (l: LatencyResult, physical = false): number[] =>
  (physical ? l.physical : l.floor).map((f) => f.totalMs);
/** p90 of birdwatch's put → visible over p90 of the floor's. */
const p90Ratio = (l: LatencyResult, physical = false): number =>
  percentile(l.putToVisibleMs, 90) / percentile(floorTotals(l, physical), 90);

/** Judged against the physical floor (no Node); against the Node-side floor only where it could not run. */
export function latencyRows(l: LatencyResult, summary: SummaryTable, targets: Targets): void {
  const physical = l.physical.length > 0;
  const rr = roundRatios(l, physical);
  const r90 = p90Ratio(l, physical);
  const node = floorTotals(l);
  const nodeRatios = roundRatios(l);
  const floors = physical
    ? `physical ${bare(median(floorTotals(l, true)))} / ${ms(percentile(floorTotals(l, true), 90))}; Node-side ${bare(median(node))} / ${ms(percentile(node, 90))}`
    : `Node-side ${bare(median(node))} / ${ms(percentile(node, 90))} (no physical floor: ${l.physicalMissing})`;
  summary.add(
    [
      'put → protocol visible in BIRD, p50 / p90',
      `${count(l.nodes)} nodes${birdTag(l.bird)}, ${l.rounds} interleaved rounds`,
      `${bare(median(l.putToVisibleMs))} / ${ms(percentile(l.putToVisibleMs, 90))} (its own latencyMs p50 ${ms(median(l.latencyMs))})`,
      floors,
      `per round ${ratio(rr.p50)} [p10 ${ratio(rr.p10)}, p90 ${ratio(rr.p90)}]; p90/p90 ${ratio(r90)}` +
        (physical ? `; over the Node-side floor ${ratio(nodeRatios.p50)}, p90/p90 ${ratio(p90Ratio(l))}` : ''),
      `p50 ≤ ${targets.latencyP50Ratio}×, p90 ≤ ${targets.latencyP90Ratio}× ${physical ? 'the physical floor' : 'the Node-side floor'}`,
    ],
    {
      name: `put → visible at ${count(l.nodes)} nodes${birdTag(l.bird)}`,
      pass: rr.p50 <= targets.latencyP50Ratio && r90 <= targets.latencyP90Ratio,
      why: physical
        ? latencyMissReason(l, rr.p50, r90, targets)
        : `no physical floor in this run (${l.physicalMissing})`,
    },
  );
}

/** The floor's steps that birdwatch's own path to BIRD also takes (it does not wait for `bird -p`). */
const SHARED_STEPS = [
  ['etcdMs', 'put → event'],
  ['configureMs', 'configure'],
  ['visibleMs', 'listed'],
] as const;

/**
 * Why a latency target was missed, from the run's own rounds. birdwatch sends `configure` with the staged set while
 * `bird -p` checks it, so its path to BIRD is the floors' without `bird -p`, plus its own steps between the event
 * and `configure` (render, compare, classify, stage): what is left above the physical floor without `bird -p`, once
 * the shared steps' cost from Node (the Node-side floor against the physical one) is counted, is those steps'.
 */
function latencyMissReason(l: LatencyResult, p50Ratio: number, p90Ratio90: number, targets: Targets): string {
  const missed = [
    p50Ratio > targets.latencyP50Ratio ? `p50 ${ratio(p50Ratio)} > ${targets.latencyP50Ratio}×` : '',
    p90Ratio90 > targets.latencyP90Ratio ? `p90/p90 ${ratio(p90Ratio90)} > ${targets.latencyP90Ratio}×` : '',
  ].filter(Boolean);
  const step = (rounds: readonly FloorRound[], field: 'birdParseMs' | (typeof SHARED_STEPS)[number][0]): number =>
    median(rounds.map((f) => f[field]));
  const withoutParse = median(l.physical.map((f) => f.totalMs - f.birdParseMs));
  const shared = SHARED_STEPS.map(([field, label]) => ({
    label,
    fromNode: step(l.floor, field),
    fromC: step(l.physical, field),
  }));
  const nodeCost = shared.reduce((sum, s) => sum + Math.max(0, s.fromNode - s.fromC), 0);
  const own = median(l.putToVisibleMs) - withoutParse - nodeCost;
  return (
    `${missed.join(', ')} the physical floor (p50 ${ms(median(floorTotals(l, true)))}, of which \`bird -p\` ` +
    `${ms(step(l.physical, 'birdParseMs'))}, a step birdwatch's path to BIRD does not wait for). birdwatch took ` +
    `${ms(median(l.putToVisibleMs))} p50 against ${ms(withoutParse)} for the physical floor without \`bird -p\`. ` +
    `The steps it shares with that floor cost more from Node: ${shared.map((s) => `${s.label} ${ms(s.fromNode)} against ${ms(s.fromC)}`).join(', ')} ` +
    `(the Node-side floor against the physical one, p50s), ${ms(nodeCost)} in all. The remaining ` +
    `${ms(Math.max(0, own))} is birdwatch's own path from the event to \`configure\`: the revision gate's progress ` +
    'round trips to etcd (a change may span watched ranges: README "The datastore"), the hop to the cycle, and the ' +
    "cycle's render, compare, classify and stage (those four timed alone: 'Where a cycle's time goes')." +
    (p90Ratio90 > targets.latencyP90Ratio
      ? ` At p90 birdwatch is ${ratio(p90Ratio(l))} the Node-side floor's p90: the tail is its own steps' (each step's p90: ` +
        "'Where a cycle's time goes')."
      : '')
  );
}

export function latencyDetail(results: readonly LatencyResult[]): string[] {
  return [
    '### put → visible, against the physical and the Node-side floors',
    '',
    'One new host key per round (`/calico/bgp/v1/host/lat-N/ip_addr_v4`). A birdwatch round runs from just before the put',
    'to the moment `show protocols "Mesh_…"` (polled back to back on a raw control-socket connection) lists the new peer;',
    "rounds start only once birdwatch's pacer allows a reload at once. Right after each birdwatch round, a floor round on a",
    'second BIRD (its own namespace) making the same one-peer transition, with the file birdwatch had just written:',
    '*etcd* = put → event on a plain etcd3 watch; *bird -p* = a plain `child_process.spawn`, output ignored; *configure* =',
    'the command on a raw unix socket kept open → final reply line; *visible* = then polled as above. No staging, no',
    'fsync, nothing rendered. *Ratio per round* divides each birdwatch round by the floor round after it (median and',
    "p10–p90 spread); *its latencyMs* is birdwatch's own measure (its watch saw the change → BIRD answered). Values are",
    'p50 / p90 (nearest rank).',
    '',
    'Then a **physical floor** round on a third BIRD (its own namespace), the same transition again, with no Node in it',
    "(`scripts/benchmarks/lib/physical-floor.c`, one C process): the put is an HTTP/1.1 POST to etcd's own gRPC gateway",
    "on a kept-open connection (etcd passes it to its gRPC server in-process: one loopback hop more than a native client's",
    "put); the event is read from `etcdctl watch --prefix` (Go, etcd's own client on its native gRPC stream, one",
    'long-lived process, through a pipe); `bird -p` by posix_spawn + waitpid; `configure` on a control socket kept open;',
    '`show protocols "NAME"` on a fresh connection per poll until listed. The targets are judged against it.',
    '',
    table(
      [
        'Nodes',
        'BIRD',
        'Rounds',
        'birdwatch put → visible',
        'its latencyMs',
        'its cycle',
        'its validate',
        'its configure',
        'floor: etcd',
        'bird -p',
        'configure',
        'visible',
        'floor put → visible',
        'ratio per round p10 / p50 / p90',
        'physical: etcd',
        'bird -p',
        'configure',
        'visible',
        'physical put → visible',
        'ratio per round p10 / p50 / p90',
      ],
      results.map((l) => {
        const pp = (v: number[]): string => `${bare(median(v))} / ${bare(percentile(v, 90))}`;
        const f = (pick: (r: FloorRound) => number): string => pp(l.floor.map(pick));
        const g = (pick: (r: FloorRound) => number): string => (l.physical.length > 0 ? pp(l.physical.map(pick)) : '—');
        const rr = roundRatios(l);
        const pr = roundRatios(l, true);
        return [
          count(l.nodes),
          l.bird,
          String(l.rounds),
          pp(l.putToVisibleMs),
          pp(l.latencyMs),
          pp(l.cycleMs),
          pp(l.validateMs),
          pp(l.reloadMs),
          f((r) => r.etcdMs),
          f((r) => r.birdParseMs),
          f((r) => r.configureMs),
          f((r) => r.visibleMs),
          f((r) => r.totalMs),
          `${ratio(rr.p10)} / ${ratio(rr.p50)} / ${ratio(rr.p90)}`,
          g((r) => r.etcdMs),
          g((r) => r.birdParseMs),
          g((r) => r.configureMs),
          g((r) => r.visibleMs),
          g((r) => r.totalMs),
          l.physical.length > 0 ? `${ratio(pr.p10)} / ${ratio(pr.p50)} / ${ratio(pr.p90)}` : '—',
        ];
      }),
    ),
    '',
  ];
}

/**
 * The benchmarks of scripts/bench. Each returns raw samples; scripts/bench-report.ts turns them into tables.
 *
 * - latency: one new host key put → birdwatch's "change applied" (BIRD answered), with the floor measured in the
 *   same run on the same configuration: etcd put→watch event, `bird -p`, `bird6 -p`, one `configure`.
 * - storm: 200 new hosts put evenly over 1 s; reloads counted from the log; final `show protocols` compared.
 * - cold: process start → first "configuration applied"; peak RSS (VmHWM) right after.
 * - render: model + templates in this process (the built dist/ code, as shipped).
 * - idle: utime+stime of the birdwatch process over a quiet period.
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startBird } from '../test/harness/bird.js';
import {
  addedProtocols,
  BENCH_NODE,
  benchNamespace,
  bgpProtocols,
  clockTicksPerSecond,
  cpuTicksOf,
  extraHost,
  isApplyLine,
  memoryOf,
  reloadsOf,
  ROOT,
  sleep,
  startBirdPair,
  startBirdwatch,
  tempDir,
  withScope,
  type Birdwatch,
  type EtcdLab,
  type LogLine,
  type Scope,
} from './bench-lab.js';
import { countProtocols, floorRound, floorWatch, pollVisible, RawBirdSocket, type FloorRound } from './bench-floor.js';

export interface SessionOptions {
  /** Passed to birdwatch when set; its own default otherwise. */
  readonly minReloadIntervalMs: number | undefined;
  readonly maxReloadShare: number | undefined;
  readonly cpuProfDir: string | undefined;
  readonly progress: (text: string) => void;
}

// ---------------------------------------------------------------------------------------------------------
// results

export interface LatencyResult {
  readonly nodes: number;
  /** Interleaved rounds: birdwatch's, then the floor's, alternately. */
  readonly rounds: number;
  /** put sent → the new protocol listed by `show protocols "NAME"` in birdwatch's BIRD. */
  readonly putToVisibleMs: number[];
  /** birdwatch's own `latencyMs`: first change seen by its watch → BIRD answered. */
  readonly latencyMs: number[];
  readonly cycleMs: number[];
  readonly validateMs: number[];
  readonly reloadMs: number[];
  /** The bare floor, round by round (scripts/bench-floor.ts). */
  readonly floor: FloorRound[];
  /** Per round: birdwatch's put → visible over the floor's of the round that follows it. */
  readonly ratios: number[];
  /** Peak RSS (VmHWM) of the birdwatch process at the end of the session, kB. */
  readonly hwmKib: number;
}

export interface StormRun {
  /** `configure` commands sent during the storm (bird + bird6), from the log. */
  readonly reloads: number;
  readonly reloadsByDaemon: Record<string, number>;
  /** Cycles that reached BIRD (apply lines) during the storm. */
  readonly cycles: number;
  /** Sum of BIRD's `configure` answer times (bird), from the cycle lines, up to every host visible. */
  readonly reconfiguringMs: number;
  /** First put sent → every host visible: the storm's time. */
  readonly stormMs: number;
  /** Last put acknowledged → every new protocol listed by BIRD (`show protocols "Mesh_10_2xx_*"`, polled). */
  readonly visibleMs: number;
  /** `show protocols` lists exactly the expected Mesh_ set after the storm. */
  readonly exact: boolean;
  readonly detail: string;
  /** Each cycle: its log time after the first put was sent, and how many storm peers it added. */
  readonly timeline: string;
  /** First put sent → last put acknowledged. */
  readonly lastAckMs: number;
}

export interface StormResult {
  readonly nodes: number;
  readonly hosts: number;
  readonly spreadMs: number;
  readonly runs: StormRun[];
}

export interface ColdRun {
  /** Spawn → first "configuration applied" (`time`). */
  readonly coldMs: number;
  /** Spawn → "birdwatch starting" (Node start, module load, arguments). */
  readonly bootMs: number;
  /** "birdwatch starting" → "etcd synced" (connect, read everything, start the watch). */
  readonly syncMs: number;
  /** "etcd synced" → "configuration applied" (render, stage, validate, swap, configure). */
  readonly firstCycleMs: number;
  readonly validateMs: number;
  readonly reloadText: string;
  readonly hwmKib: number;
  readonly rssKib: number;
  readonly protocols: number;
}

export interface ColdResult {
  readonly nodes: number;
  readonly runs: ColdRun[];
}

export interface RenderResult {
  readonly nodes: number;
  readonly warmup: number;
  /** nodeRole().render: what a cycle runs (model + templates + summary). */
  readonly renderMs: number[];
  /** CPU time of this process during each render (user + system, GC threads too): contention shows as wall ≫ CPU. */
  readonly renderCpuMs: number[];
  readonly modelMs: number[];
  readonly templatesMs: number[];
  readonly bytes: number;
}

export interface AnatomyResult {
  readonly nodes: number;
  /** Step name → wall ms per cycle, in cycle order. */
  readonly steps: [string, number[]][];
}

export interface IdleResult {
  readonly nodes: number;
  readonly seconds: number;
  readonly cpuMs: number;
  /** CPU time in each sixth of the period, in order. */
  readonly windowsMs: number[];
  readonly logLines: number;
  /** What those lines say (distinct messages, at most five): what woke birdwatch while idle. */
  readonly logMessages: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------
// helpers

async function copyConfig(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) if (name.endsWith('.cfg')) await copyFile(join(from, name), join(to, name));
}

async function waitForProtocols(
  socket: string,
  check: (names: Set<string>) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Set<string>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const names = await bgpProtocols(socket);
    if (check(names)) return names;
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what} (BIRD has ${names.size} BGP protocols)`);
    await sleep(100);
  }
}

function assertReloadsAccepted(line: LogLine, what: string): void {
  for (const reload of reloadsOf(line)) {
    if (!reload.ok) throw new Error(`${what}: ${reload.daemon} did not accept the configuration: ${reload.text}`);
  }
}

/** Milliseconds BIRD took to answer `configure` for `daemon`, from the cycle line ("Reconfigured (8.1 ms)"). */
function reloadMsOf(line: LogLine | undefined, daemon: string): number {
  const text = (line?.fields['reload'] as Record<string, string> | undefined)?.[daemon];
  const m = text === undefined ? null : /\(([\d.]+) ms\)/.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

// ---------------------------------------------------------------------------------------------------------
// live session: one birdwatch beside a running BIRD, for latency, idle and storm

export interface LiveSessionPlan {
  readonly nodes: number;
  readonly changes: number;
  readonly idleSeconds: number;
  readonly stormRuns: number;
}

export interface LiveSessionResult {
  /** Peak RSS (VmHWM) of birdwatch at the end of the session, kB. */
  hwmKib: number;
  latency?: LatencyResult;
  idle?: IdleResult;
  storm?: StormResult;
}

export async function liveSession(
  etcd: EtcdLab,
  plan: LiveSessionPlan,
  options: SessionOptions,
): Promise<LiveSessionResult> {
  return withScope(async (scope) => {
    const dir = await tempDir(scope, `birdwatch-bench-${plan.nodes}-`);
    const ns = await benchNamespace(scope);
    const configDir = join(dir, 'config');
    const pair = await startBirdPair(scope, ns, dir, configDir, 'bw');
    const bw = await startBirdwatch(scope, {
      endpoint: etcd.endpoint,
      configDir,
      sockets: pair.sockets,
      minReloadIntervalMs: options.minReloadIntervalMs,
      maxReloadShare: options.maxReloadShare,
      cpuProfDir: options.cpuProfDir,
    });
    const first = await bw.waitFor(isApplyLine, { timeoutMs: 180_000, what: 'the first apply' });
    assertReloadsAccepted(first, 'first apply');
    const base = await waitForProtocols(
      pair.sockets.bird,
      (names) => names.size === plan.nodes - 1,
      `${plan.nodes - 1} mesh peers`,
    );
    const settleMs = pacingGapMs(Number.NaN, options) + 500;
    await bw.quiet(settleMs);
    const result: LiveSessionResult = { hwmKib: Number.NaN };
    if (plan.changes > 0) {
      options.progress(`latency at ${plan.nodes} nodes: ${plan.changes} changes`);
      result.latency = await measureLatency(scope, etcd, bw, dir, configDir, pair.sockets.bird, plan, options);
      await etcd.client.delete().prefix('/calico/bgp/v1/host/lat-');
      await waitForProtocols(pair.sockets.bird, (names) => names.size === base.size, 'the latency hosts to be removed');
      await bw.quiet(settleMs);
    }
    if (plan.idleSeconds > 0) {
      options.progress(
        `idle at ${plan.nodes} nodes: ${plan.idleSeconds} s (after ${IDLE_SETTLE_MS / 1000} s to settle)`,
      );
      await sleep(IDLE_SETTLE_MS);
      result.idle = await measureIdle(bw, plan);
    }
    if (plan.stormRuns > 0) {
      const runs: StormRun[] = [];
      for (let run = 0; run < plan.stormRuns; run++) {
        options.progress(`storm at ${plan.nodes} nodes: run ${run + 1}/${plan.stormRuns}`);
        runs.push(await stormRun(etcd, bw, pair.sockets.bird, base, run, options, settleMs));
      }
      result.storm = { nodes: plan.nodes, hosts: STORM_HOSTS, spreadMs: STORM_SPREAD_MS, runs };
    }
    result.hwmKib = (await memoryOf(bw.pid)).hwmKib;
    await bw.stop();
    return result;
  });
}

async function measureLatency(
  scope: Scope,
  etcd: EtcdLab,
  bw: Birdwatch,
  dir: string,
  configDir: string,
  birdSocket: string,
  plan: LiveSessionPlan,
  options: SessionOptions,
): Promise<LatencyResult> {
  // The floor's BIRD: a second bird, started on a copy of what birdwatch applied; each round it is given the file
  // birdwatch's BIRD just got, so it makes the same one-peer-added transition. It needs a namespace of its own: two
  // BIRDs in one namespace fight over the BGP port ("Cannot open listening socket"), which slows every configure.
  const floorNs = await benchNamespace(scope);
  const floorDir = join(dir, 'floor');
  await copyConfig(configDir, floorDir);
  const floorBird = await startBird({
    family: 4,
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

  const r: { -readonly [K in keyof LatencyResult]: LatencyResult[K] } = {
    nodes: plan.nodes,
    rounds: plan.changes,
    putToVisibleMs: [],
    latencyMs: [],
    cycleMs: [],
    validateMs: [],
    reloadMs: [],
    floor: [],
    ratios: [],
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
    const applied = await bw.waitFor((l) => l.msg === 'change applied', { from, what: `change ${i} applied` });
    const cycle = await bw.waitFor((l) => l.msg === 'configuration applied', {
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
    );
    if (process.env['BENCH_DEBUG'])
      options.progress(
        `round ${i}: birdwatch ${(visibleAt - sentAt).toFixed(1)} ms, floor ${floor.totalMs.toFixed(1)} ms`,
      );
    if (i < 0) continue;
    r.floor.push(floor);
    r.ratios.push((visibleAt - sentAt) / floor.totalMs);
    r.putToVisibleMs.push(visibleAt - sentAt);
    r.latencyMs.push(Number(applied.fields['latencyMs']));
    r.cycleMs.push(Number(applied.fields['cycleMs']));
    r.validateMs.push(Number(applied.fields['validateMs']));
    r.reloadMs.push(reloadMs);
  }
  r.hwmKib = (await memoryOf(bw.pid)).hwmKib;
  return r;
}

/** How long after a reload of `reloadMs` birdwatch's pacer holds the next one (its defaults unless overridden). */
export function pacingGapMs(reloadMs: number, options: SessionOptions): number {
  const share = options.maxReloadShare ?? 0.25;
  const paced = Number.isFinite(reloadMs) ? reloadMs * (1 / share - 1) : 250;
  return Math.max(paced, options.minReloadIntervalMs ?? 0);
}

/**
 * CPU time over the idle period, also per sixth of it: V8's memory reducer collects after activity, then it settles.
 */
async function measureIdle(bw: Birdwatch, plan: LiveSessionPlan): Promise<IdleResult> {
  const hz = await clockTicksPerSecond();
  const from = bw.lines.length;
  const start = performance.now();
  const ticks = [await cpuTicksOf(bw.pid)];
  for (let i = 1; i <= IDLE_WINDOWS; i++) {
    await sleep(start + (i * plan.idleSeconds * 1000) / IDLE_WINDOWS - performance.now());
    ticks.push(await cpuTicksOf(bw.pid));
  }
  const ms = (t: number): number => (t * 1000) / hz;
  return {
    nodes: plan.nodes,
    seconds: plan.idleSeconds,
    cpuMs: ms(ticks.at(-1)! - ticks[0]!),
    windowsMs: ticks.slice(1).map((t, i) => ms(t - ticks[i]!)),
    logLines: bw.lines.length - from,
    logMessages: [...new Set(bw.lines.slice(from).map((l) => String(l.msg)))].slice(0, 5),
  };
}

const IDLE_WINDOWS = 6;
/** Interleaved round pairs run before the measured ones and dropped (JIT warm-up). */
const WARMUP_ROUNDS = 3;
/** Quiet time before the idle period: what follows activity (a last GC) is not idleness. */
const IDLE_SETTLE_MS = 5_000;

const STORM_HOSTS = 200;
const STORM_SPREAD_MS = 1000;

async function stormRun(
  etcd: EtcdLab,
  bw: Birdwatch,
  birdSocket: string,
  base: ReadonlySet<string>,
  run: number,
  options: SessionOptions,
  settleMs: number,
): Promise<StormRun> {
  const tag = `storm${run}`;
  const octet = 200 + run;
  const hosts = Array.from({ length: STORM_HOSTS }, (_, i) => extraHost(tag, octet, i));
  const wanted = new Set(hosts.map((h) => h.protocol));
  const from = bw.lines.length;
  const poll = birdSocket;
  // 200 puts a second for one second: put i is sent at i × 5 ms (the last at 995 ms), without waiting for acks.
  const start = performance.now() + 20;
  const acks: Promise<number>[] = [];
  let lastAck = Number.POSITIVE_INFINITY;
  let visibleAt = Number.NaN;
  // Every 2 ms, how many of the storm's protocols BIRD lists; stops once all are there after the last ack.
  const watching = (async (): Promise<unknown> => {
    for (;;) {
      const n = await countProtocols(poll, `Mesh_10_${octet}_*`);
      const at = performance.now();
      if (n === STORM_HOSTS && at >= lastAck) {
        visibleAt = at;
        return undefined;
      }
      if (at - start > 60_000) return new Error(`storm: ${n}/${STORM_HOSTS} hosts visible after 60 s`);
      await sleep(2);
    }
  })().catch((error: unknown) => error);
  const firstSentAt = start;
  for (let i = 0; i < hosts.length; i++) {
    await sleep(start + (i * STORM_SPREAD_MS) / STORM_HOSTS - performance.now());
    const host = hosts[i]!;
    acks.push(
      etcd.client
        .put(host.key)
        .value(host.ip)
        .then(() => performance.now()),
    );
  }
  lastAck = Math.max(...(await Promise.all(acks)));
  const failed = await watching;
  if (failed instanceof Error) throw failed;
  if (failed !== undefined) throw new Error(String(failed));
  await bw.quiet(settleMs);
  const visibleWall = Date.now() - (performance.now() - visibleAt);
  const firstSentWall = Date.now() - (performance.now() - firstSentAt);
  const lines = bw.lines.slice(from).filter(isApplyLine);
  // BIRD's time reconfiguring: the cycles that answered before every host was visible (log time ≤ visible + 5 ms).
  const during = lines.filter((l) => l.time <= visibleWall + 5);
  const reconfiguringMs = during.reduce((sum, l) => sum + (reloadMsOf(l, 'bird') || 0), 0);
  const byDaemon: Record<string, number> = {};
  let refused = 0;
  for (const line of lines) {
    for (const reload of reloadsOf(line)) {
      byDaemon[reload.daemon] = (byDaemon[reload.daemon] ?? 0) + 1;
      if (!reload.ok) refused++;
    }
  }
  // When each cycle's log line came (ms after the first put was sent) and how many new peers it added.
  const timeline = lines
    .map((l) => `+${l.time - Math.round(firstSentWall)} ms: ${addedProtocols(l).filter((n) => wanted.has(n)).length}`)
    .join(', ');
  const names = await bgpProtocols(birdSocket);
  const expected = new Set([...base, ...wanted]);
  const missing = [...expected].filter((n) => !names.has(n));
  const extra = [...names].filter((n) => !expected.has(n));
  const exact = missing.length === 0 && extra.length === 0 && refused === 0;
  const detail = exact ? '' : `missing ${missing.length}, unexpected ${extra.length}, refused reloads ${refused}`;
  // Back to the base set for the next run.
  await etcd.client.delete().prefix(`/calico/bgp/v1/host/${tag}-`);
  await waitForProtocols(birdSocket, (n) => n.size === base.size, 'the storm hosts to be removed');
  await bw.quiet(settleMs);
  return {
    reloads: Object.values(byDaemon).reduce((a, b) => a + b, 0),
    reloadsByDaemon: byDaemon,
    cycles: lines.length,
    reconfiguringMs,
    stormMs: visibleAt - firstSentAt,
    visibleMs: visibleAt - lastAck,
    exact,
    detail,
    timeline,
    lastAckMs: lastAck - firstSentAt,
  };
}

// ---------------------------------------------------------------------------------------------------------
// cold start

export async function coldStart(
  etcd: EtcdLab,
  nodes: number,
  runs: number,
  options: SessionOptions,
): Promise<ColdResult> {
  return withScope(async (outer) => {
    const ns = await benchNamespace(outer);
    const result: ColdResult = { nodes, runs: [] };
    for (let run = 0; run < runs; run++) {
      options.progress(`cold start at ${nodes} nodes: run ${run + 1}/${runs}`);
      result.runs.push(
        await withScope(async (scope) => {
          // A config dir holding the smallest valid configuration, which BIRD runs: birdwatch has everything to do.
          const dir = await tempDir(scope, `birdwatch-cold-${nodes}-`);
          const configDir = join(dir, 'config');
          const pair = await startBirdPair(scope, ns, dir, configDir, 'cold');
          const bw = await startBirdwatch(scope, {
            endpoint: etcd.endpoint,
            configDir,
            sockets: pair.sockets,
            minReloadIntervalMs: options.minReloadIntervalMs,
            maxReloadShare: options.maxReloadShare,
            cpuProfDir: options.cpuProfDir,
          });
          const applied = await bw.waitFor((l) => l.msg === 'configuration applied', {
            timeoutMs: 180_000,
            what: 'the first apply',
          });
          const memory = await memoryOf(bw.pid);
          assertReloadsAccepted(applied, 'cold start');
          const starting = bw.lines.find((l) => l.msg === 'birdwatch starting');
          const synced = bw.lines.find((l) => l.msg === 'etcd synced');
          const protocols = (await bgpProtocols(pair.sockets.bird)).size;
          if (protocols !== nodes - 1)
            throw new Error(`cold start: BIRD runs ${protocols} BGP protocols, expected ${nodes - 1}`);
          await bw.stop();
          await pair.stop();
          return {
            coldMs: applied.time - bw.spawnedAt,
            bootMs: (starting?.time ?? Number.NaN) - bw.spawnedAt,
            syncMs: (synced?.time ?? Number.NaN) - (starting?.time ?? Number.NaN),
            firstCycleMs: applied.time - (synced?.time ?? Number.NaN),
            validateMs: Number(applied.fields['validateMs']),
            reloadText: JSON.stringify(applied.fields['reload']),
            hwmKib: memory.hwmKib,
            rssKib: memory.rssKib,
            protocols,
          };
        }),
      );
    }
    return result;
  });
}

// ---------------------------------------------------------------------------------------------------------
// render, in this process, on the built code

export async function renderBench(
  keyspace: ReadonlyMap<string, string>,
  nodes: number,
  runs: number,
  warmup: number,
): Promise<RenderResult> {
  const dist = (path: string): string => pathToFileURL(join(ROOT, 'dist', path)).href;
  const { nodeRole } = (await import(
    dist('controller/roleRenderer.js')
  )) as typeof import('../src/controller/roleRenderer.js');
  const { buildNodeModel } = (await import(
    dist('model/buildNodeModel.js')
  )) as typeof import('../src/model/buildNodeModel.js');
  const { renderFileSet } = (await import(
    dist('render/renderFileSet.js')
  )) as typeof import('../src/render/renderFileSet.js');
  const { loadTemplateSources } = (await import(
    dist('render/templateSources.js')
  )) as typeof import('../src/render/templateSources.js');
  const { compileTemplateSet } = (await import(
    dist('render/templateSet.js')
  )) as typeof import('../src/render/templateSet.js');
  const role = nodeRole(BENCH_NODE, 'off');
  const templates = compileTemplateSet(await loadTemplateSources(), role.layout);
  const time = (fn: () => unknown): number => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  let bytes = 0;
  for (let i = 0; i < warmup; i++)
    bytes = [...role.render(keyspace, templates).files.values()].reduce((n, c) => n + c.length, 0);
  const result: RenderResult = { nodes, warmup, renderMs: [], renderCpuMs: [], modelMs: [], templatesMs: [], bytes };
  const model = buildNodeModel(keyspace, { nodeName: BENCH_NODE });
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    result.renderMs.push(time(() => role.render(keyspace, templates)));
    const used = process.cpuUsage(cpu);
    result.renderCpuMs.push((used.user + used.system) / 1000);
    result.modelMs.push(time(() => buildNodeModel(keyspace, { nodeName: BENCH_NODE })));
    result.templatesMs.push(time(() => renderFileSet(model, templates, { ipip: 'off' })));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// cycle anatomy: birdwatch's own cycle steps, replayed in this process with its built functions

/**
 * One new host per cycle, the steps ConfigApplier runs, each timed: render, compare with the live set, stage the
 * whole set in a fresh directory, `bird -p` + `bird6 -p` (in parallel, as birdwatch does), swap the changed files
 * in (write temp + fsync + rename + directory fsync), remove the staging directory. `configure` is left out: the
 * latency benchmark reports BIRD's answer time from birdwatch's own log.
 */
export async function cycleAnatomy(
  keyspace: ReadonlyMap<string, string>,
  nodes: number,
  cycles: number,
): Promise<AnatomyResult> {
  const dist = (path: string): string => pathToFileURL(join(ROOT, 'dist', path)).href;
  const { nodeRole } = (await import(
    dist('controller/roleRenderer.js')
  )) as typeof import('../src/controller/roleRenderer.js');
  const { loadTemplateSources } = (await import(
    dist('render/templateSources.js')
  )) as typeof import('../src/render/templateSources.js');
  const { compileTemplateSet } = (await import(
    dist('render/templateSet.js')
  )) as typeof import('../src/render/templateSet.js');
  const { stageFileSet } = (await import(dist('apply/stagingDir.js'))) as typeof import('../src/apply/stagingDir.js');
  const { swapStagedFiles, writeFilesDurably } = (await import(
    dist('apply/swapFileSet.js')
  )) as typeof import('../src/apply/swapFileSet.js');
  const { validateStagedFileSet } = (await import(
    dist('controller/validateStaged.js')
  )) as typeof import('../src/controller/validateStaged.js');
  const { sameFileSet } = (await import(dist('render/fileSet.js'))) as typeof import('../src/render/fileSet.js');
  const { summarizeConfigChange } = (await import(
    dist('controller/diffSummary.js')
  )) as typeof import('../src/controller/diffSummary.js');
  const { StatementMemo } = (await import(
    dist('render/statementMemo.js')
  )) as typeof import('../src/render/statementMemo.js');
  return withScope(async (scope) => {
    const configDir = join(await tempDir(scope, 'birdwatch-anatomy-'), 'config');
    const role = nodeRole(BENCH_NODE, 'off');
    const templates = compileTemplateSet(await loadTemplateSources(), role.layout);
    const entries = new Map(keyspace);
    let live: ReadonlyMap<string, string> = role.render(entries, templates).files;
    const memo = new StatementMemo();
    await writeFilesDurably(configDir, live);
    const steps = new Map<string, number[]>();
    const time = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const value = await fn();
      const list = steps.get(name) ?? [];
      list.push(performance.now() - t0);
      steps.set(name, list);
      return value;
    };
    for (let i = 0; i < cycles; i++) {
      const host = extraHost('anatomy', 150, i);
      entries.set(host.key, host.ip);
      const rendered = await time('render (model + templates)', () => role.render(entries, templates));
      await time('compare with the live files', () => sameFileSet(rendered.files, live));
      await time(
        'classify for the apply guard: the change in BGP terms (statements parsed from their last parse)',
        () => summarizeConfigChange(live, rendered.files, memo),
      );
      const staged = await time('stage: fresh directory inside the config dir, every file written', () =>
        stageFileSet(configDir, rendered.files),
      );
      const failure = await time('validate: bird -p ‖ bird6 -p', () =>
        validateStagedFileSet(staged.dir, rendered.spans, { bird: 'bird', bird6: 'bird6' }),
      );
      if (failure) throw new Error(`anatomy: BIRD refused the configuration: ${failure.message}`);
      const changed = [...rendered.files.keys()].filter((name) => rendered.files.get(name) !== live.get(name));
      await time('swap: changed staged files, fsync + rename each, dir fsync', () =>
        swapStagedFiles(configDir, staged.dir, changed),
      );
      await time('remove the staging directory', () => staged.remove());
      live = rendered.files;
    }
    return { nodes, steps: [...steps] };
  });
}

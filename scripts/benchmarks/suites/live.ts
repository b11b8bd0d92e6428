/**
 * One birdwatch beside a running BIRD (and BIRD6), per mesh size and BIRD (`--bird 1.6,2.0.12`: BIRD 2/3 run one
 * daemon, birdwatch renders for it by its `--version`), for the suites that need it running: latency, idle and
 * storm, in that order; its peak RSS (VmHWM) at the end of the session is reported too.
 */
import { join } from 'node:path';
import { benchBird, benchNamespace, startBirdPair, waitForProtocols } from '../lib/birdPair.js';
import { assertReloadsAccepted, isApplyLine, startBirdwatch } from '../lib/birdwatch.js';
import type { EtcdLab } from '../lib/etcdLab.js';
import type { SummaryTable } from '../lib/markdown.js';
import { pacingGapMs, type PacingFlags } from '../lib/pacing.js';
import { IMPORT_ETCD3, peakRssOfNodeProgram, SHIPPED_ENV } from '../lib/memoryFloor.js';
import { memoryOf } from '../lib/procfs.js';
import { sleep, tempDir, withScope } from '../lib/scope.js';
import { count, kibToMb, mb } from '../lib/stats.js';
import type { Targets } from '../targets.js';
import { IDLE_SETTLE_MS, measureIdle, type IdleResult } from './idle.js';
import { birdTag, measureLatency, type LatencyResult } from './latency.js';
import { STORM_HOSTS, STORM_SPREAD_MS, stormRun, type StormResult, type StormRun } from './storm.js';

export interface SessionOptions extends PacingFlags {
  readonly cpuProfDir: string | undefined;
  readonly progress: (text: string) => void;
}

export interface LiveSessionPlan {
  readonly nodes: number;
  /** The BIRD (`1.6`, `2.0.12`: lib/birdPair.ts benchBird). */
  readonly bird: string;
  readonly changes: number;
  readonly idleSeconds: number;
  readonly stormRuns: number;
}

export interface LiveSessionResult {
  /** The BIRD it ran against (`1.6.8`, `2.0.12`). */
  bird: string;
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
    const bird = benchBird(plan.bird);
    const pair = await startBirdPair(scope, ns, dir, configDir, 'bw', bird);
    const bw = await startBirdwatch(scope, {
      endpoint: etcd.endpoint,
      configDir,
      sockets: pair.sockets,
      minReloadIntervalMs: options.minReloadIntervalMs,
      maxReloadShare: options.maxReloadShare,
      cpuProfDir: options.cpuProfDir,
      extraArgs: ['--bird', bird.bird],
      // As packaging/ runs it: the memory targets are set for the shipped flags.
      env: SHIPPED_ENV,
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
    const result: LiveSessionResult = { bird: bird.version.text, hwmKib: Number.NaN };
    if (plan.changes > 0) {
      options.progress(`latency at ${plan.nodes} nodes, BIRD ${bird.version.text}: ${plan.changes} changes`);
      result.latency = await measureLatency(scope, etcd, bw, dir, configDir, pair.sockets.bird, plan, options, bird);
      await etcd.client.delete().prefix('/calico/bgp/v1/host/lat-');
      await waitForProtocols(pair.sockets.bird, (names) => names.size === base.size, 'the latency hosts to be removed');
      await bw.quiet(settleMs);
    }
    if (plan.idleSeconds > 0) {
      options.progress(
        `idle at ${plan.nodes} nodes: ${plan.idleSeconds} s (after ${IDLE_SETTLE_MS / 1000} s to settle)`,
      );
      await sleep(IDLE_SETTLE_MS);
      result.idle = await measureIdle(bw, etcd.endpoint, plan);
    }
    if (plan.stormRuns > 0) {
      const runs: StormRun[] = [];
      for (let run = 0; run < plan.stormRuns; run++) {
        options.progress(`storm at ${plan.nodes} nodes, BIRD ${bird.version.text}: run ${run + 1}/${plan.stormRuns}`);
        runs.push(await stormRun(etcd, bw, pair.sockets.bird, base, run, settleMs));
      }
      result.storm = {
        nodes: plan.nodes,
        bird: bird.version.text,
        hosts: STORM_HOSTS,
        spreadMs: STORM_SPREAD_MS,
        runs,
      };
    }
    result.hwmKib = (await memoryOf(bw.pid)).hwmKib;
    await bw.stop();
    return result;
  });
}

/** Peak RSS of the session's birdwatch, one row per size; judged where a target is set for the size. */
export function sessionRssRows(
  m: { nodes: number; bird?: string; hwmKib: number },
  floor: RssFloor | undefined,
  summary: SummaryTable,
  targets: Targets,
): void {
  const target = targets.peakRssMb[m.nodes];
  const at = `${count(m.nodes)} nodes${birdTag(m.bird ?? '1.6')}`;
  summary.add(
    [
      'Peak RSS of the running birdwatch (VmHWM at the end of its session; shipped flags)',
      at,
      mb(m.hwmKib),
      floor === undefined ? '—' : `node + etcd3 alone ${mb(floor.etcd3Kib)}`,
      '—',
      target === undefined ? '—' : `≤ ${target} MB`,
    ],
    target === undefined
      ? undefined
      : {
          name: `peak RSS at ${at}`,
          pass: kibToMb(m.hwmKib) <= target,
          why:
            floor === undefined
              ? undefined
              : `node alone peaks at ${mb(floor.nodeKib)} and node with the etcd client loaded at ${mb(floor.etcd3Kib)} ` +
                `(both with the shipped flags, this run), which leaves ${mb(Math.max(0, target * 976.5625 - floor.etcd3Kib))} ` +
                `of the target for everything birdwatch holds; it used ${mb(m.hwmKib - floor.etcd3Kib)} above that floor ` +
                '(what holds it: `scripts/bench memory --heap`, README "Benchmarks").',
        },
  );
}

/** Peak RSS (kB) of node alone and of node with etcd3 loaded, with the shipped flags. */
export interface RssFloor {
  readonly nodeKib: number;
  readonly etcd3Kib: number;
}

export function measureRssFloor(): RssFloor {
  return {
    nodeKib: peakRssOfNodeProgram([], '', SHIPPED_ENV),
    etcd3Kib: peakRssOfNodeProgram([], IMPORT_ETCD3, SHIPPED_ENV),
  };
}

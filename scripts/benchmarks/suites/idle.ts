/**
 * idle: utime + stime of the running birdwatch over a quiet period, also per sixth of it (V8's memory reducer
 * collects after activity, then it settles), and what it asked etcd meanwhile (etcd's own request counters).
 * Runs inside a live session (suites/live.ts).
 */
import type { Birdwatch } from '../lib/birdwatch.js';
import type { SummaryTable } from '../lib/markdown.js';
import { clockTicksPerSecond, cpuTicksOf } from '../lib/procfs.js';
import { sleep } from '../lib/scope.js';
import { count, ms } from '../lib/stats.js';

export interface IdleResult {
  readonly nodes: number;
  readonly seconds: number;
  readonly cpuMs: number;
  /** CPU time in each sixth of the period, in order. */
  readonly windowsMs: number[];
  readonly logLines: number;
  /** What those lines say (distinct messages, at most five): what woke birdwatch while idle. */
  readonly logMessages: readonly string[];
  /** Messages etcd received on watch streams (progress requests: birdwatch's check for a frozen member). */
  readonly watchMessages: number;
  /** Unary requests etcd handled (reads, writes, leases…): none is expected while idle. */
  readonly unaryRequests: number;
}

/** What birdwatch does periodically while idle, by design (README "The datastore", "Reliability"). */
const PERIODIC_DUTIES =
  'a progress request on its watch after each quarter of --etcd-stale-after (5 s) without news, to notice a frozen ' +
  'etcd member; `show status` to each BIRD and a stat of the live files every 2 s, to notice a restarted BIRD or ' +
  'drifted files; the liveness heartbeat every 2 s';

const IDLE_WINDOWS = 6;
/** Quiet time before the idle period: what follows activity (a last GC) is not idleness. */
export const IDLE_SETTLE_MS = 5_000;

/** etcd's gRPC counters from its /metrics: messages received on Watch streams, unary RPCs handled. */
async function etcdRequestCounts(endpoint: string): Promise<{ watchMessages: number; unary: number }> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  let watchMessages = 0;
  let unary = 0;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('grpc_server_msg_received_total{') && line.includes('grpc_method="Watch"'))
      watchMessages += value;
    if (line.startsWith('grpc_server_handled_total{') && line.includes('grpc_type="unary"')) unary += value;
  }
  return { watchMessages, unary };
}

export async function measureIdle(
  bw: Birdwatch,
  etcdEndpoint: string,
  plan: { nodes: number; idleSeconds: number },
): Promise<IdleResult> {
  const hz = await clockTicksPerSecond();
  const from = bw.lines.length;
  const etcdBefore = await etcdRequestCounts(etcdEndpoint);
  const start = performance.now();
  const ticks = [await cpuTicksOf(bw.pid)];
  for (let i = 1; i <= IDLE_WINDOWS; i++) {
    await sleep(start + (i * plan.idleSeconds * 1000) / IDLE_WINDOWS - performance.now());
    ticks.push(await cpuTicksOf(bw.pid));
  }
  const toMs = (t: number): number => (t * 1000) / hz;
  const etcdAfter = await etcdRequestCounts(etcdEndpoint);
  return {
    watchMessages: etcdAfter.watchMessages - etcdBefore.watchMessages,
    // The two /metrics scrapes are HTTP, not gRPC: not counted.
    unaryRequests: etcdAfter.unary - etcdBefore.unary,
    nodes: plan.nodes,
    seconds: plan.idleSeconds,
    cpuMs: toMs(ticks.at(-1)! - ticks[0]!),
    windowsMs: ticks.slice(1).map((t, i) => toMs(t - ticks[i]!)),
    logLines: bw.lines.length - from,
    logMessages: [...new Set(bw.lines.slice(from).map((l) => String(l.msg)))].slice(0, 5),
  };
}

/**
 * Idle is judged on what birdwatch asks of others: no etcd request but the watch's progress requests, no log line.
 * Its CPU time is stated per minute with what it pays for (README "Benchmarks").
 */
export function idleRows(i: IdleResult, summary: SummaryTable): void {
  const perMinute = (v: number): number => (v * 60) / i.seconds;
  const percent = (i.cpuMs / (i.seconds * 1000)) * 100;
  const quiet = i.unaryRequests === 0 && i.logLines === 0;
  summary.add(
    [
      'Idle: CPU time of birdwatch (utime + stime), and its requests to etcd',
      `${count(i.nodes)} nodes, ${i.seconds} s`,
      `${ms(perMinute(i.cpuMs))} CPU per minute (${percent.toFixed(3)} % of a core; per ${+(i.seconds / i.windowsMs.length).toFixed(1)} s: ${i.windowsMs.map((w) => w.toFixed(0)).join(', ')} ms); etcd: ${perMinute(i.watchMessages).toFixed(0)} watch messages and ${perMinute(i.unaryRequests).toFixed(0)} other requests per minute; ${i.logLines} log lines${i.logMessages.length > 0 ? `: ${i.logMessages.map((m) => JSON.stringify(m)).join(', ')}` : ''}`,
      '—',
      '—',
      'no etcd request but progress requests, no log line; CPU stated',
    ],
    {
      name: 'idle: periodic checks only',
      pass: quiet,
      why: quiet
        ? undefined
        : `${i.unaryRequests} etcd requests and ${i.logLines} log lines in ${i.seconds} idle seconds${i.logMessages.length > 0 ? ` (${i.logMessages.join('; ')})` : ''}.`,
    },
  );
  summary.note(
    `Idle CPU, ${ms(perMinute(i.cpuMs))} a minute, is what birdwatch does periodically by design: ${PERIODIC_DUTIES}.`,
  );
}

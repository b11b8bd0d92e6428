/**
 * idle: utime + stime of the running birdwatch over a quiet period, also per sixth of it (V8's memory reducer
 * collects after activity, then it settles). Runs inside a live session (suites/live.ts).
 */
import type { Birdwatch } from '../lib/birdwatch.js';
import type { SummaryTable } from '../lib/markdown.js';
import { clockTicksPerSecond, cpuTicksOf } from '../lib/procfs.js';
import { sleep } from '../lib/scope.js';
import { count, ms } from '../lib/stats.js';
import type { Targets } from '../targets.js';

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

const IDLE_WINDOWS = 6;
/** Quiet time before the idle period: what follows activity (a last GC) is not idleness. */
export const IDLE_SETTLE_MS = 5_000;

export async function measureIdle(bw: Birdwatch, plan: { nodes: number; idleSeconds: number }): Promise<IdleResult> {
  const hz = await clockTicksPerSecond();
  const from = bw.lines.length;
  const start = performance.now();
  const ticks = [await cpuTicksOf(bw.pid)];
  for (let i = 1; i <= IDLE_WINDOWS; i++) {
    await sleep(start + (i * plan.idleSeconds * 1000) / IDLE_WINDOWS - performance.now());
    ticks.push(await cpuTicksOf(bw.pid));
  }
  const toMs = (t: number): number => (t * 1000) / hz;
  return {
    nodes: plan.nodes,
    seconds: plan.idleSeconds,
    cpuMs: toMs(ticks.at(-1)! - ticks[0]!),
    windowsMs: ticks.slice(1).map((t, i) => toMs(t - ticks[i]!)),
    logLines: bw.lines.length - from,
    logMessages: [...new Set(bw.lines.slice(from).map((l) => String(l.msg)))].slice(0, 5),
  };
}

export function idleRows(i: IdleResult, summary: SummaryTable, targets: Targets): void {
  const percent = (i.cpuMs / (i.seconds * 1000)) * 100;
  summary.add(
    [
      'Idle: CPU time of birdwatch (utime + stime)',
      `${count(i.nodes)} nodes, ${i.seconds} s`,
      `${ms(i.cpuMs)} (${percent.toFixed(3)} % of a core; per ${+(i.seconds / i.windowsMs.length).toFixed(1)} s: ${i.windowsMs.map((w) => w.toFixed(0)).join(', ')} ms; ${i.logLines} log lines${i.logMessages.length > 0 ? `: ${i.logMessages.map((m) => JSON.stringify(m)).join(', ')}` : ''})`,
      '—',
      '—',
      `${targets.idleCpuMs} ms (not one clock tick)`,
    ],
    { name: 'idle CPU', pass: i.cpuMs <= targets.idleCpuMs },
  );
}

/**
 * storm: 200 new hosts put evenly over 1 s into a running birdwatch's mesh; the share of the storm's time BIRD
 * spends reconfiguring (from birdwatch's cycle lines), last put → every host visible (polled on BIRD), and the
 * final `show protocols` compared with the exact expected set. Runs inside a live session (suites/live.ts).
 */
import { bgpProtocols, waitForProtocols } from '../lib/birdPair.js';
import { addedProtocols, isApplyLine, reloadMsOf, reloadsOf, type Birdwatch } from '../lib/birdwatch.js';
import type { EtcdLab } from '../lib/etcdLab.js';
import { countProtocols } from '../lib/floor.js';
import { extraHost } from '../lib/keyspace.js';
import { bare, list, table, type SummaryTable } from '../lib/markdown.js';
import { sleep } from '../lib/scope.js';
import { count, median, ms, pct } from '../lib/stats.js';
import type { Targets } from '../targets.js';
import { birdTag } from './latency.js';

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
  /** The BIRD the session ran against (`1.6.8`, `2.0.12`): BIRD 1.6 reloads bird and bird6, BIRD 2/3 one bird. */
  readonly bird: string;
  readonly hosts: number;
  readonly spreadMs: number;
  readonly runs: StormRun[];
}

export const STORM_HOSTS = 200;
export const STORM_SPREAD_MS = 1000;

export async function stormRun(
  etcd: EtcdLab,
  bw: Birdwatch,
  birdSocket: string,
  base: ReadonlySet<string>,
  run: number,
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
// report

const stormShare = (r: StormRun): number => r.reconfiguringMs / r.stormMs;

export function stormRows(s: StormResult, summary: SummaryTable, targets: Targets): void {
  const scale = `${count(s.nodes)} nodes${birdTag(s.bird)} + ${s.hosts} hosts at ${s.hosts / (s.spreadMs / 1000)}/s`;
  const at = `${count(s.nodes)} nodes${birdTag(s.bird)}`;
  const shares = s.runs.map(stormShare);
  const visible = s.runs.map((r) => r.visibleMs);
  const exact = s.runs.filter((r) => r.exact).length;
  const visibleTarget = targets.stormVisibleMs[s.nodes];
  summary.add(
    [
      "Storm: BIRD reconfiguring, share of the storm's time (median of runs)",
      scale,
      `${pct(median(shares))} (runs: ${shares.map(pct).join(', ')}; reloads ${s.runs.map((r) => r.reloads).join(', ')})`,
      '—',
      '—',
      `≤ ${targets.stormReconfiguringShare * 100} %`,
    ],
    {
      name: `storm reconfiguring share at ${at}`,
      pass: median(shares) <= targets.stormReconfiguringShare,
    },
  );
  summary.add(
    [
      'Storm: last put → every host visible (median of runs)',
      scale,
      `${ms(median(visible))} (runs: ${list(visible, bare)})`,
      '—',
      '—',
      visibleTarget === undefined ? '—' : `≤ ${visibleTarget} ms`,
    ],
    visibleTarget === undefined
      ? undefined
      : { name: `storm visible at ${at}`, pass: median(visible) <= visibleTarget },
  );
  summary.add(['Storm: final `show protocols` exact', scale, `${exact}/${s.runs.length} runs`, '—', '—', 'exact'], {
    name: `storm final state at ${at}`,
    pass: exact === s.runs.length,
  });
}

export function stormDetail(s: StormResult): string[] {
  return [
    `### Storm at ${count(s.nodes)} nodes${birdTag(s.bird)}`,
    '',
    `${s.hosts} new hosts put into a ${count(s.nodes)}-node mesh at ${s.hosts / (s.spreadMs / 1000)} puts/s (put i sent at i × ${s.spreadMs / s.hosts} ms, without`,
    "waiting for acknowledgements). *Storm's time* runs from the first put to every new `Mesh_` protocol listed by BIRD",
    '(`show protocols "Mesh_10_2xx_*"` counted every 2 ms on a raw socket); *BIRD reconfiguring* is the sum of the',
    "`configure` answer times birdwatch logged for bird in that time; *visible* runs from the last put's acknowledgement.",
    'With BIRD 2/3 one daemon (bird) holds both families: every change is one reload of it.',
    'The final state is `show protocols` compared with the exact expected set once birdwatch was quiet.',
    '',
    table(
      [
        'Run',
        'Reloads (per daemon)',
        'Last put acknowledged',
        'Cycles: logged at (after the first put) and peers added',
        "BIRD reconfiguring / storm's time",
        'Last put → every host visible',
        'Final state',
      ],
      s.runs.map((r, i) => [
        String(i + 1),
        `${r.reloads} (${Object.entries(r.reloadsByDaemon)
          .map(([d, n]) => `${d} ${n}`)
          .join(', ')})`,
        `+${Math.round(r.lastAckMs)} ms`,
        r.timeline,
        `${ms(r.reconfiguringMs)} / ${ms(r.stormMs)} = ${pct(stormShare(r))}`,
        ms(r.visibleMs),
        r.exact ? 'exact' : `**wrong**: ${r.detail}`,
      ]),
    ),
    '',
  ];
}

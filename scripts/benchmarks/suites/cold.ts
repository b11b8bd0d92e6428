/**
 * cold: process start → first "configuration applied" (BIRD and BIRD6 reloaded, N−1 mesh sessions running), with
 * the phases from the log, and the peak RSS (VmHWM) right after.
 */
import { join } from 'node:path';
import { benchNamespace, bgpProtocols, startBirdPair } from '../lib/birdPair.js';
import { assertReloadsAccepted, startBirdwatch } from '../lib/birdwatch.js';
import type { EtcdLab } from '../lib/etcdLab.js';
import { bare, list, table, type SummaryTable } from '../lib/markdown.js';
import { memoryOf } from '../lib/procfs.js';
import { tempDir, withScope } from '../lib/scope.js';
import { count, kibToMb, mb, median, ms } from '../lib/stats.js';
import type { Targets } from '../targets.js';
import type { SessionOptions } from './live.js';

interface ColdRun {
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
          const applied = await bw.waitFor((l) => l.fields['event'] === 'configuration-applied', {
            timeoutMs: 180_000,
            what: 'the first apply',
          });
          const memory = await memoryOf(bw.pid);
          assertReloadsAccepted(applied, 'cold start');
          const starting = bw.lines.find((l) => l.fields['event'] === 'starting');
          const synced = bw.lines.find(
            (l) => l.fields['event'] === 'datastore-state' && l.fields['state'] === 'synced',
          );
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
// report

export function coldRows(c: ColdResult, summary: SummaryTable, targets: Targets): void {
  const cold = median(c.runs.map((r) => r.coldMs));
  const hwm = median(c.runs.map((r) => r.hwmKib));
  const targeted = c.nodes === targets.coldNodes;
  summary.add(
    [
      'Cold start: process start → first apply done',
      `${count(c.nodes)} nodes`,
      `${ms(cold)} (runs: ${list(
        c.runs.map((r) => r.coldMs),
        bare,
      )})`,
      '—',
      '—',
      targeted ? `≤ ${targets.coldMs / 1000} s` : '—',
    ],
    targeted ? { name: `cold start at ${count(c.nodes)} nodes`, pass: cold <= targets.coldMs } : undefined,
  );
  summary.add(
    [
      'Peak RSS of birdwatch (VmHWM after the first apply)',
      `${count(c.nodes)} nodes`,
      `${mb(hwm)} (runs: ${c.runs.map((r) => mb(r.hwmKib).replace(' MB', '')).join(', ')})`,
      '—',
      '—',
      targeted ? `≤ ${targets.coldPeakRssMb} MB` : '—',
    ],
    targeted
      ? { name: `cold-start peak RSS at ${count(c.nodes)} nodes`, pass: kibToMb(hwm) <= targets.coldPeakRssMb }
      : undefined,
  );
}

export function coldDetail(results: readonly ColdResult[]): string[] {
  return [
    '### Cold start',
    '',
    'The config dir holds the smallest valid configuration, which BIRD runs; birdwatch starts, reads everything from etcd,',
    'renders, stages, validates, swaps and reloads BIRD and BIRD6 (BIRD then runs N−1 mesh sessions, checked with',
    '`show protocols`). Phases from the log: *boot* = spawn → "birdwatch starting" (Node, module load); *sync* → "etcd',
    'synced"; *first cycle* → "configuration applied". Peak RSS is VmHWM of the birdwatch process read right after.',
    '',
    table(
      [
        'Nodes',
        'Run',
        'Start → applied',
        'Boot',
        'etcd sync',
        'First cycle',
        'its validate',
        'its reloads',
        'Peak RSS',
        'RSS after',
      ],
      results.flatMap((c) =>
        c.runs.map((r, i) => [
          count(c.nodes),
          String(i + 1),
          ms(r.coldMs),
          ms(r.bootMs),
          ms(r.syncMs),
          ms(r.firstCycleMs),
          ms(r.validateMs),
          r.reloadText.replace(/[{}"]/g, '').replace(/,/g, ', '),
          mb(r.hwmKib),
          mb(r.rssKib),
        ]),
      ),
    ),
    '',
  ];
}

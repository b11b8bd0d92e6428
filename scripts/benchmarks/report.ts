/**
 * What the report holds and in which order: the summary table (each suite's rows, judged against the targets),
 * then each suite's detail. The suites write their own rows and sections; lib/document.ts frames the file.
 */
import { SummaryTable, type Verdict } from './lib/markdown.js';
import { anatomyDetail, type AnatomyResult } from './suites/anatomy.js';
import { coldDetail, coldRows, type ColdResult } from './suites/cold.js';
import { idleRows, type IdleResult } from './suites/idle.js';
import { latencyDetail, latencyRows, type LatencyResult } from './suites/latency.js';
import { sessionRssRows, type RssFloor } from './suites/live.js';
import { renderDetail, renderRows, type RenderResult } from './suites/render.js';
import { startupDetail, startupRows, type StartupResult } from './suites/startup.js';
import { stormDetail, stormRows, type StormResult } from './suites/storm.js';
import { TARGETS, type Targets } from './targets.js';

export interface BenchResults {
  readonly latency: LatencyResult[];
  /** Peak RSS (VmHWM) of the birdwatch process of each live session, by size. */
  readonly rss: { readonly nodes: number; readonly bird?: string; readonly hwmKib: number }[];
  /** What node alone and node with etcd3 peak at (shipped flags), measured once in the run. */
  readonly rssFloor: RssFloor | undefined;
  readonly anatomy: AnatomyResult | undefined;
  readonly storm: StormResult[];
  readonly cold: ColdResult[];
  readonly render: RenderResult | undefined;
  readonly idle: IdleResult | undefined;
  readonly startup?: StartupResult | undefined;
}

export function summaryTable(
  results: BenchResults,
  targets: Targets = TARGETS,
): { markdown: string; verdicts: Verdict[] } {
  const summary = new SummaryTable();
  for (const l of results.latency) latencyRows(l, summary, targets);
  for (const s of results.storm) stormRows(s, summary, targets);
  for (const m of results.rss) sessionRssRows(m, results.rssFloor, summary, targets);
  for (const c of results.cold) coldRows(c, summary, targets);
  if (results.render) renderRows(results.render, summary, targets);
  if (results.idle) idleRows(results.idle, summary);
  if (results.startup) startupRows(results.startup, summary);
  const below = summary.afterTableMarkdown();
  return { markdown: below ? `${summary.markdown()}\n\n${below}` : summary.markdown(), verdicts: summary.verdicts };
}

export function detailSections(results: BenchResults): string {
  const out: string[] = [];
  if (results.latency.length > 0) out.push(...latencyDetail(results.latency));
  if (results.anatomy) out.push(...anatomyDetail(results.anatomy));
  for (const s of results.storm) out.push(...stormDetail(s));
  if (results.cold.length > 0) out.push(...coldDetail(results.cold));
  if (results.render) out.push(...renderDetail(results.render));
  if (results.startup) out.push(...startupDetail(results.startup));
  return out.join('\n');
}

/**
 * scripts/bench: birdwatch against the physical floor (latency, storm, cold start, render, idle, CLI start-up,
 * memory, the apply guard), or one suite alone.
 *
 *   scripts/bench                      full run; prints the table and writes docs/benchmarks.md
 *   scripts/bench --quick              smaller N, fewer samples; prints only (unless --out)
 *   scripts/bench --only render,storm  a subset (latency, storm, cold, render, idle, startup, memory, guard)
 *   scripts/bench --only startup --no-write   CLI start-up alone (no namespace needed)
 *   scripts/bench SUITE [flags]        memory, guard, scale or watchers alone, with flags of its own
 *
 * Real etcd on loopback; BIRD inside a network namespace of its own (mesh peers are unreachable 10.x addresses, so
 * nothing leaves the machine); birdwatch as a child process (`node dist/cli/main.js run`, built by scripts/setup)
 * whose JSON log says what it did and when. Needs root (ip netns). Layout: lib/ (shared helpers), suites/ (one
 * file per suite), report.ts (what the report holds), plan.ts (what runs when).
 */
import { errorMessage } from '../../src/errorMessage.js';
import { UsageError } from './lib/args.js';
import { endFacts, machineFacts, reportDocument, writeReport } from './lib/document.js';
import { canCreateNamespaces } from './lib/harness.js';
import { parseBenchCommand, USAGE, type ReportOptions, type StandaloneSuite } from './options.js';
import { runChildSuites, runReportSuites } from './plan.js';
import { detailSections, summaryTable } from './report.js';

/** A suite run alone: its usage, and its main taking the flags after its name. */
interface SuiteEntry {
  readonly usage: string;
  main(argv: readonly string[]): Promise<void>;
}

/** Loaded on demand: each suite alone loads only what it needs. */
const STANDALONE: Record<StandaloneSuite, () => Promise<SuiteEntry>> = {
  memory: () => import('./suites/memory.js'),
  guard: () => import('./suites/guard.js'),
  scale: () => import('./suites/scale.js'),
  watchers: () => import('./suites/watchers.js'),
};

async function report(options: ReportOptions): Promise<void> {
  const needsBird = [...options.suites].some((s) => s !== 'render' && s !== 'startup');
  if (needsBird && !(await canCreateNamespaces())) {
    process.stderr.write(
      'bench: cannot create network namespaces (needs root and iproute2); BIRD must run inside one. Try --only render.\n',
    );
    process.exit(2);
  }
  const facts = await machineFacts();
  const started = performance.now();
  const results = await runReportSuites(options);
  const extra = await runChildSuites(options);
  const { markdown, verdicts } = summaryTable(results);
  const details = detailSections(results);
  const mode = options.quick
    ? 'quick run (`scripts/bench --quick`: fewer nodes and samples)'
    : 'full run (`scripts/bench`)';
  const pacing = [
    options.minReloadIntervalMs === undefined ? '' : ` --min-reload-interval ${options.minReloadIntervalMs}ms`,
    options.maxReloadShare === undefined ? '' : ` --max-reload-share ${options.maxReloadShare}`,
  ].join('');
  const settings = `birdwatch run --ipip off${pacing || ' (default pacing)'} --log-format json; ${options.runs} run(s) for storm and cold start, ${options.changes} interleaved rounds per latency size; IPv4 mesh fixtures from scripts/gen-mesh-fixture.mjs (ip_addr_v6 empty); benchmark took ${Math.round((performance.now() - started) / 1000)} s.`;
  facts.push(endFacts());
  const document = reportDocument({ mode, facts, settings, summary: markdown, details, childSections: extra });
  process.stdout.write(`\n${markdown}\n\n${details}\n\n${extra.join('\n')}\n`);
  const misses = verdicts.filter((v) => !v.pass);
  process.stdout.write(
    `\n${verdicts.length - misses.length}/${verdicts.length} targets met${misses.length > 0 ? `; missed: ${misses.map((m) => m.name).join(', ')}` : ''}\n`,
  );
  if (options.out !== undefined) {
    await writeReport(options.out, document);
    process.stdout.write(`written to ${options.out}\n`);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const usageError = (error: unknown, usage: string): never => {
    process.stderr.write(`bench: ${errorMessage(error)}\n${usage}\n`);
    process.exit(2);
  };
  let command: ReturnType<typeof parseBenchCommand>;
  try {
    command = parseBenchCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error, USAGE);
  }
  switch (command.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    case 'report':
      return report(command.options);
    case 'suite': {
      const suite = await STANDALONE[command.suite]();
      try {
        await suite.main(command.argv);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        usageError(error, suite.usage);
      }
      return;
    }
  }
}

await main(process.argv.slice(2));

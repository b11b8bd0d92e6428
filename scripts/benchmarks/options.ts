/**
 * The command line of `scripts/bench`: the report (`scripts/bench [flags]`, its suites chosen with --only) or one
 * suite alone with flags of its own (`scripts/bench SUITE [flags]`). Pure: parsing starts nothing.
 */
import { join } from 'node:path';
import { nodeCounts, parseFlags, share, UsageError, wholeNumber, namesFrom } from './lib/args.js';
import { ROOT } from './lib/paths.js';

/** The report's suites, in the order --only lists them; memory and guard run as `scripts/bench SUITE` children. */
export const REPORT_SUITES = ['latency', 'storm', 'cold', 'render', 'idle', 'startup', 'memory', 'guard'] as const;
export type ReportSuite = (typeof REPORT_SUITES)[number];

/** Suites run alone with flags of their own: `scripts/bench SUITE [flags]` (each has --help). */
export const STANDALONE_SUITES = {
  memory: 'peak RSS of a real `run` per node flags and environment; --render: CPU per one-host change',
  guard: "the apply guard's hold time and fast-path costs against a real BIRD",
  scale: 'the datastore scale targets: 20,000 hosts, a 100,000-key sync (also `scripts/bench-scale`)',
  watchers: 'many watch streams against one etcd: what one change costs (docs/scale.md)',
} as const;
export type StandaloneSuite = keyof typeof STANDALONE_SUITES;
const STANDALONE_NAMES = Object.keys(STANDALONE_SUITES) as StandaloneSuite[];

export const USAGE = [
  `usage: scripts/bench [--quick] [--only ${REPORT_SUITES.join(',')}] [--changes N] [--runs N] [--render-runs N]`,
  '                     [--idle-seconds S] [--latency-nodes 100,1000,5000] [--cold-nodes 1000,5000,10000]',
  '                     [--storm-nodes 1000,5000] [--min-reload-interval MS] [--max-reload-share F]',
  '                     [--startup-runs N] [--bird 1.6,2.0.12] [--out FILE | --no-write] [--cpu-prof DIR]',
  '       scripts/bench SUITE [flags]   one suite alone, printed as it reports (SUITE --help for its flags):',
  ...STANDALONE_NAMES.map((name) => `         ${name.padEnd(9)} ${STANDALONE_SUITES[name]}`),
].join('\n');

export interface ReportOptions {
  readonly quick: boolean;
  readonly suites: ReadonlySet<ReportSuite>;
  readonly changes: number;
  readonly runs: number;
  readonly renderRuns: number;
  readonly startupRuns: number;
  readonly idleSeconds: number;
  readonly latencyNodes: readonly number[];
  readonly coldNodes: readonly number[];
  readonly stormNodes: readonly number[];
  /** Passed to birdwatch when set; its own default otherwise. */
  readonly minReloadIntervalMs: number | undefined;
  readonly maxReloadShare: number | undefined;
  /**
   * The BIRDs the live sessions (latency, storm) run against, one session each: `1.6` (the system's) and BIRD 2/3
   * versions from scripts/setup-bird's cache.
   */
  readonly birds: readonly string[];
  /** Where the report is written; undefined: printed only. */
  readonly out: string | undefined;
  readonly cpuProfDir: string | undefined;
}

export type BenchCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'report'; readonly options: ReportOptions }
  | { readonly kind: 'suite'; readonly suite: StandaloneSuite; readonly argv: readonly string[] };

/**
 * `--bird 1.6,2.0.12`: BIRD versions (major.minor[.patch]), each once. Default: a full run measures BIRD 1.6 and
 * BIRD 2.0.12 (scripts/setup installs it) side by side; --quick BIRD 1.6 alone.
 */
function birdVersions(text: string | undefined, quick: boolean): string[] {
  if (text === undefined) return quick ? ['1.6'] : ['1.6', '2.0.12'];
  const list = text.split(',').map((s) => s.trim());
  if (list.some((v) => !/^\d+\.\d+(\.\d+)?$/.test(v)) || new Set(list).size !== list.length)
    throw new UsageError(`--bird ${JSON.stringify(text)}: expected BIRD versions such as 1.6,2.0.12,3.3.2, each once`);
  return list;
}

/** What `scripts/bench ARGS` asks for; throws UsageError naming the flag or suite. */
export function parseBenchCommand(argv: readonly string[]): BenchCommand {
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-')) {
    if (!(STANDALONE_NAMES as readonly string[]).includes(first))
      throw new UsageError(
        `unknown suite ${JSON.stringify(first)} (alone: ${STANDALONE_NAMES.join(', ')}; in the report: --only ${REPORT_SUITES.join(',')})`,
      );
    return { kind: 'suite', suite: first as StandaloneSuite, argv: argv.slice(1) };
  }
  const values = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    changes: { type: 'string' },
    runs: { type: 'string' },
    'render-runs': { type: 'string' },
    'startup-runs': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'latency-nodes': { type: 'string' },
    'cold-nodes': { type: 'string' },
    'storm-nodes': { type: 'string' },
    'min-reload-interval': { type: 'string' },
    'max-reload-share': { type: 'string' },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    bird: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return { kind: 'help' };
  const quick = values.quick;
  const only = values.only === undefined ? [...REPORT_SUITES] : namesFrom('--only', values.only, REPORT_SUITES);
  const nodes = (flag: string, text: string | undefined, full: number[], fewer: number[]): number[] =>
    text !== undefined ? nodeCounts(flag, text) : quick ? fewer : full;
  return {
    kind: 'report',
    options: {
      quick,
      suites: new Set(only),
      changes: wholeNumber('--changes', values.changes, quick ? 15 : 41, 1),
      runs: wholeNumber('--runs', values.runs, quick ? 1 : 3, 1),
      renderRuns: wholeNumber('--render-runs', values['render-runs'], quick ? 10 : 30, 1),
      startupRuns: wholeNumber('--startup-runs', values['startup-runs'], quick ? 5 : 15, 1),
      idleSeconds: wholeNumber('--idle-seconds', values['idle-seconds'], quick ? 10 : 60, 1),
      latencyNodes: nodes('--latency-nodes', values['latency-nodes'], [100, 1000, 5000], [100, 1000]),
      coldNodes: nodes('--cold-nodes', values['cold-nodes'], [1000, 5000, 10_000], [1000, 10_000]),
      stormNodes: nodes('--storm-nodes', values['storm-nodes'], [1000, 5000], [1000]),
      minReloadIntervalMs:
        values['min-reload-interval'] === undefined
          ? undefined
          : wholeNumber('--min-reload-interval', values['min-reload-interval'], 0),
      maxReloadShare:
        values['max-reload-share'] === undefined ? undefined : share('--max-reload-share', values['max-reload-share']),
      out: values['no-write'] ? undefined : (values.out ?? (quick ? undefined : join(ROOT, 'docs', 'benchmarks.md'))),
      cpuProfDir: values['cpu-prof'],
      birds: birdVersions(values.bird, quick),
    },
  };
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { UsageError } from '../../scripts/benchmarks/lib/args.js';
import {
  parseBenchCommand,
  REPORT_SUITES,
  STANDALONE_SUITES,
  USAGE,
  type BenchCommand,
  type ReportOptions,
} from '../../scripts/benchmarks/options.js';

// The command line of `scripts/bench` (README "Benchmarks"), parsed without running anything: the report's flags
// and defaults, a suite run alone, and one UsageError naming the flag for bad input.

const SUITES_DIR = fileURLToPath(new URL('../../scripts/benchmarks/suites/', import.meta.url));

const report = (command: BenchCommand): ReportOptions => {
  if (command.kind !== 'report') throw new Error(`expected the report, got ${command.kind}`);
  return command.options;
};

t.test('no flags: the full report, every suite, written to docs/benchmarks.md', (t) => {
  const options = report(parseBenchCommand([]));
  t.same([...options.suites], [...REPORT_SUITES]);
  t.equal(options.quick, false);
  t.same(
    [options.changes, options.runs, options.renderRuns, options.startupRuns, options.idleSeconds],
    [41, 3, 30, 15, 60],
  );
  t.same(options.latencyNodes, [100, 1000, 5000]);
  t.same(options.coldNodes, [1000, 5000, 10_000]);
  t.same(options.stormNodes, [1000, 5000]);
  t.equal(options.minReloadIntervalMs, undefined, "birdwatch's own pacing unless asked");
  t.equal(options.maxReloadShare, undefined);
  t.ok(options.out?.endsWith(join('docs', 'benchmarks.md')));
  t.end();
});

t.test('--quick: fewer nodes and samples, printed only unless --out', (t) => {
  const quick = report(parseBenchCommand(['--quick']));
  t.same([quick.changes, quick.runs, quick.latencyNodes, quick.stormNodes], [15, 1, [100, 1000], [1000]]);
  t.equal(quick.out, undefined);
  t.equal(report(parseBenchCommand(['--quick', '--out', '/tmp/b.md'])).out, '/tmp/b.md');
  t.end();
});

t.test('--only and the sizing flags', (t) => {
  const options = report(
    parseBenchCommand([
      '--only',
      'render, storm',
      '--storm-nodes',
      '100',
      '--changes',
      '3',
      '--max-reload-share',
      '0.5',
      '--min-reload-interval',
      '20',
      '--no-write',
    ]),
  );
  t.same([...options.suites], ['render', 'storm']);
  t.same(options.stormNodes, [100]);
  t.equal(options.changes, 3);
  t.equal(options.maxReloadShare, 0.5);
  t.equal(options.minReloadIntervalMs, 20);
  t.equal(options.out, undefined);
  t.end();
});

t.test('--bird: the BIRDs the live sessions run against (BIRD 1.6 by default)', (t) => {
  const birds = (argv: string[]): readonly string[] => {
    const command = parseBenchCommand(argv);
    return command.kind === 'report' ? command.options.birds : [];
  };
  t.same(birds([]), ['1.6', '2.0.12'], 'a full run: BIRD 1.6 and BIRD 2 side by side');
  t.same(birds(['--quick']), ['1.6'], '--quick: BIRD 1.6 alone');
  t.same(birds(['--bird', '1.6,2.0.12']), ['1.6', '2.0.12'], 'both in one run');
  t.same(birds(['--bird', '2.0.12']), ['2.0.12']);
  t.end();
});

t.test('--help, and a suite alone takes the flags after its name', (t) => {
  t.same(parseBenchCommand(['--help']), { kind: 'help' });
  t.same(parseBenchCommand(['-h']), { kind: 'help' });
  t.same(parseBenchCommand(['memory', '--nodes', '1000', '--heap']), {
    kind: 'suite',
    suite: 'memory',
    argv: ['--nodes', '1000', '--heap'],
  });
  t.same(parseBenchCommand(['watchers']), { kind: 'suite', suite: 'watchers', argv: [] });
  t.end();
});

t.test('bad input: one UsageError naming the flag or the suite', (t) => {
  const cases: [string[], string][] = [
    [['--only', 'latency,foo'], '--only'],
    [['--changes', '0'], '--changes'],
    [['--runs', 'x'], '--runs'],
    [['--latency-nodes', '100,1'], '--latency-nodes'],
    [['--max-reload-share', '2'], '--max-reload-share'],
    [['--bird', '2'], '--bird'],
    [['--bird', '1.6,1.6'], '--bird'],
    [['--bogus'], '--bogus'],
    [['nosuch'], 'nosuch'],
  ];
  for (const [argv, named] of cases) {
    t.throws(() => parseBenchCommand(argv), UsageError, argv.join(' '));
    try {
      parseBenchCommand(argv);
    } catch (error) {
      t.match((error as Error).message, named, `${argv.join(' ')}: the message names ${named}`);
    }
  }
  t.end();
});

t.test('the usage lists every suite, and every suite has its file in scripts/benchmarks/suites/', (t) => {
  const names = [...REPORT_SUITES, ...Object.keys(STANDALONE_SUITES)];
  for (const name of names) {
    t.ok(USAGE.includes(name), `usage names ${name}`);
    t.ok(existsSync(join(SUITES_DIR, `${name}.ts`)), `suites/${name}.ts exists`);
  }
  t.end();
});

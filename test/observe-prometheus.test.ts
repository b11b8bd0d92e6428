import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import t from 'tap';
import { keys } from '../src/model/keys.js';
import { startBirdForTest } from './harness/bird.js';
import { startEtcdForTest } from './harness/etcd.js';
import { canCreateNamespaces, createNamespace } from './harness/netns.js';
import { freePort } from './harness/process.js';
import { spawnBirdwatch } from './support/birdwatchProcess.js';
import { cli } from './support/cli.js';
import { putKeyspace } from './support/etcdLoad.js';
import { dashboardQueries, dashboardVariableQueries, rules, ruleTests, type Rule } from './support/packagedQueries.js';
import { parsePrometheusText, type Sample } from './support/promText.js';
import { grafanaToPromql, labelValuesQuery, promqlReferences, type PromqlReferences } from './support/promql.js';
import { waitFor } from './support/world.js';

// The shipped rules and dashboard never drift from what birdwatch exports (README "Operations"): a real `birdwatch
// run --metrics-per-peer` against a real etcd, with an Established BGP session to a second BIRD (two network
// namespaces joined by a veth pair) and a skipped entry, is scraped; every metric, label and label value that a
// rule, an alert's annotations, a dashboard panel (query and legend) or variable uses must be in that scrape (or be
// a recording rule's, or Prometheus's own), and every input series of the rule tests must have exactly the label
// names birdwatch gives that metric. Renaming a metric or a label without updating packaging/ fails here.

/** Labels Prometheus adds to every scraped series (the node is the target: birdwatch has no node label). */
const TARGET_LABELS = new Set(['job', 'instance']);
/** Labels whose values are a fixed set birdwatch exports in full: a rule test may only use those values. */
const BOUNDED_LABELS = new Set(['le', 'daemon', 'verdict', 'result', 'mode']);

/** What one scrape says: each sample name's label names and values. */
class Exported {
  readonly labels = new Map<string, Map<string, Set<string>>>();
  constructor(samples: readonly Sample[]) {
    for (const s of samples) {
      const byLabel = this.labels.get(s.name) ?? new Map<string, Set<string>>();
      for (const [label, value] of Object.entries(s.labels))
        byLabel.set(label, (byLabel.get(label) ?? new Set()).add(value));
      this.labels.set(s.name, byLabel);
    }
  }
}

/** Recording rules' series: their name → the labels they carry (the kept grouping labels, and the rule's own). */
function recordedSeries(all: readonly Rule[]): Map<string, Map<string, Set<string>>> {
  const recorded = new Map<string, Map<string, Set<string>>>();
  for (const rule of all) {
    if (rule.record === undefined) continue;
    const labels = recorded.get(rule.record) ?? new Map<string, Set<string>>();
    for (const label of promqlReferences(rule.expr).groupingLabels)
      if (label !== 'le') labels.set(label, labels.get(label) ?? new Set());
    for (const [label, value] of Object.entries(rule.labels ?? {}))
      labels.set(label, (labels.get(label) ?? new Set()).add(value));
    recorded.set(rule.record, labels);
  }
  return recorded;
}

/** A regular expression that is only literal alternatives (`a|b`): those; else undefined (not checked). */
const literalAlternatives = (regex: string): string[] | undefined =>
  /^[A-Za-z0-9_.+-]+(\|[A-Za-z0-9_.+-]+)*$/.test(regex) && !/[.+]\*|\.\+/.test(regex) ? regex.split('|') : undefined;

/**
 * The problems of one expression against the scrape: names that are neither exported, recorded nor Prometheus's;
 * labels no series of those names carries; `=`/`!=` values (and literal alternatives of `=~`) never exported.
 * Returns the labels the expression's series may carry (for its legend or annotations).
 */
function check(
  where: string,
  refs: PromqlReferences,
  exported: Exported,
  recorded: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>,
  alertNames: ReadonlySet<string>,
  problems: string[],
): Set<string> {
  const available = new Set(TARGET_LABELS);
  for (const selector of refs.selectors) {
    const name = selector.metric;
    if (name === undefined) {
      problems.push(`${where}: a selector without a metric name`);
      continue;
    }
    let labels: ReadonlyMap<string, ReadonlySet<string>> | undefined;
    let checkValues = true;
    if (name === 'up') {
      labels = new Map([
        ['job', new Set<string>()],
        ['instance', new Set<string>()],
      ]);
      checkValues = false;
    } else if (name === 'ALERTS') {
      labels = new Map([
        ['alertname', alertNames],
        ['alertstate', new Set(['pending', 'firing'])],
      ]);
    } else labels = recorded.get(name) ?? exported.labels.get(name);
    if (labels === undefined) {
      problems.push(`${where}: ${name} is not exported by birdwatch (nor recorded by the rules)`);
      continue;
    }
    for (const label of labels.keys()) available.add(label);
    for (const m of selector.matchers) {
      if (TARGET_LABELS.has(m.label)) continue;
      const values = labels.get(m.label);
      if (values === undefined) {
        problems.push(`${where}: ${name} has no label ${m.label}`);
        continue;
      }
      if (!checkValues || values.size === 0) continue;
      const literal =
        m.op === '=' || m.op === '!=' ? [m.value] : m.value.includes('$') ? undefined : literalAlternatives(m.value);
      for (const value of literal ?? [])
        if (!values.has(value))
          problems.push(`${where}: ${name}{${m.label}} is never "${value}" (exported: ${[...values].join(', ')})`);
    }
  }
  for (const label of refs.groupingLabels)
    if (!available.has(label)) problems.push(`${where}: groups by ${label}, which none of its series carries`);
  return available;
}

if (!(await canCreateNamespaces())) {
  t.plan(0, 'network namespaces are not available (needs root and iproute2): no BGP session to scrape');
} else {
  t.test('every metric, label and value the rules and the dashboard use, a running birdwatch exports', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'birdwatch-prom-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const etcd = await startEtcdForTest(t);
    await putKeyspace(
      etcd.endpoints,
      new Map([
        [keys.hostAddress('n1', 4), '10.99.0.1'],
        [keys.hostAddress('n1', 6), 'fd00:99::1'],
        [keys.hostAddress('n2', 4), '10.99.0.2'],
        // n2 has no BIRD6: n1's bird6 session to it stays down (a bird6 series, and a state other than Established).
        [keys.hostAddress('n2', 6), 'fd00:99::2'],
        // One entry the model skips: birdwatch_skipped_entries has a series only once something is skipped.
        [keys.globalPeer(4, '10.0.0.77'), '{not json'],
      ]),
    );
    // n1 (birdwatch's node) and n2 in namespaces of their own, joined by a veth pair.
    const nsA = await createNamespace(t, 'bwp');
    const nsB = await createNamespace(t, 'bwp');
    const veth = `bwp${randomBytes(4).toString('hex')}`;
    await execa('ip', [
      'link',
      'add',
      veth,
      'netns',
      nsA.name,
      'type',
      'veth',
      'peer',
      'name',
      veth,
      'netns',
      nsB.name,
    ]);
    for (const [ns, last] of [
      [nsA, 1],
      [nsB, 2],
    ] as const) {
      await execa('ip', ['-n', ns.name, 'addr', 'add', `10.99.0.${last}/24`, 'dev', veth]);
      await execa('ip', ['-n', ns.name, 'link', 'set', veth, 'up']);
    }

    const configDir = join(dir, 'n1');
    const sockets = { bird: join(dir, 'n1-bird.ctl'), bird6: join(dir, 'n1-bird6.ctl') };
    const port = await freePort();
    const proc = spawnBirdwatch(t, [
      'run',
      '--node',
      'n1',
      '--config-dir',
      configDir,
      '--etcd-endpoints',
      etcd.endpoints.join(','),
      '--bird-socket',
      sockets.bird,
      '--bird6-socket',
      sockets.bird6,
      '--ipip',
      'off',
      '--listen',
      `127.0.0.1:${port}`,
      '--metrics-per-peer',
    ]);
    await waitFor(
      "n1's files written",
      () => ['bird.cfg', 'bird6.cfg'].every((f) => existsSync(join(configDir, f))),
      (ok) => ok,
      30_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nbirdwatch output:\n${proc.output()}`);
    });
    for (const [family, daemon] of [
      [4, 'bird'],
      [6, 'bird6'],
    ] as const)
      await startBirdForTest(t, {
        family,
        configPath: join(configDir, `${daemon}.cfg`),
        socketPath: sockets[daemon],
        wrapper: nsA.exec,
        logFile: join(dir, `n1-${daemon}.log`),
      });
    // n2 dials n1 (n1 is passive toward the higher address), so n2's BIRD starts once n1's listens.
    const n2Dir = join(dir, 'n2');
    const rendered = await cli(['render', '--datastore', 'etcd', '--node', 'n2', '--out', n2Dir, '--ipip', 'off'], {
      ETCD_ENDPOINTS: etcd.endpoints.join(','),
    });
    t.equal(rendered.code, 0, `n2 rendered${rendered.code === 0 ? '' : `: ${rendered.stderr}`}`);
    await startBirdForTest(t, {
      family: 4,
      configPath: join(n2Dir, 'bird.cfg'),
      socketPath: join(dir, 'n2-bird.ctl'),
      wrapper: nsB.exec,
      logFile: join(dir, 'n2-bird.log'),
    });

    // Waiting asks /readyz and `birdwatch status`, never the metrics: a renamed metric or label must fail the checks
    // below by name, not time out here.
    await waitFor(
      'ready: synced, both daemons applied and answering',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status,
      (code) => code === 200,
      60_000,
    );
    await waitFor(
      "n1's session to n2 Established",
      async () => {
        const status = await cli(['status', '--bird-socket', sockets.bird, '--bird6-socket', sockets.bird6, '--json']);
        return (JSON.parse(status.stdout) as { ipv4: { established?: number } }).ipv4.established;
      },
      (established) => established === 1,
      90_000,
    );
    const samples = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const exported = new Exported(samples);
    const all = rules();
    const recorded = recordedSeries(all);
    const alertNames = new Set(all.flatMap((r) => (r.alert === undefined ? [] : [r.alert])));
    t.ok(recorded.size > 0 && alertNames.size > 0, `${recorded.size} recorded series, ${alertNames.size} alerts`);

    await t.test('rules: every name, label and value, and the labels each alert names', async (t) => {
      const problems: string[] = [];
      for (const rule of all) {
        const where = `rule ${rule.record ?? rule.alert}`;
        const available = check(where, promqlReferences(rule.expr), exported, recorded, alertNames, problems);
        for (const label of Object.keys(rule.labels ?? {})) available.add(label);
        for (const [key, text] of Object.entries(rule.annotations ?? {})) {
          for (const [, label] of text.matchAll(/\$labels\.([A-Za-z_][A-Za-z0-9_]*)/g))
            if (!available.has(label!)) problems.push(`${where} ${key}: $labels.${label} is not a label of its series`);
          // Queries inside the template (`printf "…" … | query`), and the labels read from their result.
          for (const [, query] of text.matchAll(/printf "((?:[^"\\]|\\.)*)"/g)) {
            const promql = query!.replace(/\\"/g, '"').replace(/%q/g, '"x"');
            const inner = check(`${where} ${key}`, promqlReferences(promql), exported, recorded, alertNames, problems);
            for (const [, label] of text.matchAll(/label "([A-Za-z_][A-Za-z0-9_]*)"/g))
              if (!inner.has(label!)) problems.push(`${where} ${key}: reads label ${label}, not on ${promql}`);
          }
        }
      }
      t.same(problems, [], 'the rules use only what birdwatch exports');
    });

    await t.test('dashboard: every panel query and legend, every variable', async (t) => {
      const problems: string[] = [];
      for (const q of dashboardQueries()) {
        const available = check(
          q.where,
          promqlReferences(grafanaToPromql(q.expr)),
          exported,
          recorded,
          alertNames,
          problems,
        );
        for (const [, label] of q.legend.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g))
          if (!available.has(label!)) problems.push(`${q.where}: the legend shows ${label}, not a label of its series`);
      }
      for (const v of dashboardVariableQueries()) {
        const { selector, label } = labelValuesQuery(v.expr);
        const available = check(
          v.where,
          promqlReferences(grafanaToPromql(selector)),
          exported,
          recorded,
          alertNames,
          problems,
        );
        if (!available.has(label)) problems.push(`${v.where}: label_values of ${label}, not a label of ${selector}`);
      }
      t.same(problems, [], 'the dashboard uses only what birdwatch exports');
    });

    await t.test("the rule tests' input series are shaped as birdwatch exports them", async (t) => {
      const problems: string[] = [];
      let checked = 0;
      for (const group of ruleTests())
        for (const { series } of group.input_series) {
          const refs = promqlReferences(series);
          const selector = refs.selectors[0];
          const name = selector?.metric ?? '';
          if (name === 'up') continue;
          const labels = exported.labels.get(name);
          if (labels === undefined) {
            problems.push(`${series}: ${name} is not exported by birdwatch`);
            continue;
          }
          checked++;
          const given = (selector?.matchers ?? []).map((m) => m.label).filter((l) => !TARGET_LABELS.has(l));
          if (given.sort().join() !== [...labels.keys()].sort().join())
            problems.push(`${series}: labels ${given.join(', ')}; birdwatch gives ${[...labels.keys()].join(', ')}`);
          for (const m of selector?.matchers ?? [])
            if (BOUNDED_LABELS.has(m.label) && !(labels.get(m.label)?.has(m.value) ?? false))
              problems.push(`${series}: ${m.label}="${m.value}" is not a value birdwatch exports`);
        }
      t.ok(checked > 50, `${checked} input series checked`);
      t.same(problems, [], 'input series as birdwatch exports them');
    });
  });
}

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import {
  DASHBOARD_FILE,
  dashboardQueries,
  dashboardVariableQueries,
  RULES_FILE,
  rules,
  ruleTestFiles,
  ruleTests,
} from './support/packagedQueries.js';
import { grafanaToPromql, labelValuesQuery, promqlReferences } from './support/promql.js';

// The shipped Prometheus rules with Prometheus' own tool (README "Operations"): `promtool test rules` runs the unit
// tests in packaging/prometheus/tests, which make every alert fire and resolve; every dashboard query parses as
// PromQL (promtool has no offline query parser of its own in Debian's 2.42, so the queries go through `promtool
// check rules` as recording rules). `scripts/test` runs `promtool check rules` on the rules as a lint.
// Whether they use only what birdwatch exports is test/observe-prometheus.test.ts's part.

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const promtool = await execa('promtool', ['--version'], { reject: false });

t.test('the reference extractor the live check relies on', async (t) => {
  t.same(
    promqlReferences(
      'sum by (job, instance) (rate(a_bucket{x="1",y=~"p|q"}[5m] offset 1m)) / on (job) group_left (z) b{w!="v"} > bool 1e9 and ALERTS{alertname="A"}',
    ),
    {
      selectors: [
        {
          metric: 'a_bucket',
          matchers: [
            { label: 'x', op: '=', value: '1' },
            { label: 'y', op: '=~', value: 'p|q' },
          ],
        },
        { metric: 'b', matchers: [{ label: 'w', op: '!=', value: 'v' }] },
        { metric: 'ALERTS', matchers: [{ label: 'alertname', op: '=', value: 'A' }] },
      ],
      groupingLabels: ['job', 'instance', 'job', 'z'],
    },
  );
  t.same(promqlReferences('max_over_time(rec:x:sum[1h:1m]) unless count(c) without (d)'), {
    selectors: [
      { metric: 'rec:x:sum', matchers: [] },
      { metric: 'c', matchers: [] },
    ],
    groupingLabels: ['d'],
  });
  t.equal(grafanaToPromql('rate(m{i=~"$node"}[$__rate_interval])'), 'rate(m{i=~".+"}[5m])');
  t.same(labelValuesQuery('label_values(m{j=~"$job"}, instance)'), { selector: 'm{j=~"$job"}', label: 'instance' });
  t.throws(() => promqlReferences('m{x=}'), /a label matcher expected/);
});

t.test(
  'every alert: a severity, a summary naming the node, a runbook entry, a test that fires and resolves it',
  async (t) => {
    const alerts = rules().filter((r) => r.alert !== undefined);
    t.ok(alerts.length >= 10, `${alerts.length} alerts`);
    const start = README.indexOf('\n### Alert runbook\n');
    t.ok(start >= 0, 'README has an "Alert runbook" section');
    const runbookSection = README.slice(start, README.indexOf('\n## ', start + 1));
    // Per test group (each has its own series): at which minutes each alert (by its labels) fires, and when not.
    const minutes = (d: string): number => {
      const m = /^(\d+)m$/.exec(d);
      if (m === null) throw new Error(`eval_time ${d}: write it in minutes`);
      return Number(m[1]);
    };
    const timelines = ruleTests().map((group) =>
      (group.alert_rule_test ?? []).map((c) => ({
        alertname: c.alertname,
        at: minutes(c.eval_time),
        firing: new Set((c.exp_alerts ?? []).map((a) => JSON.stringify((a as { exp_labels?: unknown }).exp_labels))),
      })),
    );
    /** In one group, an alert of `name` fires at one time and is absent at another time in the given order. */
    const seen = (name: string, order: (firedAt: number, otherAt: number) => boolean): boolean =>
      timelines.some((cases) => {
        const mine = cases.filter((c) => c.alertname === name);
        return mine.some((f) =>
          [...f.firing].some((alert) => mine.some((o) => order(f.at, o.at) && !o.firing.has(alert))),
        );
      });
    for (const rule of alerts) {
      const name = rule.alert!;
      t.match(rule.labels?.['severity'], /^(critical|warning|info)$/, `${name}: severity`);
      t.match(rule.annotations?.['summary'], /\{\{ \$labels\.instance \}\}/, `${name}: the summary names the node`);
      t.match(
        rule.annotations?.['description'],
        new RegExp(`Runbook: README "Operations", ${name}\\.$`),
        `${name}: the description points to its runbook entry`,
      );
      t.match(runbookSection, new RegExp(`\\*\\*${name}\\*\\*`), `${name}: a runbook entry`);
      t.ok(
        timelines.some((cases) => cases.some((c) => c.alertname === name && c.firing.size > 0)),
        `${name}: a test where it fires`,
      );
      t.ok(
        seen(name, (firedAt, otherAt) => otherAt > firedAt),
        `${name}: a test where it resolves after firing`,
      );
      t.ok(
        seen(name, (firedAt, otherAt) => otherAt < firedAt),
        `${name}: a test where it has not fired yet (its for, its threshold)`,
      );
    }
    for (const [, entry] of runbookSection.matchAll(/\*\*(Birdwatch[A-Za-z]+)\*\*/g))
      t.ok(
        alerts.some((a) => a.alert === entry),
        `runbook entry ${entry} is an alert`,
      );
  },
);

t.test('npm pack ships the rules, their tests and the dashboard', async (t) => {
  // --dry-run lists what the package would hold (files in package.json); --ignore-scripts skips the prepack build.
  const pack = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  const paths = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
  for (const file of [RULES_FILE, ...ruleTestFiles(), DASHBOARD_FILE])
    t.ok(paths.includes(relative(fileURLToPath(new URL('..', import.meta.url)), file)), `${basename(file)} is shipped`);
});

if (promtool.exitCode !== 0) {
  t.test(
    'promtool',
    { skip: "promtool not found (scripts/setup installs it from Debian's prometheus package)" },
    () => undefined,
  );
} else {
  t.test('promtool check rules: the rules file', async (t) => {
    const result = await execa('promtool', ['check', 'rules', RULES_FILE], { reject: false, all: true });
    t.equal(result.exitCode, 0, result.all);
    t.match(result.all, /SUCCESS: \d+ rules found/);
  });

  t.test('promtool test rules: every alert fires and resolves on series shaped like birdwatch exports', async (t) => {
    const files = ruleTestFiles();
    t.ok(files.length > 0, 'rule tests exist');
    const result = await execa('promtool', ['test', 'rules', ...files], { reject: false, all: true });
    t.equal(result.exitCode, 0, result.all);
    t.notMatch(result.all, /FAILED/);
  });

  t.test("every dashboard query parses (promtool check rules on a rule file of the dashboard's queries)", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'birdwatch-dashboard-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const queries = [
      ...dashboardQueries(),
      ...dashboardVariableQueries().map((v) => ({ ...v, expr: labelValuesQuery(v.expr).selector })),
    ];
    const check = async (exprs: readonly string[]): Promise<{ code: number | undefined; all: string }> => {
      const file = join(dir, 'dashboard.rules.json');
      // YAML is a superset of JSON: promtool reads the rule file as written.
      writeFileSync(
        file,
        JSON.stringify({
          groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }],
        }),
      );
      const result = await execa('promtool', ['check', 'rules', file], { reject: false, all: true });
      return { code: result.exitCode, all: result.all };
    };
    const ok = await check(queries.map((q) => grafanaToPromql(q.expr)));
    t.equal(ok.code, 0, ok.all);
    t.match(ok.all, new RegExp(`SUCCESS: ${queries.length} rules found`));
    // The check can fail: one unbalanced query is named.
    const bad = await check(['sum by (instance (birdwatch_bgp_sessions)']);
    t.not(bad.code, 0);
    t.match(bad.all, /parse error/);
  });
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * What packaging/prometheus and packaging/grafana ship, read as data: the rules, the rule tests' input series and
 * the dashboard's queries (README "Operations"), for the tests that check them against promtool and a running
 * birdwatch.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROMETHEUS_DIR = join(ROOT, 'packaging', 'prometheus');
export const RULES_FILE = join(PROMETHEUS_DIR, 'birdwatch.rules.yml');
const RULE_TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
export const DASHBOARD_FILE = join(ROOT, 'packaging', 'grafana', 'birdwatch.json');

export interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

const ruleGroups = (): { readonly name: string; readonly rules: readonly Rule[] }[] =>
  (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;

export const rules = (): Rule[] => ruleGroups().flatMap((g) => g.rules);

export const ruleTestFiles = (): string[] =>
  readdirSync(RULE_TESTS_DIR)
    .filter((name) => name.endsWith('.test.yml'))
    .map((name) => join(RULE_TESTS_DIR, name));

interface AlertTestCase {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}
export interface RuleTestGroup {
  readonly input_series: readonly { readonly series: string; readonly values: string }[];
  readonly alert_rule_test?: readonly AlertTestCase[];
}

export const ruleTests = (): RuleTestGroup[] =>
  ruleTestFiles().flatMap((file) => (parse(readFileSync(file, 'utf8')) as { tests: RuleTestGroup[] }).tests);

export interface DashboardQuery {
  /** Where it is: the panel's title and the target's refId, or the variable's name. */
  readonly where: string;
  readonly expr: string;
  /** A panel target's legend format ('' for a variable). */
  readonly legend: string;
}

interface DashboardJson {
  readonly panels: readonly {
    readonly title: string;
    readonly targets?: readonly { readonly refId: string; readonly expr: string; readonly legendFormat?: string }[];
  }[];
  readonly templating: {
    readonly list: readonly { readonly name: string; readonly type: string; readonly definition?: string }[];
  };
}

const dashboard = (): DashboardJson => JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as DashboardJson;

/** Every panel query of the dashboard, as written (Grafana variables included). */
export const dashboardQueries = (): DashboardQuery[] =>
  dashboard().panels.flatMap((p) =>
    (p.targets ?? []).map((x) => ({
      where: `panel "${p.title}" ${x.refId}`,
      expr: x.expr,
      legend: x.legendFormat ?? '',
    })),
  );

/** The query variables' `label_values(…)` queries. */
export const dashboardVariableQueries = (): DashboardQuery[] =>
  dashboard()
    .templating.list.filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? '', legend: '' }));

import { readFileSync } from 'node:fs';
import t from 'tap';

// packaging/grafana/birdwatch.json must import into Grafana (README "Operations"): the fields Grafana's dashboard
// JSON model requires, a data source variable every query uses, the node, daemon and job variables, unique panel
// ids, and a layout on the 24-column grid with no two panels on the same cell. That its queries parse and use
// only what birdwatch exports is test/prometheus-live.test.ts's part.

const DASHBOARD = new URL('../../packaging/grafana/birdwatch.json', import.meta.url);
const DS_UID = '${datasource}';
const PANEL_TYPES = new Set(['row', 'stat', 'timeseries', 'state-timeline', 'table']);

interface GridPos {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}
interface Target {
  readonly refId?: unknown;
  readonly expr?: unknown;
  readonly datasource?: { readonly type?: unknown; readonly uid?: unknown };
}
interface Panel {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly title?: unknown;
  readonly gridPos?: GridPos;
  readonly datasource?: { readonly type?: unknown; readonly uid?: unknown };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
  readonly collapsed?: unknown;
}
interface Variable {
  readonly type?: unknown;
  readonly name?: unknown;
  readonly query?: unknown;
  readonly definition?: unknown;
  readonly datasource?: { readonly type?: unknown; readonly uid?: unknown };
}
interface Dashboard {
  readonly [key: string]: unknown;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const panels = dashboard.panels;
const queryPanels = panels.filter((p) => p.type !== 'row');

t.test("the dashboard model's required fields, ready for import (no id of another Grafana's)", async (t) => {
  t.type(dashboard['title'], 'string');
  t.match(dashboard['uid'], /^[A-Za-z0-9_-]{1,40}$/, 'uid: at most 40 of [A-Za-z0-9_-]');
  t.equal(dashboard['id'], null, 'id null: Grafana assigns one on import');
  t.type(dashboard['schemaVersion'], 'number');
  t.ok((dashboard['schemaVersion'] as number) >= 36, 'schemaVersion of Grafana 9+ (datasource references by uid)');
  t.type(dashboard['version'], 'number');
  t.match(dashboard['time'], { from: String, to: String });
  t.ok(Array.isArray(dashboard['tags']) && Array.isArray(panels) && Array.isArray(dashboard.templating.list));
  t.type(dashboard['editable'], 'boolean');
  const requires = (dashboard['__requires'] as { type: string; id: string }[]).map((r) => `${r.type}:${r.id}`);
  for (const type of new Set(queryPanels.map((p) => String(p.type))))
    t.ok(requires.includes(`panel:${type}`), `__requires lists panel ${type}`);
  t.ok(requires.includes('datasource:prometheus'));
});

t.test('variables: a Prometheus data source variable, and job, node and daemon queried through it', async (t) => {
  const vars = dashboard.templating.list;
  const names = vars.map((v) => v.name);
  t.same(new Set(names).size, names.length, 'variable names unique');
  const ds = vars.find((v) => v.name === 'datasource');
  t.match(ds, { type: 'datasource', query: 'prometheus' });
  t.equal(names.indexOf('datasource'), 0, 'the data source comes first: the others are queried through it');
  for (const name of ['job', 'node', 'daemon']) {
    const v = vars.find((x) => x.name === name);
    t.match(v, { type: 'query', datasource: { type: 'prometheus', uid: DS_UID } }, name);
    t.match(v?.definition, /^label_values\(/, `${name}: a label_values() query`);
    t.match(v?.query, { query: v?.definition }, `${name}: the query is its definition`);
  }
});

t.test('panels: unique ids, known types, every query through the data source variable and filtered', async (t) => {
  const ids = panels.map((p) => p.id);
  t.ok(
    ids.every((id) => Number.isInteger(id) && (id as number) > 0),
    'ids are positive integers',
  );
  t.equal(new Set(ids).size, ids.length, 'panel ids unique');
  for (const p of panels) {
    t.ok(PANEL_TYPES.has(String(p.type)), `${String(p.title)}: type ${String(p.type)}`);
    t.type(p.title, 'string');
    if (p.type === 'row') {
      t.same(p.panels, [], `${String(p.title)}: an open row (its panels follow it at top level)`);
      t.equal(p.collapsed, false);
      continue;
    }
    t.match(p.datasource, { type: 'prometheus', uid: DS_UID }, `${String(p.title)}: the panel's data source`);
    const targets = p.targets ?? [];
    t.ok(targets.length > 0, `${String(p.title)}: has queries`);
    const refIds = targets.map((x) => x.refId);
    t.equal(new Set(refIds).size, refIds.length, `${String(p.title)}: refIds unique`);
    for (const target of targets) {
      t.match(target, { refId: /^[A-Z]$/, expr: String, datasource: { type: 'prometheus', uid: DS_UID } });
      const expr = String(target.expr);
      // Every selector of a birdwatch series is narrowed to the chosen job and node (daemon where it has one).
      for (const selector of expr.matchAll(/\b([a-z_:]+)\{([^}]*)\}/g))
        t.match(selector[2], /job=~"\$job",instance=~"\$node"/, `${String(p.title)}: ${selector[1]} filtered`);
    }
  }
});

t.test('layout: on the 24-column grid, every cell used once, rows above their panels', async (t) => {
  const taken = new Map<string, string>();
  const overlaps = new Set<string>();
  for (const p of panels) {
    const g = p.gridPos;
    t.ok(g !== undefined, `${String(p.title)}: gridPos`);
    if (g === undefined) continue;
    t.ok(
      [g.x, g.y, g.w, g.h].every((n) => Number.isInteger(n) && n >= 0) && g.w >= 1 && g.h >= 1 && g.x + g.w <= 24,
      `${String(p.title)}: ${JSON.stringify(g)} fits the grid`,
    );
    if (p.type === 'row') t.same([g.x, g.w, g.h], [0, 24, 1], `${String(p.title)}: a row spans the width`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        const other = taken.get(`${x},${y}`);
        if (other !== undefined) overlaps.add(`${String(p.title)} overlaps ${other}`);
        taken.set(`${x},${y}`, String(p.title));
      }
  }
  t.same([...overlaps], [], 'no two panels on the same cell');
  const ys = panels.map((p) => p.gridPos?.y ?? 0);
  t.same(
    ys,
    [...ys].sort((a, b) => a - b),
    'panels listed top to bottom (as Grafana saves them)',
  );
});

t.test('what the issue asks to see is there', async (t) => {
  const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((x) => String(x.expr)));
  for (const metric of [
    'birdwatch_bgp_sessions',
    'birdwatch_bgp_session_established',
    'birdwatch_change_applied_latency_seconds',
    'birdwatch_reload_duration_seconds',
    'birdwatch_bird_reloads_total',
    'birdwatch_datastore_state',
    'birdwatch_datastore_revision',
    'birdwatch_guarded_applies_total',
    'birdwatch_quarantined_entries',
    'birdwatch_guard_held_entries',
    'birdwatch_skipped_entries',
    'birdwatch_cycle_failures_total',
  ])
    t.ok(
      exprs.some((e) => e.includes(metric)),
      `a panel shows ${metric}`,
    );
});

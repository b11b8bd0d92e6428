import { appendFileSync } from 'node:fs';

/** One row of the reliability summary table: a scenario, whether its promises held, how long convergence took. */
export interface SummaryRow {
  readonly scenario: string;
  readonly result: 'pass' | 'FAIL' | 'bug (todo)';
  /** Time from the end of the fault (or the last change) until BIRD ran what etcd says; undefined when n/a. */
  readonly convergenceMs?: number | undefined;
  readonly detail?: string | undefined;
}

interface Commenter {
  comment(...message: unknown[]): void;
}

export const formatMs = (ms: number | undefined): string =>
  ms === undefined ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;

const formatRow = (row: SummaryRow): string =>
  `| ${row.scenario} | ${row.result} | ${formatMs(row.convergenceMs)} | ${row.detail ?? ''} |`;

/**
 * Prints the row as a tap comment (visible in `scripts/test` output) and, when BIRDWATCH_RELIABILITY_SUMMARY
 * names a file (scripts/soak sets it), appends it as a JSON line; scripts/soak prints the table at the end.
 */
export function recordRow(t: Commenter, row: SummaryRow): void {
  t.comment(`summary ${formatRow(row)}`);
  const file = process.env['BIRDWATCH_RELIABILITY_SUMMARY'];
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** The markdown table of a list of rows. */
export function summaryTable(rows: readonly SummaryRow[]): string {
  return ['| scenario | result | convergence | detail |', '|---|---|---|---|', ...rows.map(formatRow)].join('\n');
}

/** Markdown for the report: tables, and the summary table whose rows carry a target's verdict. */
import { ms } from './stats.js';

const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
export const table = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
  [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
export const list = (values: readonly number[], format: (v: number) => string): string => values.map(format).join(', ');
/** Milliseconds without the unit (for lists under a heading that names it). */
export const bare = (v: number): string => ms(v).replace(' ms', '');

/** A target judged: met or missed, and for a miss why, from what the same run measured. */
export interface Verdict {
  readonly name: string;
  readonly pass: boolean;
  readonly why?: string;
}

/** The summary's columns after the benchmark's name: scale, birdwatch, floor, ratio, target. */
type SummaryCells = readonly [
  benchmark: string,
  scale: string,
  birdwatch: string,
  floor: string,
  ratio: string,
  target: string,
];

/** The summary table: one row per measure, the verdict in the last column when the row has a target. */
export class SummaryTable {
  readonly #rows: string[][] = [];
  readonly verdicts: Verdict[] = [];
  readonly #notes: string[] = [];

  add(cells: SummaryCells, verdict?: Verdict): void {
    if (verdict !== undefined) this.verdicts.push(verdict);
    this.#rows.push([...cells, verdict === undefined ? '' : verdict.pass ? '**PASS**' : '**MISS**']);
  }

  markdown(): string {
    return table(['Benchmark', 'Scale', 'birdwatch', 'Floor (same run)', 'Ratio', 'Target', ''], this.#rows);
  }

  /** A figure the table states without judging it, said under the table with what it is made of. */
  note(text: string): void {
    this.#notes.push(text);
  }

  /** Under the table: each missed target with its reason, then the notes. */
  afterTableMarkdown(): string {
    const misses = this.verdicts.filter((v) => !v.pass);
    return [
      ...(misses.length === 0
        ? []
        : [
            '### Missed targets, and why',
            '',
            ...misses.map((v) => `- **${v.name}**: ${v.why ?? 'no reason measured in this run.'}`),
            '',
          ]),
      ...this.#notes.flatMap((n) => [n, '']),
    ].join('\n');
  }
}

import { existsSync, readFileSync } from 'node:fs';
import { summaryTable, type SummaryRow } from '../test/reliability/summary.js';

/** Prints the reliability summary table from the JSON lines the tests appended (scripts/soak). */
const file = process.argv[2];
if (!file || !existsSync(file)) {
  process.stderr.write('usage: node --import tsx scripts/soak.ts SUMMARY.jsonl\n');
  process.exit(2);
}
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as SummaryRow);
process.stdout.write(`${rows.length === 0 ? '(no rows: did the tests run?)' : summaryTable(rows)}\n`);

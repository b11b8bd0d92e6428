/**
 * Line diffs and unified-diff text, as `diff -u` prints them. Pure.
 *
 * The edit script is jsdiff's (the `diff` package: Myers' shortest edit script). Lines that only one side has are
 * taken out first, as GNU diff does: they can never match, and without that a change to every peer's AS in a
 * 10,000-peer bird.cfg makes Myers' O(N·D) search take minutes instead of milliseconds.
 */
import { diffArrays } from 'diff';

type DiffOp = 'equal' | 'delete' | 'insert';

/** A run of lines that are kept, removed from the old text, or added by the new one. */
interface DiffRun {
  readonly op: DiffOp;
  readonly lines: readonly string[];
}

/**
 * Splits text into lines that keep their terminator, so a last line without "\n" differs from the same line
 * with one (and is printed with `\ No newline at end of file`).
 * @internal test/render-diff.test.ts checks the diff's parts.
 */
export function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines === null ? [] : lines;
}

/**
 * The runs that turn `a` into `b` (equal runs included), with as few deleted plus inserted lines as possible;
 * within each change, deletions come first (as diff -u prints them).
 * @internal test/render-diff.test.ts checks the diff's parts.
 */
export function diffLines(a: readonly string[], b: readonly string[]): DiffRun[] {
  const inA = new Set(a);
  const inB = new Set(b);
  const keptA = [...a.keys()].filter((i) => inB.has(a[i]!));
  const keptB = [...b.keys()].filter((j) => inA.has(b[j]!));
  const runs: { op: DiffOp; lines: string[] }[] = [];
  const push = (op: DiffOp, lines: readonly string[]): void => {
    if (lines.length === 0) return;
    const last = runs[runs.length - 1];
    if (last?.op === op) last.lines.push(...lines);
    else runs.push({ op, lines: [...lines] });
  };
  // Walk the matched pairs (in the original indexes); what lies between two of them is deleted, then inserted.
  let i = 0;
  let j = 0;
  let fi = 0;
  let fj = 0;
  for (const change of diffArrays(
    keptA.map((k) => a[k]!),
    keptB.map((k) => b[k]!),
  )) {
    if (change.removed) fi += change.count;
    else if (change.added) fj += change.count;
    else
      for (let n = 0; n < change.count; n++, fi++, fj++) {
        push('delete', a.slice(i, keptA[fi]));
        push('insert', b.slice(j, keptB[fj]));
        i = keptA[fi]! + 1;
        j = keptB[fj]! + 1;
        push('equal', [a[i - 1]!]);
      }
  }
  push('delete', a.slice(i));
  push('insert', b.slice(j));
  return runs;
}

export interface UnifiedDiffOptions {
  /** Unchanged lines shown around each change (diff -u: 3). */
  readonly context?: number;
}

/** GNU's range form: `start,count`, `start` alone when count is 1, `start-1,0` for an empty range. */
function range(start: number, count: number): string {
  if (count === 0) return `${start},0`;
  if (count === 1) return String(start + 1);
  return `${start + 1},${count}`;
}

function printLine(prefix: string, line: string): string {
  return line.endsWith('\n') ? `${prefix}${line}` : `${prefix}${line}\n\\ No newline at end of file\n`;
}

/**
 * `diff -u` output between two texts: the `---`/`+++` header with the given labels, then the hunks; '' when
 * the texts are equal. `oldText` undefined means the file does not exist yet (`--- /dev/null`).
 */
export function unifiedDiff(
  oldLabel: string,
  oldText: string | undefined,
  newLabel: string,
  newText: string,
  options: UnifiedDiffOptions = {},
): string {
  const context = options.context ?? 3;
  const runs = diffLines(splitLines(oldText ?? ''), splitLines(newText));
  if (runs.every((r) => r.op === 'equal')) return '';
  // One entry per line with its position in each text, then hunks cut around the changes.
  const lines: { op: DiffOp; text: string; oldIndex: number; newIndex: number }[] = [];
  let oldIndex = 0;
  let newIndex = 0;
  for (const run of runs) {
    for (const text of run.lines) {
      lines.push({ op: run.op, text, oldIndex, newIndex });
      if (run.op !== 'insert') oldIndex++;
      if (run.op !== 'delete') newIndex++;
    }
  }
  const hunks: string[] = [];
  let i = 0;
  for (;;) {
    let firstChange = i;
    while (firstChange < lines.length && lines[firstChange]!.op === 'equal') firstChange++;
    if (firstChange >= lines.length) break;
    // One hunk holds every change whose gap to the previous one is at most 2 × context equal lines.
    let lastChange = firstChange;
    for (let k = firstChange + 1; k < lines.length && k - lastChange <= 2 * context; k++) {
      if (lines[k]!.op !== 'equal') lastChange = k;
    }
    const start = Math.max(i, firstChange - context);
    const end = Math.min(lines.length - 1, lastChange + context);
    const slice = lines.slice(start, end + 1);
    const oldCount = slice.filter((l) => l.op !== 'insert').length;
    const newCount = slice.filter((l) => l.op !== 'delete').length;
    const first = slice[0]!;
    const header = `@@ -${range(first.oldIndex, oldCount)} +${range(first.newIndex, newCount)} @@\n`;
    hunks.push(
      header + slice.map((l) => printLine(l.op === 'equal' ? ' ' : l.op === 'delete' ? '-' : '+', l.text)).join(''),
    );
    i = end + 1;
  }
  const oldHeader = oldText === undefined ? '/dev/null' : oldLabel;
  return `--- ${oldHeader}\n+++ ${newLabel}\n${hunks.join('')}`;
}

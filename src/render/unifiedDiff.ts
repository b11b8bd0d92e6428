/**
 * Line diffs and unified-diff text, as `diff -u` prints them. Pure.
 *
 * The edit script is a shortest one (Myers' O(ND) algorithm, linear-space "middle snake" bisection, after
 * trimming the common prefix and suffix), so a one-peer change in a 10,000-peer bird.cfg costs a few
 * milliseconds and memory proportional to the file, not to its square.
 */

export type DiffOp = 'equal' | 'delete' | 'insert';

/** A run of lines that are kept, removed from the old text, or added by the new one. */
export interface DiffRun {
  readonly op: DiffOp;
  readonly lines: readonly string[];
}

/**
 * Splits text into lines that keep their terminator, so a last line without "\n" differs from the same line
 * with one (and is printed with `\ No newline at end of file`).
 */
export function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines === null ? [] : lines;
}

/** The runs that turn `a` into `b` (equal runs included), with as few deleted plus inserted lines as possible. */
export function diffLines(a: readonly string[], b: readonly string[]): DiffRun[] {
  // Compare small integers, not strings: every distinct line gets an id.
  const ids = new Map<string, number>();
  const idOf = (line: string): number => {
    let id = ids.get(line);
    if (id === undefined) {
      id = ids.size;
      ids.set(line, id);
    }
    return id;
  };
  const x = Int32Array.from(a, idOf);
  const y = Int32Array.from(b, idOf);
  // A line the other side does not have can never be matched: leave it out of the search (GNU diff does the
  // same). The script stays minimal, and a change to every peer's AS costs a linear pass instead of O(N·D).
  const inA = new Uint8Array(ids.size);
  const inB = new Uint8Array(ids.size);
  for (const id of x) inA[id] = 1;
  for (const id of y) inB[id] = 1;
  const keptA = indexesWhere(x, inB);
  const keptB = indexesWhere(y, inA);
  const ops: DiffOp[] = [];
  diffRange(
    Int32Array.from(keptA, (i) => x[i]!),
    0,
    keptA.length,
    Int32Array.from(keptB, (j) => y[j]!),
    0,
    keptB.length,
    ops,
  );
  // Matched pairs in the original indexes; everything between two matches is deleted, then inserted.
  const runs: { op: DiffOp; lines: string[] }[] = [];
  const push = (op: DiffOp, line: string): void => {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.op === op) last.lines.push(line);
    else runs.push({ op, lines: [line] });
  };
  let i = 0;
  let j = 0;
  let fi = 0;
  let fj = 0;
  const advanceTo = (ai: number, bj: number): void => {
    for (; i < ai; i++) push('delete', a[i]!);
    for (; j < bj; j++) push('insert', b[j]!);
  };
  for (const op of ops) {
    if (op === 'equal') {
      advanceTo(keptA[fi]!, keptB[fj]!);
      push('equal', a[i]!);
      i++;
      j++;
    }
    if (op !== 'insert') fi++;
    if (op !== 'delete') fj++;
  }
  advanceTo(a.length, b.length);
  return normalizeRuns(runs);
}

function indexesWhere(values: Int32Array, present: Uint8Array): number[] {
  const kept: number[] = [];
  for (let k = 0; k < values.length; k++) if (present[values[k]!] === 1) kept.push(k);
  return kept;
}

/** Within each change, deletions first, then insertions (as diff -u prints them). */
function normalizeRuns(runs: readonly DiffRun[]): DiffRun[] {
  const out: DiffRun[] = [];
  let deleted: string[] = [];
  let inserted: string[] = [];
  const flush = (): void => {
    if (deleted.length > 0) out.push({ op: 'delete', lines: deleted });
    if (inserted.length > 0) out.push({ op: 'insert', lines: inserted });
    deleted = [];
    inserted = [];
  };
  for (const run of runs) {
    if (run.op === 'equal') {
      flush();
      out.push(run);
    } else if (run.op === 'delete') deleted.push(...run.lines);
    else inserted.push(...run.lines);
  }
  flush();
  return out;
}

function diffRange(
  a: Int32Array,
  aLo: number,
  aHi: number,
  b: Int32Array,
  bLo: number,
  bHi: number,
  ops: DiffOp[],
): void {
  // Common prefix and suffix cost nothing to match.
  let prefix = 0;
  while (aLo + prefix < aHi && bLo + prefix < bHi && a[aLo + prefix] === b[bLo + prefix]) prefix++;
  let suffix = 0;
  while (aHi - suffix > aLo + prefix && bHi - suffix > bLo + prefix && a[aHi - suffix - 1] === b[bHi - suffix - 1])
    suffix++;
  for (let k = 0; k < prefix; k++) ops.push('equal');
  const lo1 = aLo + prefix;
  const hi1 = aHi - suffix;
  const lo2 = bLo + prefix;
  const hi2 = bHi - suffix;
  if (lo1 === hi1) for (let k = lo2; k < hi2; k++) ops.push('insert');
  else if (lo2 === hi2) for (let k = lo1; k < hi1; k++) ops.push('delete');
  else {
    const split = middleSnake(a, lo1, hi1, b, lo2, hi2);
    if (split === undefined) {
      for (let k = lo1; k < hi1; k++) ops.push('delete');
      for (let k = lo2; k < hi2; k++) ops.push('insert');
    } else {
      diffRange(a, lo1, split.x, b, lo2, split.y, ops);
      diffRange(a, split.x, hi1, b, split.y, hi2, ops);
    }
  }
  for (let k = 0; k < suffix; k++) ops.push('equal');
}

/**
 * Past this many steps of one bisection, settle for the furthest point the forward walk reached (GNU diff's
 * "too expensive" heuristic): the script may then be longer than the shortest, never wrong. Only texts that
 * differ almost everywhere (one reversed, say) get there.
 */
const MAX_BISECT_STEPS = 1024;

/**
 * Myers' bisection: walks forward from the start and backward from the end, one edit distance `d` at a time,
 * until the two paths overlap; returns a point on a shortest edit path (absolute indexes) to split at, or
 * undefined when the ranges share no line at all.
 */
function middleSnake(
  a: Int32Array,
  aLo: number,
  aHi: number,
  b: Int32Array,
  bLo: number,
  bHi: number,
): { x: number; y: number } | undefined {
  const n = aHi - aLo;
  const m = bHi - bLo;
  const maxD = Math.ceil((n + m) / 2);
  const offset = maxD;
  const size = 2 * maxD + 2;
  const forward = new Int32Array(size).fill(-1);
  const backward = new Int32Array(size).fill(-1);
  forward[offset + 1] = 0;
  backward[offset + 1] = 0;
  const delta = n - m;
  const checkInForward = delta % 2 !== 0;
  // Diagonals that ran off the edit graph are not extended again.
  let k1Start = 0;
  let k1End = 0;
  let k2Start = 0;
  let k2End = 0;
  let best = { x: 0, y: 0 };
  for (let d = 0; d < maxD; d++) {
    if (d >= MAX_BISECT_STEPS && best.x + best.y > 0) return { x: aLo + best.x, y: bLo + best.y };
    for (let k1 = -d + k1Start; k1 <= d - k1End; k1 += 2) {
      const k1Offset = offset + k1;
      let x1 =
        k1 === -d || (k1 !== d && forward[k1Offset - 1]! < forward[k1Offset + 1]!)
          ? forward[k1Offset + 1]!
          : forward[k1Offset - 1]! + 1;
      let y1 = x1 - k1;
      while (x1 < n && y1 < m && a[aLo + x1] === b[bLo + y1]) {
        x1++;
        y1++;
      }
      forward[k1Offset] = x1;
      if (x1 <= n && y1 <= m && x1 + y1 > best.x + best.y) best = { x: x1, y: y1 };
      if (x1 > n) k1End += 2;
      else if (y1 > m) k1Start += 2;
      else if (checkInForward) {
        const k2Offset = offset + delta - k1;
        if (k2Offset >= 0 && k2Offset < size && backward[k2Offset] !== -1) {
          if (x1 >= n - backward[k2Offset]!) return { x: aLo + x1, y: bLo + y1 };
        }
      }
    }
    for (let k2 = -d + k2Start; k2 <= d - k2End; k2 += 2) {
      const k2Offset = offset + k2;
      let x2 =
        k2 === -d || (k2 !== d && backward[k2Offset - 1]! < backward[k2Offset + 1]!)
          ? backward[k2Offset + 1]!
          : backward[k2Offset - 1]! + 1;
      let y2 = x2 - k2;
      while (x2 < n && y2 < m && a[aHi - x2 - 1] === b[bHi - y2 - 1]) {
        x2++;
        y2++;
      }
      backward[k2Offset] = x2;
      if (x2 > n) k2End += 2;
      else if (y2 > m) k2Start += 2;
      else if (!checkInForward) {
        const k1Offset = offset + delta - k2;
        if (k1Offset >= 0 && k1Offset < size && forward[k1Offset] !== -1) {
          const x1 = forward[k1Offset]!;
          const y1 = x1 - (k1Offset - offset);
          if (x1 >= n - x2) return { x: aLo + x1, y: bLo + y1 };
        }
      }
    }
  }
  return undefined;
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
  const before = splitLines(oldText ?? '');
  const after = splitLines(newText);
  const runs = diffLines(before, after);
  if (runs.every((r) => r.op === 'equal')) return '';
  // Flatten to one entry per line with its position in each text, then cut hunks around the changes.
  interface Line {
    readonly op: DiffOp;
    readonly text: string;
    readonly oldIndex: number;
    readonly newIndex: number;
  }
  const lines: Line[] = [];
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

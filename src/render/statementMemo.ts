import { tokenizeStatements, type ConfigStatement, type RawStatement } from './configBlocks.js';

/** What changed from one content of a file to the next: the statements between the shared head and tail. */
export interface StatementDelta {
  /** The content this one was parsed from. */
  readonly from: string;
  readonly removed: readonly ConfigStatement[];
  readonly added: readonly ConfigStatement[];
}

interface Parsed {
  readonly source: string;
  readonly raws: readonly RawStatement[];
  readonly statements: readonly ConfigStatement[];
  readonly delta?: StatementDelta;
}

/** How many parses of one file are kept: the live one and the rendered one. */
const KEPT_PER_FILE = 2;

/**
 * Each cycle compares the live files with the rendered ones in BGP terms; both are a few MB at 10,000 peers, and
 * one change touches one statement. This memo parses each file's new content from its last parse: the statements
 * before the first differing character and after the last one are reused, only those in between are tokenized.
 */
export class StatementMemo {
  readonly #parsed = new Map<string, Parsed[]>();

  statements(file: string, source: string): readonly ConfigStatement[] {
    return this.#parse(file, source, undefined).statements;
  }

  /**
   * How `after` differs from `before` in statements, when `after` was parsed from `before`'s parse (the usual
   * case: the live file is the last rendering); undefined otherwise. Every statement outside the delta is in both.
   */
  delta(file: string, before: string, after: string): StatementDelta | undefined {
    const parsed = this.#parse(file, after, before);
    return parsed.delta && parsed.delta.from === before ? parsed.delta : undefined;
  }

  /** A kept parse of `source`, or one made from the parse of `base` (else the last one), kept. */
  #parse(file: string, source: string, base: string | undefined): Parsed {
    const kept = this.#parsed.get(file) ?? [];
    const hit = kept.find((p) => p.source === source);
    if (hit) return hit;
    const from = (base === undefined ? undefined : kept.find((p) => p.source === base)) ?? kept[kept.length - 1];
    const parsed = from ? reparse(from, source) : parse(source);
    this.#parsed.set(file, [...kept.filter((p) => p !== from), ...(from ? [from] : []), parsed].slice(-KEPT_PER_FILE));
    return parsed;
  }
}

/**
 * Common prefix and suffix lengths (in UTF-16 code units) of two contents, compared as UTF-16 buffers with native
 * compares of shrinking chunks: a rendered file is a deep rope of template pieces, on which JS character access
 * and slicing are slow; one copy of each into a buffer is not.
 */
const CHUNKS = [65536, 4096, 256, 16, 1];

function commonEnds(a: string, b: string): { prefix: number; suffix: number } {
  const A = Buffer.from(a, 'utf16le');
  const B = Buffer.from(b, 'utf16le');
  const limit = Math.min(a.length, b.length);
  let prefix = 0;
  for (const chunk of CHUNKS)
    while (
      prefix + chunk <= limit &&
      A.compare(B, 2 * prefix, 2 * (prefix + chunk), 2 * prefix, 2 * (prefix + chunk)) === 0
    )
      prefix += chunk;
  let suffix = 0;
  const room = limit - prefix;
  for (const chunk of CHUNKS)
    while (
      suffix + chunk <= room &&
      A.compare(
        B,
        2 * (b.length - suffix - chunk),
        2 * (b.length - suffix),
        2 * (a.length - suffix - chunk),
        2 * (a.length - suffix),
      ) === 0
    )
      suffix += chunk;
  return { prefix, suffix };
}

/** The last character the tokenizer read to end a statement at `end`: the first non-space from there. */
function lookedAtUpTo(source: string, end: number): number {
  let j = end;
  while (j < source.length && /\s/.test(source[j]!)) j++;
  return j;
}

/** The index of the last statement ending at or before `end` (ends never decrease), by binary search. */
function lastEndingAtOrBefore(raws: readonly RawStatement[], end: number): number | undefined {
  let lo = 0;
  let hi = raws.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (raws[mid]!.end <= end) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? lo - 1 : undefined;
}

/** The index of the last statement ending exactly at `end`. */
function lastEndingAt(raws: readonly RawStatement[], end: number): number | undefined {
  const index = lastEndingAtOrBefore(raws, end);
  return index !== undefined && raws[index]!.end === end ? index : undefined;
}

const parsedOf = (source: string, raws: readonly RawStatement[]): Parsed => ({
  source,
  raws,
  statements: statementsIn(raws),
});

function statementsIn(raws: readonly RawStatement[]): ConfigStatement[] {
  const statements: ConfigStatement[] = [];
  for (const raw of raws) if (raw.statement) statements.push(raw.statement);
  return statements;
}

function parse(source: string): Parsed {
  return parsedOf(source, tokenizeStatements(source, 0, undefined).raws);
}

/**
 * `source` tokenized from `base`'s statements: those in the common prefix and suffix are reused.
 * @internal the statement-memo unit test compares it with a full parse.
 */
export function reparse(base: Readonly<{ source: string; raws: readonly RawStatement[] }>, source: string): Parsed {
  const old = base.source;
  const { prefix, suffix } = commonEnds(old, source);
  // A statement is unchanged when every character that decided it is shared: its own, and after a closing `}` the
  // spaces and the one character the tokenizer looks at to see whether a `;` follows.
  let kept = (lastEndingAtOrBefore(base.raws, prefix) ?? -1) + 1;
  while (kept > 0 && lookedAtUpTo(old, base.raws[kept - 1]!.end) >= prefix) kept--;
  const head = base.raws.slice(0, kept);
  const from = kept > 0 ? head[kept - 1]!.end : 0;
  // A boundary inside the common suffix that was a boundary before too: from there on the two files tokenize alike.
  const shift = source.length - old.length;
  let resumeAt: number | undefined;
  const middle = tokenizeStatements(source, from, (end) => {
    if (end < source.length - suffix) return false;
    resumeAt = lastEndingAt(base.raws, end - shift);
    return resumeAt !== undefined;
  });
  let tail: readonly RawStatement[] = [];
  if (middle.stopped && resumeAt !== undefined) {
    tail = base.raws.slice(resumeAt + 1);
    if (shift !== 0) tail = tail.map((r) => ({ start: r.start + shift, end: r.end + shift, statement: r.statement }));
  }
  const replaced = base.raws.slice(kept, middle.stopped && resumeAt !== undefined ? resumeAt + 1 : base.raws.length);
  return {
    ...parsedOf(source, head.concat(middle.raws, tail)),
    delta: { from: old, removed: statementsIn(replaced), added: statementsIn(middle.raws) },
  };
}

/**
 * A BIRD configuration file as its top-level statements (`router id …;`, `filter x { … }`,
 * `protocol bgp Mesh_10_0_0_2 from bgp_template { … }`), for telling which parts of a configuration a change
 * touches. Pure; it reads structure only (comments, strings, braces), never meaning.
 */

export interface ConfigStatement {
  /** The statement with comments removed and whitespace collapsed: equal text means equal configuration. */
  readonly text: string;
  /** The protocol name when the statement is a `protocol bgp NAME …` block (one BGP session). */
  readonly bgpProtocol: string | undefined;
}

const BGP_PROTOCOL = /^protocol\s+bgp\s+([A-Za-z_][A-Za-z0-9_]*)/;
/** Statement kinds whose third word is part of the name (`template bgp bgp_template`, `protocol static static1`). */
const NAMED_BY_TYPE = new Set(['protocol', 'template']);

/** What an operator calls a statement: `protocol bgp Mesh_10_0_0_2`, `filter calico_pools`, `router id`. */
export function statementLabel(text: string): string {
  const head = text.split(/[{;]/, 1)[0]!.trim();
  const words = head.split(' ');
  const first = words[0] ?? '';
  if (NAMED_BY_TYPE.has(first)) return words.slice(0, 3).join(' ');
  return words.slice(0, 2).join(' ').replace(/\(.*$/, '').trim();
}

/** BIRD's whitespace: space, tab, newline, carriage return, form feed, vertical tab. */
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** One top-level statement with where it lies in its file: `[start, end)` (empty statements have none). */
export interface RawStatement {
  readonly start: number;
  readonly end: number;
  readonly statement: ConfigStatement | undefined;
}

/**
 * Splits a file into top-level statements: a statement ends at a `;` outside braces, or at the `}` that closes
 * its outermost brace (an optional `;` right after belongs to it). `#` and C comments are dropped; strings are
 * kept whole (BIRD 1.6 strings have no escapes).
 */
export function splitStatements(source: string): ConfigStatement[] {
  return tokenizeStatements(source, 0, undefined).raws.flatMap((r) => (r.statement ? [r.statement] : []));
}

/**
 * The tokenizer behind splitStatements, from `start` (which must be a statement boundary: the state there is
 * top-level), stopping early once `stopAfter(end)` says the rest is known. Whether a statement ends at a given
 * place depends only on the characters before the next statement's end (the `}`…`;` look-ahead stays inside it).
 */
export function tokenizeStatements(
  source: string,
  start: number,
  stopAfter: ((end: number) => boolean) | undefined,
): { raws: RawStatement[]; stopped: boolean } {
  const raws: RawStatement[] = [];
  // The current statement, as slices of `source` (comments replaced by a space).
  let parts: string[] = [];
  let from = start;
  let depth = 0;
  let stopped = false;
  const finish = (end: number): void => {
    parts.push(source.slice(from, end));
    const text = (parts.length === 1 ? parts[0]! : parts.join('')).replace(/\s+/g, ' ').trim();
    parts = [];
    const bgp = text.startsWith('protocol bgp ') ? BGP_PROTOCOL.exec(text) : null;
    raws.push({
      start: from,
      end,
      statement: text === '' || text === ';' ? undefined : { text, bgpProtocol: bgp?.[1] },
    });
    from = end;
    if (stopAfter?.(end) === true) stopped = true;
  };
  const skip = (start: number, end: number): void => {
    parts.push(source.slice(from, start), ' ');
    from = end;
  };
  let i = start;
  while (i < source.length && !stopped) {
    const c = source.charCodeAt(i);
    if (c === 0x23 /* # */) {
      const end = source.indexOf('\n', i);
      skip(i, end < 0 ? source.length : end);
      i = end < 0 ? source.length : end;
    } else if (c === 0x2f /* / */ && source.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? source.length : end + 2;
      skip(i, stop);
      i = stop;
    } else if (c === 0x22 /* " */) {
      const end = source.indexOf('"', i + 1);
      i = end < 0 ? source.length : end + 1;
    } else if (c === 0x7b /* { */) {
      depth++;
      i++;
    } else if (c === 0x7d /* } */) {
      i++;
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        // A top-level block ends here; a `;` right after (spaces apart) still belongs to it.
        let j = i;
        while (j < source.length && isSpace(source.charCodeAt(j))) j++;
        if (source[j] === ';') i = j + 1;
        finish(i);
      }
    } else if (c === 0x3b /* ; */ && depth === 0) {
      i++;
      finish(i);
    } else i++;
  }
  if (!stopped) finish(source.length);
  return { raws, stopped };
}

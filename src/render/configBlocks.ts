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

/**
 * Splits a file into top-level statements: a statement ends at a `;` outside braces, or at the `}` that closes
 * its outermost brace (an optional `;` right after belongs to it). `#` and C comments are dropped; strings are
 * kept whole (BIRD 1.6 strings have no escapes).
 */
export function splitStatements(source: string): ConfigStatement[] {
  const statements: ConfigStatement[] = [];
  // The current statement, as slices of `source` (comments replaced by a space).
  let parts: string[] = [];
  let from = 0;
  let depth = 0;
  const finish = (end: number): void => {
    parts.push(source.slice(from, end));
    const text = (parts.length === 1 ? parts[0]! : parts.join('')).replace(/\s+/g, ' ').trim();
    parts = [];
    from = end;
    if (text === '' || text === ';') return;
    const bgp = text.startsWith('protocol bgp ') ? BGP_PROTOCOL.exec(text) : null;
    statements.push({ text, bgpProtocol: bgp?.[1] });
  };
  const skip = (start: number, end: number): void => {
    parts.push(source.slice(from, start), ' ');
    from = end;
  };
  let i = 0;
  while (i < source.length) {
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
  finish(source.length);
  return statements;
}

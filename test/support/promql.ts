/**
 * What a PromQL expression refers to: the series it selects (metric name and label matchers) and the labels its
 * `by`, `without`, `on`, `ignoring` and `group_left/right` clauses name. Enough of PromQL's lexical grammar to find
 * those in any expression; whether the expression parses at all is promtool's to say (test/prometheus-rules).
 */

interface LabelMatcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

interface SeriesSelector {
  /** undefined for a selector of matchers only (`{__name__=~"…"}`). */
  readonly metric: string | undefined;
  readonly matchers: readonly LabelMatcher[];
}

export interface PromqlReferences {
  readonly selectors: readonly SeriesSelector[];
  /** Labels named by by/without/on/ignoring/group_left/group_right. */
  readonly groupingLabels: readonly string[];
}

type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'op';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([...GROUPING, 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

function unquote(raw: string): string {
  const body = raw.slice(1, -1);
  if (raw.startsWith('`')) return body;
  return body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

function lex(expr: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s+|#[^\n]*|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|((?:\d+(?:ms|[smhdwy]))+|0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|([A-Za-z_:][A-Za-z0-9_:]*)|([(){}[\],@])|(=~|!~|!=|==|<=|>=|[-+*/%^<>=:])/y;
  let at = 0;
  while (at < expr.length) {
    re.lastIndex = at;
    const m = re.exec(expr);
    if (m === null) throw new Error(`PromQL: unexpected ${JSON.stringify(expr.slice(at, at + 20))} in ${expr}`);
    at = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'string', text: m[1] });
    else if (m[2] !== undefined) tokens.push({ kind: 'number', text: m[2] });
    else if (m[3] !== undefined) tokens.push({ kind: 'ident', text: m[3] });
    else if (m[4] !== undefined) tokens.push({ kind: 'punct', text: m[4] });
    else if (m[5] !== undefined) tokens.push({ kind: 'op', text: m[5] });
  }
  return tokens;
}

/** The series selectors and grouping labels of `expr`. Throws on text that is not PromQL's tokens. */
export function promqlReferences(expr: string): PromqlReferences {
  const tokens = lex(expr);
  const selectors: SeriesSelector[] = [];
  const groupingLabels: string[] = [];
  const matchersFrom = (start: number): { matchers: LabelMatcher[]; end: number } => {
    // tokens[start] is `{`
    const matchers: LabelMatcher[] = [];
    let i = start + 1;
    while (tokens[i]?.text !== '}') {
      const [label, op, value] = [tokens[i], tokens[i + 1], tokens[i + 2]];
      if (label?.kind !== 'ident' || op?.kind !== 'op' || value?.kind !== 'string')
        throw new Error(`PromQL: a label matcher expected at ${tokens[i]?.text ?? 'the end'} in ${expr}`);
      matchers.push({ label: label.text, op: op.text as LabelMatcher['op'], value: unquote(value.text) });
      i += 3;
      if (tokens[i]?.text === ',') i++;
    }
    return { matchers, end: i };
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const next = tokens[i + 1];
    if (token.kind === 'punct' && token.text === '[') {
      // A range or subquery: durations and a colon, no names.
      while (i < tokens.length && tokens[i]!.text !== ']') i++;
      continue;
    }
    if (token.kind === 'punct' && token.text === '{') {
      const { matchers, end } = matchersFrom(i);
      selectors.push({ metric: undefined, matchers });
      i = end;
      continue;
    }
    if (token.kind !== 'ident') continue;
    const word = token.text.toLowerCase();
    if (GROUPING.has(word)) {
      if (next?.text === '(') {
        let j = i + 2;
        for (; tokens[j] !== undefined && tokens[j]!.text !== ')'; j++)
          if (tokens[j]!.kind === 'ident') groupingLabels.push(tokens[j]!.text);
        i = j;
      }
      continue;
    }
    if (KEYWORDS.has(word)) continue;
    if (next?.text === '(') continue; // a function or an aggregation
    if (next?.kind === 'ident' && ['by', 'without'].includes(next.text.toLowerCase())) continue; // `sum by (…) (…)`
    if (next?.text === '{') {
      const { matchers, end } = matchersFrom(i + 1);
      selectors.push({ metric: token.text, matchers });
      i = end;
    } else selectors.push({ metric: token.text, matchers: [] });
  }
  return { selectors, groupingLabels };
}

/**
 * A Grafana query made PromQL: `$__rate_interval` and `$__interval` become durations, any other `$variable` the
 * regular expression `.+` (every variable here is used in a `=~` matcher).
 */
export const grafanaToPromql = (expr: string): string =>
  expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replace(/\$\{?\w+\}?/g, '.+');

/** The selector and label of a Grafana `label_values(selector, label)` variable query. */
export function labelValuesQuery(query: string): { readonly selector: string; readonly label: string } {
  const m = /^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(query.trim());
  if (m === null) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return { selector: m[1]!, label: m[2]! };
}

import fc from 'fast-check';
import t from 'tap';
import { escapeControlCharacters, hasControlCharacters } from '../../src/model/controlCharacters.js';
import { formatDiagnostic, showValue } from '../../src/model/diagnostics.js';
import type { LogFn, Logger } from 'pino';
import { escapeLogArguments, escapeLogFields } from '../../src/observe/terminalSafeLog.js';

/** What must never reach a human-facing line raw: C0, DEL, C1, line/paragraph separators, bidi marks. */
const UNSAFE_CODES: readonly number[] = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
  0x061c,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
];
const UNSAFE = new Set(UNSAFE_CODES);
/**
 * Any text: every code point (lone surrogates too), the unsafe ones often. Built from integers: fast-check's
 * `unit: 'binary'` strings are ~250× slower to generate (2 s for 500) and rarely hit an unsafe one past C0.
 */
const anyText = (maxLength: number): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 0x10ffff }), fc.constantFrom(...UNSAFE_CODES)), { maxLength })
    .map((codes) => String.fromCodePoint(...codes));
const rawUnsafe = (text: string): number[] => [...text].map((ch) => ch.codePointAt(0)!).filter((c) => UNSAFE.has(c));

t.test('every unsafe character is escaped, each to its own escape', async (t) => {
  for (const code of UNSAFE_CODES) {
    const escaped = escapeControlCharacters(`a${String.fromCharCode(code)}b`);
    t.same(rawUnsafe(escaped), [], `U+${code.toString(16).padStart(4, '0')}`);
  }
  t.equal(
    escapeControlCharacters('k\n\r\t\x1b[2J\x00\x7f\x9b\u2028\u202e'),
    'k\\n\\r\\t\\x1b[2J\\x00\\x7f\\x9b\\u2028\\u202e',
  );
  t.equal(
    escapeControlCharacters('/calico/v1/host/node-1/ip_addr_v4 é ✓ \\n'),
    '/calico/v1/host/node-1/ip_addr_v4 é ✓ \\n',
  );
  t.notOk(hasControlCharacters('plain / é'));
  t.ok(hasControlCharacters('a\u0085b'));
});

t.test('property: no unsafe character survives, safe text is unchanged, escaping twice is escaping once', async (t) => {
  fc.assert(
    fc.property(anyText(60), (text) => {
      const once = escapeControlCharacters(text);
      return (
        rawUnsafe(once).length === 0 &&
        escapeControlCharacters(once) === once &&
        (hasControlCharacters(text) || once === text)
      );
    }),
    { numRuns: 500 },
  );
  t.pass('500 strings');
});

t.test('a diagnostic with a hostile key, reason and value is one line with nothing raw', async (t) => {
  const evil = 'a\nFORGED\r\x1b[2J\x1b]0;t\x07\x9b1m\x85\u2028z';
  const line = formatDiagnostic({
    key: `/calico/bgp/v1/host/${evil}/ip_addr_v4`,
    value: `10.0.0.1${evil}`,
    action: 'skipped',
    reason: `bad name "${evil}"`,
  });
  t.same(rawUnsafe(line), []);
  t.match(line, /^\/calico\/bgp\/v1\/host\/a\\nFORGED\\r\\x1b\[2J/);
  t.same(rawUnsafe(showValue(`\u009b${'x'.repeat(500)}`)), [], 'a long value is bounded and escaped');
});

t.test('pretty log fields: strings escaped at any depth, errors left whole', async (t) => {
  const error = new Error('two\nlines');
  const fields = escapeLogFields({ key: 'a\nb', keys: ['c\x1bd'], nested: { v: '\u2028' }, n: 1, err: error });
  t.same(fields, { key: 'a\\nb', keys: ['c\\x1bd'], nested: { v: '\\u2028' }, n: 1, err: error });
  t.equal(fields.err, error);
});

t.test('pretty log messages: the message and interpolated strings escaped, objects passed on', async (t) => {
  const calls: unknown[][] = [];
  const method = function (...args: unknown[]) {
    calls.push(args);
  } as unknown as LogFn;
  const fields = { key: 'k' };
  escapeLogArguments.call({} as Logger, [fields, 'quarantined %s\r\n', 'a\x1b[2Jb'] as Parameters<LogFn>, method);
  t.same(calls, [[fields, 'quarantined %s\\r\\n', 'a\\x1b[2Jb']]);
  t.equal(calls[0]?.[0], fields);
});

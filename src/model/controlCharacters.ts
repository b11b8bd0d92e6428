/**
 * Characters that let a datastore string forge or rewrite what a person reads: C0 controls (newline, carriage
 * return, ESC of terminal sequences, BEL…), DEL, C1 controls (U+0080–U+009F, among them the one-byte CSI), the
 * Unicode line and paragraph separators, and the bidirectional formatting marks that reorder a line on screen.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escapeOne = (ch: string): string => {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * A string as it may appear in a human-facing line (a CLI warning, a pretty log line): each unsafe character
 * becomes its escape (`\n`, `\x1b`, `\x9b`, `\u2028`), everything else is kept as it is. Backslashes are kept,
 * so escaping twice changes nothing more than escaping once. Pure.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** Whether `escapeControlCharacters` would change `text`. */
export const hasControlCharacters = (text: string): boolean => text.search(UNSAFE) >= 0;

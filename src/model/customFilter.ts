import { accept, refuse, type Validated } from './result.js';

const MAX_FILTER_BYTES = 64 * 1024;

/**
 * Custom filters are raw BIRD statements by design (as in Calico), pasted into `function custom_filters ()`.
 * They cannot be validated field by field, so this lexical check keeps them inside that function body:
 * braces balanced and never closing the function, strings and comments terminated, no `include`
 * (BIRD expands it anywhere and would read arbitrary files), no control characters. `bird -p` checks the rest.
 */
export function checkCustomFilterBody(body: string): Validated<string> {
  if (Buffer.byteLength(body, 'utf8') > MAX_FILTER_BYTES)
    return refuse(`custom filter is larger than ${MAX_FILTER_BYTES} bytes`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(body)) return refuse('custom filter contains control characters');
  let depth = 0;
  let i = 0;
  while (i < body.length) {
    const ch = body[i]!;
    if (ch === '"') {
      const end = body.indexOf('"', i + 1);
      const newline = body.indexOf('\n', i + 1);
      if (end < 0 || (newline >= 0 && newline < end)) return refuse('custom filter has an unterminated string');
      i = end + 1;
    } else if (ch === '#') {
      const newline = body.indexOf('\n', i);
      i = newline < 0 ? body.length : newline + 1;
    } else if (ch === '/' && body[i + 1] === '*') {
      const end = body.indexOf('*/', i + 2);
      if (end < 0) return refuse('custom filter has an unterminated /* comment');
      i = end + 2;
    } else if (ch === '{') {
      depth++;
      i++;
    } else if (ch === '}') {
      depth--;
      if (depth < 0) return refuse('custom filter closes a brace it did not open (it would end custom_filters())');
      i++;
    } else if (/[A-Za-z_]/.test(ch)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(body.slice(i, i + 64))![0];
      if (word.toLowerCase() === 'include') return refuse('custom filter may not use include');
      i += word.length;
    } else {
      i++;
    }
  }
  if (depth !== 0) return refuse('custom filter has unbalanced braces');
  if (body.trim() === '') return refuse('custom filter is empty');
  return accept(body.replace(/\s+$/, ''));
}

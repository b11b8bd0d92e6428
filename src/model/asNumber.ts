import { accept, refuse, type Validated } from './result.js';

const MAX_ASN = 4294967295;

/** AS numbers: asplain 1-4294967295, or asdot `X.Y` (each 0-65535) converted to asplain. */
export function parseAsNumber(raw: unknown): Validated<number> {
  const text = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : raw;
  if (typeof text !== 'string') return refuse('AS number must be a string of digits');
  const asdot = /^(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})$/.exec(text);
  if (asdot) {
    const high = Number(asdot[1]);
    const low = Number(asdot[2]);
    if (high > 65535 || low > 65535) return refuse('asdot parts must be 0-65535');
    const value = high * 65536 + low;
    return value >= 1 ? accept(value) : refuse('AS number must be 1-4294967295');
  }
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return refuse('AS number must be 1-4294967295 (asplain) or X.Y (asdot)');
  const value = Number(text);
  return value <= MAX_ASN ? accept(value) : refuse('AS number must be 1-4294967295');
}

import { UsageError } from './usageError.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/**
 * A duration option in whole milliseconds: `250ms`, `1s`, `1.5s`, `2m`, or a plain number of milliseconds
 * (what these options always took). `argument` names the option in the error.
 */
export function parseDuration(
  argument: string,
  value: string,
  limits: Readonly<{ minMs: number; maxMs: number }>,
): number {
  const expected = `expected a duration such as 250ms, 1s or 1.5s, or whole milliseconds (${limits.minMs} to ${limits.maxMs} ms)`;
  const match = /^(\d{1,9})(?:\.(\d{1,3}))?(ms|s|m)?$/.exec(value.trim());
  if (match === null) throw new UsageError(argument, value, expected);
  const [, whole = '', fraction = '', unit = 'ms'] = match;
  // Integer arithmetic in thousandths of a unit: 1.001s is 1001 ms exactly, never 1000.9999.
  const thousandths = Number(whole) * 1000 + Number(fraction.padEnd(3, '0'));
  const ms = (thousandths * UNIT_MS[unit]!) / 1000;
  if (!Number.isInteger(ms)) throw new UsageError(argument, value, `not a whole number of milliseconds; ${expected}`);
  if (ms < limits.minMs || ms > limits.maxMs) throw new UsageError(argument, value, `out of range; ${expected}`);
  return ms;
}

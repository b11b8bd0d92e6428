import { UsageError } from './usageError.js';

/** `0.25` or `25%`: the largest share of time BIRD may spend reconfiguring, in (0, 1]. */
export function parseReloadShare(value: string): number {
  const expected = 'expected a share of time greater than 0 and at most 1, such as 0.25 or 25%';
  const m = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(value.trim());
  if (m === null) throw new UsageError('--max-reload-share', value, expected);
  const share = Number(m[1]) / (m[2] === '%' ? 100 : 1);
  if (!(share > 0 && share <= 1)) throw new UsageError('--max-reload-share', value, `out of range; ${expected}`);
  return share;
}

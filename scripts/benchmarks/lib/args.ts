/**
 * Flags of the benchmarks, checked once where they are read: a bad one is a UsageError naming the flag, the
 * value and what is expected; the entry point prints it with the usage and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** node:util's parseArgs, strict, no positionals; its own errors (an unknown flag, a missing value) as UsageError. */
export function parseFlags<const T extends FlagOptions>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** A whole number ≥ `min`; `fallback` when the flag is absent. */
export function wholeNumber(flag: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a whole number ≥ ${min}`);
  return n;
}

/** A comma-separated list of node counts (each a whole number ≥ 2). */
export function nodeCounts(flag: string, text: string): number[] {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 2))
    throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a comma-separated list of whole numbers ≥ 2`);
  return list;
}

/** A share in (0, 1]. */
export function share(flag: string, text: string): number {
  const n = Number(text);
  if (!(n > 0 && n <= 1)) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a number > 0 and ≤ 1`);
  return n;
}

/** A comma-separated list of names, each one of `known`. */
export function namesFrom<T extends string>(flag: string, text: string, known: readonly T[]): T[] {
  const names = text.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(known as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new UsageError(
      `${flag}: unknown ${unknown.map((n) => JSON.stringify(n)).join(', ')} (have ${known.join(', ')})`,
    );
  return names as T[];
}

import type { CommandContext } from './context.js';

/** `--json` output: one JSON document on stdout (bigints as strings). */
export function printJson(context: CommandContext, value: unknown): void {
  context.stdout(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
}

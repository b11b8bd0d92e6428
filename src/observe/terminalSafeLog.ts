import type { LogFn, Logger } from 'pino';
import { escapeControlCharacters } from '../model/controlCharacters.js';

const MAX_DEPTH = 8;

/**
 * Pretty log lines go to a person: pino-pretty prints the message as it is (a key holding a newline would start a
 * forged line, an ESC would drive the terminal) and fields through JSON (which leaves C1 controls raw). So in
 * pretty mode messages and string fields are escaped before they are logged; JSON lines are not touched (JSON
 * escapes what matters to a machine). Errors are left whole: their stacks are meant to span lines.
 */
export function escapeLogFields<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return escapeControlCharacters(value) as T;
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => escapeLogFields(item, depth + 1)) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, escapeLogFields(item, depth + 1)]),
  ) as T;
}

/** pino's `hooks.logMethod` for pretty mode: the message and its interpolated arguments, escaped. */
export function escapeLogArguments(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const escaped = args.map((arg: unknown) => (typeof arg === 'string' ? escapeControlCharacters(arg) : arg));
  method.apply(this, escaped as Parameters<LogFn>);
}

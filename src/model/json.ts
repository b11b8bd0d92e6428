import { accept, refuse, type Validated } from './result.js';

/** Parses a value that must be a JSON object (not an array, string or null). */
export function parseJsonObject(text: string): Validated<Readonly<Record<string, unknown>>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse('value is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return refuse('value must be a JSON object');
  return accept(parsed as Record<string, unknown>);
}

export function optionalBoolean(
  object: Readonly<Record<string, unknown>>,
  field: string,
): Validated<boolean | undefined> {
  const value = object[field];
  if (value === undefined) return accept(undefined);
  return typeof value === 'boolean' ? accept(value) : refuse(`"${field}" must be true or false`);
}

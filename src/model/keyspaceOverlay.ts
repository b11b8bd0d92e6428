import type { Keyspace } from './keyspaceIndex.js';

/**
 * The keyspace with some keys set to other values (undefined: left out), without copying it: the apply guard
 * renders a reverted entry with the value BIRD ran before (README "The apply guard").
 */
export function keyspaceOverlay(keyspace: Keyspace, overrides: ReadonlyMap<string, string | undefined>): Keyspace {
  if (overrides.size === 0) return keyspace;
  const view = new Map<string, string>();
  // Only the overridden keys are copied into a small map; every other key reads through.
  for (const [key, value] of overrides) if (value !== undefined) view.set(key, value);
  const valueOf = (key: string): string | undefined => (overrides.has(key) ? view.get(key) : keyspace.get(key));
  function* entries(): MapIterator<[string, string]> {
    for (const [key, value] of keyspace) if (!overrides.has(key)) yield [key, value];
    yield* view.entries();
  }
  function* keysOf(): MapIterator<string> {
    for (const [key] of entries()) yield key;
  }
  function* values(): MapIterator<string> {
    for (const [, value] of entries()) yield value;
  }
  let size = keyspace.size;
  for (const [key, value] of overrides) size += (value !== undefined ? 1 : 0) - (keyspace.has(key) ? 1 : 0);
  return {
    get size() {
      return size;
    },
    get: valueOf,
    has: (key) => valueOf(key) !== undefined,
    entries,
    keys: keysOf,
    values,
    forEach(callback, thisArg?: unknown) {
      for (const [key, value] of entries()) callback.call(thisArg, value, key, this);
    },
    [Symbol.iterator]: entries,
  };
}

import type { Keyspace } from './keyspaceIndex.js';

/**
 * The keyspace without some keys (entries held back after BIRD refused them), without copying it: a 20,000-host
 * keyspace is not duplicated to leave out one entry.
 */
export function keyspaceWithout(keyspace: Keyspace, excluded: ReadonlySet<string>): Keyspace {
  if (excluded.size === 0) return keyspace;
  const kept = (key: string): boolean => !excluded.has(key);
  function* entries(): MapIterator<[string, string]> {
    for (const entry of keyspace) if (kept(entry[0])) yield entry;
  }
  function* keysOf(): MapIterator<string> {
    for (const key of keyspace.keys()) if (kept(key)) yield key;
  }
  function* values(): MapIterator<string> {
    for (const [key, value] of keyspace) if (kept(key)) yield value;
  }
  let excludedPresent = 0;
  for (const key of excluded) if (keyspace.has(key)) excludedPresent++;
  return {
    get size() {
      return keyspace.size - excludedPresent;
    },
    get: (key) => (kept(key) ? keyspace.get(key) : undefined),
    has: (key) => kept(key) && keyspace.has(key),
    entries,
    keys: keysOf,
    values,
    forEach(callback, thisArg?: unknown) {
      for (const [key, value] of entries()) callback.call(thisArg, value, key, this);
    },
    [Symbol.iterator]: entries,
  };
}

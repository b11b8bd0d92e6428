import { readFile } from 'node:fs/promises';
import { DatastoreError } from './errors.js';
import type { KeyspaceSnapshot } from './snapshot.js';
import { errorMessage } from '../errorMessage.js';

/** Reads a fixture-format file: one JSON object of etcd key → string value. */
export async function readKeyspaceFile(
  path: string,
  options: Readonly<{ signal?: AbortSignal }> = {},
): Promise<KeyspaceSnapshot> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal: options.signal });
  } catch (error) {
    throw new DatastoreError(`cannot read datastore file ${path}: ${errorMessage(error)}`, 'unreachable', {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DatastoreError(`datastore file ${path} is not valid JSON: ${errorMessage(error)}`, 'format', {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DatastoreError(`datastore file ${path} must hold one JSON object of key → string value`, 'format');
  }
  const entries = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') {
      throw new DatastoreError(
        `datastore file ${path}: key ${key} must have a string value (etcd stores strings)`,
        'format',
      );
    }
    entries.set(key, value);
  }
  return { revision: 0n, entries };
}

import { keys } from '../../src/model/keys.js';

/** The node every in-process run test configures; its BGP lives on loopback (peers 127.0.x.y) inside a namespace. */
export const NODE = 'n1';

/**
 * The base keyspace of the run tests: node n1 at 127.0.0.1 / ::1 and one mesh peer n2 at 127.0.0.2 — one
 * BGP session in bird, none in bird6. Each test adds (or overrides) what its scenario needs.
 */
export function loopbackKeyspace(...extra: (readonly [string, string])[]): Map<string, string> {
  return new Map([
    [keys.hostAddress(NODE, 4), '127.0.0.1'],
    [keys.hostAddress(NODE, 6), '::1'],
    [keys.hostAddress('n2', 4), '127.0.0.2'],
    ...extra,
  ]);
}

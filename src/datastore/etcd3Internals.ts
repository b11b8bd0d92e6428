import { createRequire } from 'node:module';
import { DatastoreError } from './errors.js';

/**
 * The etcd3 release whose private connection pool `watchStream.ts` is written against; package.json pins exactly
 * this version (README "Dependencies").
 * @internal the etcd3-internals tests check the pin and the message.
 */
export const ETCD3_VERSION = '1.1.2';

/**
 * The installed etcd3 lacks members of its connection pool that the watch stream uses.
 * @internal the etcd3-internals tests check the pin and the message.
 */
export class Etcd3InternalsError extends DatastoreError {
  constructor(
    /** The installed etcd3's version (from its package.json). */
    readonly foundVersion: string,
    /** Each member not found, as `path (expected type)`. */
    readonly missing: readonly string[],
  ) {
    super(
      `etcd3 ${foundVersion} lacks what birdwatch's etcd watch uses: ${missing.join(', ')}. birdwatch is built ` +
        `against etcd3 ${ETCD3_VERSION}: reinstall birdwatch from its package-lock.json (npm ci), or run ` +
        `npm install --save-exact etcd3@${ETCD3_VERSION} where birdwatch is installed`,
      'client',
    );
  }
}

const memberOf = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;

/**
 * Each private member of an etcd3 client that `watchStream.ts` uses and `client` lacks, as `path (expected type)`.
 * What the pool hands to `withConnection`'s callback is only seen on a connection (test/etcd3-internals.test.ts).
 * @internal the etcd3-internals tests check the shape against a real client.
 */
export function missingEtcd3Internals(client: unknown): string[] {
  const pool = memberOf(client, 'pool');
  if (typeof pool !== 'object' || pool === null) return ['pool (object)'];
  const missing: string[] = [];
  if (typeof memberOf(pool, 'withConnection') !== 'function') missing.push('pool.withConnection (function)');
  const hosts = memberOf(pool, 'hosts');
  if (!Array.isArray(hosts) || hosts.length === 0) return [...missing, 'pool.hosts (array of hosts)'];
  if (!hosts.every((host) => typeof memberOf(host, 'host') === 'string')) missing.push('pool.hosts[].host (string)');
  if (!hosts.every((host) => typeof memberOf(host, 'resetAllServices') === 'function'))
    missing.push('pool.hosts[].resetAllServices (function)');
  return missing;
}

/**
 * The installed etcd3's version, read only to name it in the error.
 * @internal the etcd3-internals tests check the pin and the message.
 */
export function installedEtcd3Version(): string {
  try {
    const version = memberOf(createRequire(import.meta.url)('etcd3/package.json'), 'version');
    return typeof version === 'string' ? version : '(version unknown)';
  } catch {
    return '(version unknown)';
  }
}

/**
 * Refuses, once where the client is created, an etcd3 whose connection pool is not the shape `watchStream.ts`
 * reaches into: one message at start-up instead of a TypeError, or an endpoint order silently ignored, at the
 * first watch.
 */
export function checkEtcd3Internals(client: unknown, foundVersion: () => string = installedEtcd3Version): void {
  const missing = missingEtcd3Internals(client);
  if (missing.length > 0) throw new Etcd3InternalsError(foundVersion(), missing);
}

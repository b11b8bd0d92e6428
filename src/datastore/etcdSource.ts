import type { Etcd3, KVClient } from 'etcd3';
import { prefixKeyScope, type KeyRange, type KeyScope } from '../model/keyScope.js';
import { classifyEtcdError } from './etcdErrors.js';
import { DatastoreError } from './errors.js';
import type { EtcdHeader, KeyspaceSnapshot, ScopedSnapshot } from './snapshot.js';

export const headerOf = (header: { revision: string; cluster_id: string; member_id: string }): EtcdHeader => ({
  revision: BigInt(header.revision),
  clusterId: header.cluster_id,
  memberId: header.member_id,
});

type RangeReader = Pick<KVClient, 'range'>;

interface ReadOptions {
  readonly signal?: AbortSignal | undefined;
  /** Where the range reads go (default: the client's choice of member). */
  readonly kv?: RangeReader | undefined;
  /** Keys in the first page of a range (default DEFAULT_PAGE_KEYS); later pages are sized by bytes. */
  readonly pageKeys?: number;
}

const DEFAULT_PAGE_KEYS = 2_000;
/**
 * Pages aim at this many bytes, far below the receive limit. Few pages matter: etcd 3.4 counts every key left in
 * the range for each page (O(keys) per page), so 100 pages of 1,000 keys cost 3× one read of 100,000.
 */
const TARGET_PAGE_BYTES = 4 * 1024 * 1024;
const MAX_PAGE_KEYS = 50_000;

/**
 * Reads every key of `scope` at one revision, page by page (limit + continue after the last key): the first
 * page fixes the revision, every later page is read at it, so the snapshot is consistent while others write,
 * and no single answer has to hold the whole keyspace. Ranges are read in the plan's order; when what was read
 * changes the plan (the mesh switch), the missing ranges are read at the same revision and keys the final plan
 * does not keep are dropped.
 */
export async function readScopedSnapshot(
  client: Etcd3,
  scope: KeyScope,
  options: ReadOptions = {},
): Promise<ScopedSnapshot> {
  const entries = new Map<string, string>();
  const done = new Set<string>();
  let revision: string | undefined;
  let header: EtcdHeader | undefined;
  let keysRead = 0;
  let bytesRead = 0;
  let plan = scope.plan((key) => entries.get(key));
  for (;;) {
    const next = plan.ranges.find((range) => !done.has(rangeId(range)));
    if (!next) break;
    done.add(rangeId(next));
    const keep = plan.keep;
    const result = await readRange(options.kv ?? client.kv, next, revision, options, (key, value) => {
      keysRead++;
      bytesRead += key.length + value.length;
      if (keep(key)) entries.set(key, value);
    });
    revision ??= String(result.revision);
    header = result;
    plan = scope.plan((key) => entries.get(key));
  }
  const inside = (key: string): boolean => plan.ranges.some((r) => key >= r.start && key < r.end);
  for (const key of entries.keys()) if (!inside(key) || !plan.keep(key)) entries.delete(key);
  if (!header) header = await readHeader(client); // a scope of no ranges: still learn the revision
  return { revision: BigInt(revision ?? header.revision), entries, plan, header, keysRead, bytesRead };
}

/** Every key under `prefixes` at one revision (operator commands; the daemon reads its role's scope). */
export function readEtcdSnapshot(
  client: Etcd3,
  prefixes: readonly string[],
  options: ReadOptions = {},
): Promise<KeyspaceSnapshot> {
  return readScopedSnapshot(client, prefixKeyScope(prefixes), options);
}

/** A cheap linearizable read: the cluster's current header (revision and identity). */
export async function readHeader(client: Etcd3, signal?: AbortSignal): Promise<EtcdHeader> {
  try {
    const response = await untilAborted(
      () => client.kv.range({ key: Buffer.from('/calico/bgp/v1/global/as_num'), count_only: true }),
      signal,
    );
    return headerOf(response.header);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw classifyEtcdError(error);
  }
}

/**
 * etcd3's unary calls take no AbortSignal, and one to a member that does not answer waits out its deadline (5 s,
 * retried): the caller stops waiting at the abort instead (bounded shutdown, README "Reliability"). The call itself
 * ends at its deadline or when the client is closed.
 */
function untilAborted<T>(call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return call();
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    call().then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const rangeId = (range: KeyRange): string => `${range.start}\u0000${range.end}`;

/**
 * One range in pages. Returns the header of the first page (whose revision the rest are read at). A page too
 * large for the client is asked again with half the keys; a single key too large is a `too-large` error naming it.
 */
async function readRange(
  kv: RangeReader,
  range: KeyRange,
  atRevision: string | undefined,
  options: ReadOptions,
  onKeyValue: (key: string, value: string) => void,
): Promise<EtcdHeader> {
  let limit = options.pageKeys ?? DEFAULT_PAGE_KEYS;
  let from = range.start;
  let revision = atRevision;
  let first: EtcdHeader | undefined;
  for (;;) {
    let response;
    try {
      response = await untilAborted(
        () =>
          kv.range({
            key: Buffer.from(from),
            range_end: Buffer.from(range.end),
            limit: String(limit),
            revision: revision ?? '0',
          }),
        options.signal,
      );
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const failure = classifyEtcdError(error);
      if (failure.kind !== 'too-large') throw failure;
      if (limit === 1) {
        const key = await nameOfNextKey(kv, from, range.end, revision).catch(() => `the key at or after ${from}`);
        throw new DatastoreError(
          `etcd response too large: the value of ${key} does not fit the client's receive limit (${failure.message})`,
          'too-large',
          { cause: error },
        );
      }
      limit = Math.max(1, Math.floor(limit / 2));
      continue;
    }
    first ??= headerOf(response.header);
    revision ??= String(first.revision);
    let pageBytes = 0;
    let last: string | undefined;
    for (const kv of response.kvs) {
      const key = kv.key.toString('utf8');
      const value = kv.value.toString('utf8');
      pageBytes += kv.key.length + kv.value.length;
      onKeyValue(key, value);
      last = key;
    }
    if (!response.more || last === undefined) return first;
    from = `${last}\u0000`;
    // Aim the next page at TARGET_PAGE_BYTES from this page's average key+value size.
    const perKey = pageBytes / response.kvs.length;
    limit = Math.max(1, Math.min(MAX_PAGE_KEYS, Math.floor(TARGET_PAGE_BYTES / Math.max(1, perKey))));
  }
}

/** The key a too-large page starts with (keys only: small). */
async function nameOfNextKey(
  kv: RangeReader,
  from: string,
  end: string,
  revision: string | undefined,
): Promise<string> {
  const response = await kv.range({
    key: Buffer.from(from),
    range_end: Buffer.from(end),
    limit: '1',
    keys_only: true,
    revision: revision ?? '0',
  });
  const key = response.kvs[0]?.key.toString('utf8');
  if (key === undefined) throw new Error('no key');
  return key;
}

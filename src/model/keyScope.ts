import { decodeNodeMesh } from './encodings.js';
import { classifyKey, GLOBAL_PREFIX, HOST_PREFIX, IPAM_HOST_PREFIX, keys, POOL_PREFIX, BGP_PREFIX } from './keys.js';

/** A key range [start, end) as etcd takes it (end is exclusive). */
export interface KeyRange {
  readonly start: string;
  readonly end: string;
}

/**
 * The smallest string above every string that starts with `prefix` (etcd's "range_end" of a prefix).
 * @internal test/etcd3-internals.test.ts compares it with etcd's range end.
 */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

const prefixRange = (prefix: string): KeyRange => ({ start: prefix, end: prefixEnd(prefix) });

/** What one role reads and watches for one state of the keyspace. */
export interface ScopePlan {
  /** Disjoint ranges, in reading order (the global directory first: the mesh switch decides the rest). */
  readonly ranges: readonly KeyRange[];
  /** Whether a key inside the ranges is kept (a range may hold keys the role never renders). */
  readonly keep: (key: string) => boolean;
  /** Identifies the plan: a different label means different ranges, so a re-read. */
  readonly label: string;
}

/**
 * What a role needs from etcd, possibly depending on what it has read so far (a node needs the other hosts'
 * addresses only while the node-to-node mesh is on). Pure: `get` looks up keys already read.
 */
export interface KeyScope {
  plan(get: (key: string) => string | undefined): ScopePlan;
}

const RR_PREFIX = `${BGP_PREFIX}rr_v`;
const POOL_V4 = `${POOL_PREFIX}v4/pool/`;
const POOL_V6 = `${POOL_PREFIX}v6/pool/`;

/** The mesh is on unless the switch says off (an unreadable value counts as on, like the model's default). */
function meshEnabled(get: (key: string) => string | undefined): boolean {
  const value = get(keys.nodeMesh);
  if (value === undefined) return true;
  const decoded = decodeNodeMesh(value);
  return decoded.ok ? decoded.value : true;
}

/**
 * A node renders: the global BGP directory, the route reflector list, its own host directory, the pools, its
 * own IPAM blocks, and (only while the mesh is on) the other hosts' addresses and AS numbers.
 */
export function nodeKeyScope(nodeName: string): KeyScope {
  const ownHost = keys.hostDir(nodeName);
  const ownBlocks = `${IPAM_HOST_PREFIX}${nodeName}/`;
  const common = [prefixRange(RR_PREFIX), prefixRange(POOL_V4), prefixRange(POOL_V6), prefixRange(ownBlocks)];
  const meshOff: ScopePlan = {
    ranges: [prefixRange(GLOBAL_PREFIX), prefixRange(ownHost), ...common],
    keep: () => true,
    label: 'mesh off',
  };
  const meshOn: ScopePlan = {
    ranges: [prefixRange(GLOBAL_PREFIX), prefixRange(HOST_PREFIX), ...common],
    // Of the other hosts only what makes a mesh peer: addresses and AS numbers (their peers, log levels and
    // networks are theirs alone).
    keep: (key) => {
      if (!key.startsWith(HOST_PREFIX) || key.startsWith(ownHost)) return true;
      const kind = classifyKey(key).kind;
      return kind === 'hostAddress' || kind === 'hostAsNumber';
    },
    label: 'mesh on',
  };
  return { plan: (get) => (meshEnabled(get) ? meshOn : meshOff) };
}

/**
 * A route reflector renders the global directory (AS, log level, global peers), the reflector list and every
 * host's addresses, AS numbers and peers (who its clients are); never pools or IPAM blocks.
 */
export function reflectorKeyScope(): KeyScope {
  const plan: ScopePlan = {
    ranges: [prefixRange(GLOBAL_PREFIX), prefixRange(HOST_PREFIX), prefixRange(RR_PREFIX)],
    keep: (key) => {
      if (!key.startsWith(HOST_PREFIX)) return true;
      const kind = classifyKey(key).kind;
      return kind === 'hostAddress' || kind === 'hostAsNumber' || kind === 'hostPeer' || kind === 'malformed';
    },
    label: 'route reflector',
  };
  return { plan: () => plan };
}

/** Fixed prefixes, everything kept (operator commands, tests). */
export function prefixKeyScope(prefixes: readonly string[]): KeyScope {
  const plan: ScopePlan = { ranges: prefixes.map(prefixRange), keep: () => true, label: prefixes.join(' ') };
  return { plan: () => plan };
}

/**
 * One range from the first prefix to the end of the last, keeping only keys under the prefixes: what birdwatch
 * watched before the scopes (kept for comparison in scripts/benchmarks/suites/watchers.ts).
 * @internal the watchers benchmark.
 */
export function coveringRangeOf(prefixes: readonly string[]): KeyScope {
  const sorted = [...prefixes].sort();
  const plan: ScopePlan = {
    ranges: [{ start: sorted[0]!, end: prefixEnd(sorted[sorted.length - 1]!) }],
    keep: (key) => prefixes.some((p) => key.startsWith(p)),
    label: 'covering range',
  };
  return { plan: () => plan };
}

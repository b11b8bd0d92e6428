import type { AddressFamily } from '../model/address.js';
import { cidrsOverlap, compareCidrs, parseCidr, type Cidr } from '../model/cidr.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { decodePool, encodePool, type PoolSettings } from '../model/encodings.js';
import { classifyKey, keys } from '../model/keys.js';
import type { Pool } from '../model/nodeModel.js';
import { OperatorConflictError, OperatorNotFoundError } from './errors.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

/** `pool add`: a validated CIDR (no host bits) and calicoctl's options. IPIP is IPv4 only (checked by the caller). */
export interface PoolSpec extends PoolSettings {
  readonly cidr: Cidr;
}

/**
 * Writes the pool exactly as calicoctl did (`{"cidr":…}` plus `"ipip":"tunl0"`, `"masquerade":true` when asked),
 * and `IpInIpEnabled` = `true` with `--ipip`, in one transaction. A pool overlapping another pool of the family
 * is refused; the same CIDR again replaces that pool's options. The overlap check and the write are atomic:
 * the transaction commits only if the pool directory did not change since it was read.
 */
export function addPool(store: OperatorStore, spec: PoolSpec): Promise<WriteReport> {
  if (spec.ipip && spec.cidr.family === 6) throw new OperatorConflictError(spec.cidr.text, 'IPIP is IPv4 only');
  const family = spec.cidr.family;
  const dir = keys.poolDir(family);
  const key = keys.pool(family, spec.cidr.text);
  return plannedWrite(store, { read: [dir], guardPrefixes: [dir] }, (snapshot) => {
    const notes: string[] = [];
    for (const existingKey of [...snapshot.entries.keys()].sort()) {
      const meaning = classifyKey(existingKey);
      if (meaning.kind !== 'pool' || meaning.family !== family) continue;
      const existing = parseCidr(meaning.cidr, family);
      if (!existing.ok) continue; // an unreadable pool key is skipped by every reader: it cannot overlap anything
      if (existing.value.text === spec.cidr.text) {
        notes.push(
          `pool ${spec.cidr.text} already existed: its options were replaced (was ${snapshot.entries.get(existingKey)})`,
        );
      } else if (cidrsOverlap(existing.value, spec.cidr)) {
        throw new OperatorConflictError(
          spec.cidr.text,
          `overlaps the existing pool ${existing.value.text} (${existingKey})`,
        );
      }
    }
    const puts: [string, string][] = [[key, encodePool(spec.cidr, spec)]];
    if (spec.ipip) puts.push([keys.ipInIpEnabled, 'true']);
    return { puts, notes };
  });
}

/** Deletes the pool's key. Its IPAM blocks, and IpInIpEnabled, are left alone (as calicoctl did). */
export function removePool(store: OperatorStore, cidr: Cidr): Promise<WriteReport> {
  const key = keys.pool(cidr.family, cidr.text);
  return plannedWrite(store, { read: [key] }, (snapshot) => {
    if (!snapshot.entries.has(key))
      throw new OperatorNotFoundError(`no pool ${cidr.text} (${key} does not exist); nothing removed`);
    return { puts: [], deleteKeys: [key] };
  });
}

export interface PoolListing {
  readonly pools: readonly (Pool & { readonly key: string })[];
  /** Entries under the pool directories that no reader would use. */
  readonly invalid: readonly Diagnostic[];
}

/** Every pool of the given families, decoded as the renderer decodes them; sorted by CIDR. */
export async function listPools(store: OperatorStore, families: readonly AddressFamily[]): Promise<PoolListing> {
  const snapshot = await store.read(families.map((f) => keys.poolDir(f)));
  const pools: (Pool & { key: string })[] = [];
  const invalid: Diagnostic[] = [];
  for (const [key, value] of [...snapshot.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const meaning = classifyKey(key);
    if (meaning.kind === 'malformed') invalid.push({ key, value, action: 'skipped', reason: meaning.reason });
    if (meaning.kind !== 'pool') continue;
    const pool = decodePool(value, meaning.family, meaning.cidr);
    if (!pool.ok) {
      invalid.push({ key, value, action: 'skipped', reason: pool.reason });
      continue;
    }
    pools.push({ ...pool.value.value, key });
    for (const reason of pool.value.droppedFields) invalid.push({ key, value, action: 'defaulted', reason });
  }
  return { pools: pools.sort((a, b) => compareCidrs(a.cidr, b.cidr)), invalid };
}

import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { parseAsNumber } from '../model/asNumber.js';
import { keys } from '../model/keys.js';
import { DEFAULT_AS_NUMBER } from '../model/nodeModel.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

/** The default AS of every node (`global/as_num`) and where it came from. */
export interface GlobalAsNumber {
  readonly asNumber: number;
  /** `set`: the key holds it; `default`: the key is missing; `invalid`: the key is unreadable, so 64511 applies. */
  readonly source: 'set' | 'default' | 'invalid';
  /** The stored text when the key exists. */
  readonly stored?: string;
}

/** Reads `global/as_num` from a snapshot that includes it, falling back as the renderer does (64511). */
export function globalAsNumberOf(snapshot: KeyspaceSnapshot): GlobalAsNumber {
  const stored = snapshot.entries.get(keys.globalAsNumber);
  if (stored === undefined) return { asNumber: DEFAULT_AS_NUMBER, source: 'default' };
  const parsed = parseAsNumber(stored);
  return parsed.ok
    ? { asNumber: parsed.value, source: 'set', stored }
    : { asNumber: DEFAULT_AS_NUMBER, source: 'invalid', stored };
}

export async function getDefaultAsNumber(store: OperatorStore): Promise<GlobalAsNumber> {
  return globalAsNumberOf(await store.read([keys.globalAsNumber]));
}

/** `bgp default-node-as <AS>`: `global/as_num` as plain decimal (asdot input was converted by the caller's parser). */
export function setDefaultAsNumber(store: OperatorStore, asNumber: number): Promise<WriteReport> {
  return plannedWrite(store, { read: [keys.globalAsNumber] }, () => ({
    puts: [[keys.globalAsNumber, String(asNumber)]],
  }));
}

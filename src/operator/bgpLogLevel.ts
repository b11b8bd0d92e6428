import { keys } from '../model/keys.js';
import type { BirdLogLevel } from '../model/birdLogLevel.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

/**
 * `config bgp loglevel LEVEL [--node NAME]`: `global/loglevel`, or `host/NAME/loglevel` (which overrides the
 * global level on that node). Notes when the node is not registered yet (the setting waits for it).
 */
export function setBgpLogLevel(store: OperatorStore, level: BirdLogLevel, node?: string): Promise<WriteReport> {
  if (node === undefined) {
    return plannedWrite(store, { read: [keys.globalLogLevel] }, () => ({ puts: [[keys.globalLogLevel, level]] }));
  }
  const addressKey = keys.hostAddress(node, 4);
  return plannedWrite(store, { read: [addressKey] }, (snapshot) => ({
    puts: [[keys.hostLogLevel(node), level]],
    notes: snapshot.entries.get(addressKey)
      ? []
      : [`node ${node} is not registered yet (no ${addressKey}): the level applies once it is`],
  }));
}

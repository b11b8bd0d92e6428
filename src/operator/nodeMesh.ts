import { decodeNodeMesh, encodeNodeMesh } from '../model/encodings.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { keys } from '../model/keys.js';
import { plannedWrite, type WriteReport } from './plannedWrite.js';
import type { OperatorStore } from './store.js';

/** The node-to-node mesh setting (`global/node_mesh`) and where it came from. */
export interface NodeMeshSetting {
  readonly enabled: boolean;
  /** `set`: the key holds it; `default`: missing (mesh on); `invalid`: unreadable, so on applies. */
  readonly source: 'set' | 'default' | 'invalid';
  readonly stored?: string;
}

/** Reads `global/node_mesh` from a snapshot that includes it; missing or unreadable means on, as in the renderer. */
export function nodeMeshOf(snapshot: KeyspaceSnapshot): NodeMeshSetting {
  const stored = snapshot.entries.get(keys.nodeMesh);
  if (stored === undefined) return { enabled: true, source: 'default' };
  const decoded = decodeNodeMesh(stored);
  return decoded.ok ? { enabled: decoded.value, source: 'set', stored } : { enabled: true, source: 'invalid', stored };
}

export async function getNodeMesh(store: OperatorStore): Promise<NodeMeshSetting> {
  return nodeMeshOf(await store.read([keys.nodeMesh]));
}

/** `bgp node-mesh on|off`: `{"enabled":true}` / `{"enabled":false}`. */
export function setNodeMesh(store: OperatorStore, enabled: boolean): Promise<WriteReport> {
  return plannedWrite(store, { read: [keys.nodeMesh] }, () => ({ puts: [[keys.nodeMesh, encodeNodeMesh(enabled)]] }));
}

import { derivationOf, ListEditor } from '../model/listEdits.js';
import type { BgpPeer, PeerKind } from '../model/nodeModel.js';

/** A family's peers as the templates list them: one list per kind, each in the model's order. */
export interface PeersByKind<V> {
  readonly mesh: readonly V[];
  readonly global: readonly V[];
  readonly node: readonly V[];
}

/**
 * Splits a family's peer list (sorted by kind, then address) into per-kind view lists. A list the model made from
 * the one split last time (listEdits.ts) is split by its edits alone, and the view lists are ListEditor results
 * too, so the templates re-render only the blocks those edits touch (templateSet.ts). Weak: a list split goes with
 * the model list.
 */
export function peerViewSplitter<V>(viewOf: (peer: BgpPeer) => V): (peers: readonly BgpPeer[]) => PeersByKind<V> {
  const split = new WeakMap<readonly BgpPeer[], PeersByKind<V>>();
  return (peers) => {
    const known = split.get(peers);
    if (known) return known;
    const derivation = derivationOf(peers);
    const base = derivation && split.get(derivation.from);
    let result: PeersByKind<V>;
    if (derivation && base) {
      const editors: Record<PeerKind, ListEditor<V>> = {
        mesh: new ListEditor(base.mesh),
        global: new ListEditor(base.global),
        node: new ListEditor(base.node),
      };
      // The kinds are consecutive in the model's list: a position there is its kind's position plus the kinds before.
      const offset = (kind: PeerKind): number =>
        kind === 'mesh' ? 0 : kind === 'global' ? editors.mesh.length : editors.mesh.length + editors.global.length;
      for (const edit of derivation.edits) {
        if (edit.removed) editors[edit.removed.kind].remove(edit.at - offset(edit.removed.kind));
        if (edit.inserted)
          editors[edit.inserted.kind].insert(edit.at - offset(edit.inserted.kind), viewOf(edit.inserted));
      }
      result = { mesh: editors.mesh.done(), global: editors.global.done(), node: editors.node.done() };
    } else {
      const byKind: Record<PeerKind, V[]> = { mesh: [], global: [], node: [] };
      for (const peer of peers) byKind[peer.kind].push(viewOf(peer));
      result = byKind;
    }
    split.set(peers, result);
    return result;
  };
}

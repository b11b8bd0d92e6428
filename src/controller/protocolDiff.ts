import type { NodeModel } from '../model/nodeModel.js';

export interface ProtocolDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

const protocolNames = (model: NodeModel | undefined): Set<string> =>
  new Set(model ? [...model.v4.peers, ...model.v6.peers].map((p) => `${p.protocolName}`) : []);

/** Which BGP protocols a change adds and removes (what an operator sees in `birdc show protocols`). */
export function diffProtocols(before: NodeModel | undefined, after: NodeModel): ProtocolDiff {
  const old = protocolNames(before);
  const now = protocolNames(after);
  return {
    added: [...now].filter((name) => !old.has(name)),
    removed: [...old].filter((name) => !now.has(name)),
  };
}

export const formatProtocolDiff = (diff: ProtocolDiff): string =>
  [...diff.added.map((n) => `+${n}`), ...diff.removed.map((n) => `−${n}`)].join(' ');

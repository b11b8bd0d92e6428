export interface ProtocolDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** Which BGP protocols a change adds and removes (what an operator sees in `birdc show protocols`). */
export function diffProtocols(before: readonly string[] | undefined, after: readonly string[]): ProtocolDiff {
  const old = new Set(before ?? []);
  const now = new Set(after);
  return {
    added: [...now].filter((name) => !old.has(name)),
    removed: [...old].filter((name) => !now.has(name)),
  };
}

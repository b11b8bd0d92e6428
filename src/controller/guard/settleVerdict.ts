import type { ProtocolStats } from '../../bird/protocolStats.js';

/** What the guard watches of one daemon: every BGP session's state and export count. */
export interface GuardSnapshot {
  readonly sessions: ReadonlyMap<
    string,
    {
      readonly established: boolean;
      readonly state: string;
      readonly exported: number | undefined;
      /** The peer closed the session because its own configuration dropped us (a host removed, a mesh change). */
      readonly peerDeconfigured?: boolean;
    }
  >;
}

/** BIRD's last error when the other side sent Cease / "Peer de-configured": the peer's decision, not this apply's. */
const PEER_DECONFIGURED = /Received: Peer de-configured/;

export function snapshotOf(stats: readonly ProtocolStats[]): GuardSnapshot {
  return {
    sessions: new Map(
      stats
        .filter((s) => s.protocol.proto === 'BGP')
        .map((s) => [
          s.protocol.name,
          {
            established: s.protocol.bgpState === 'Established',
            state: `${s.protocol.bgpState ?? s.protocol.state}${s.protocol.lastError ? ` (${s.protocol.lastError})` : ''}`,
            exported: s.exported,
            peerDeconfigured: PEER_DECONFIGURED.test(s.protocol.lastError ?? ''),
          },
        ]),
    ),
  };
}

/** Sessions the guard holds an apply to: Established before, and still configured after (a removed one is not). */
export function watchedSessions(before: GuardSnapshot, removed: ReadonlySet<string>): string[] {
  return [...before.sessions].filter(([name, s]) => s.established && !removed.has(name)).map(([name]) => name);
}

export interface SettleThresholds {
  /** The apply fails when the routes the watched sessions export fall by more than this (percent, 0-100). */
  readonly maxExportDropPercent: number;
}

export interface SettleVerdict {
  readonly ok: boolean;
  /** Watched sessions not Established at the end of the window, with the state seen. */
  readonly down: readonly { readonly name: string; readonly state: string }[];
  readonly exportedBefore: number;
  readonly exportedAfter: number;
  /** One line: why the apply is kept or reverted. */
  readonly summary: string;
}

/**
 * The verdict at the end of the settle window: every watched session Established again, and the routes they
 * export not fallen by more than the threshold. Pure.
 */
export function settleVerdict(
  before: GuardSnapshot,
  after: GuardSnapshot,
  removed: ReadonlySet<string>,
  thresholds: SettleThresholds,
): SettleVerdict {
  // A session its peer de-configured during the window (the peer's datastore changed: a host removed, the mesh
  // switched off) says nothing about this apply; judging it would revert a good change and hold its keys.
  const watched = watchedSessions(before, removed).filter(
    (name) => after.sessions.get(name)?.peerDeconfigured !== true,
  );
  const down = watched.flatMap((name) => {
    const now = after.sessions.get(name);
    return now?.established ? [] : [{ name, state: now?.state ?? 'gone' }];
  });
  const exportedBefore = watched.reduce((sum, name) => sum + (before.sessions.get(name)?.exported ?? 0), 0);
  const exportedAfter = watched.reduce((sum, name) => sum + (after.sessions.get(name)?.exported ?? 0), 0);
  const dropPercent = exportedBefore === 0 ? 0 : ((exportedBefore - exportedAfter) / exportedBefore) * 100;
  const routesFell = dropPercent > thresholds.maxExportDropPercent;
  const problems: string[] = [];
  if (down.length > 0)
    problems.push(
      `${down.length} of ${watched.length} sessions not Established again: ${down.map((d) => `${d.name} ${d.state}`).join(', ')}`,
    );
  if (routesFell)
    problems.push(
      `routes exported fell from ${exportedBefore} to ${exportedAfter} (−${dropPercent.toFixed(0)} %, more than ${thresholds.maxExportDropPercent} %)`,
    );
  const ok = problems.length === 0;
  return {
    ok,
    down,
    exportedBefore,
    exportedAfter,
    summary: ok
      ? `${watched.length} sessions Established, routes exported ${exportedBefore} → ${exportedAfter}`
      : problems.join('; '),
  };
}

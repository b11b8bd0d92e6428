import type { AddressFamily } from '../model/address.js';
import type { ProtocolRow } from '../bird/showProtocols.js';
import type { Daemon } from '../model/daemon.js';
import { parseProtocolName, type SessionKind } from '../model/protocolName.js';

/** How calicoctl status (and `birdwatch status`) calls each kind of session. */
export const PEER_TYPE_LABELS: Readonly<Record<SessionKind, string>> = {
  mesh: 'node-to-node mesh',
  global: 'global',
  node: 'node specific',
  reflector: 'route reflector peer',
  client: 'route reflector client',
};

/** One BGP session as `status` shows it (calicoctl's columns: peer address, type, state, since, info). */
export interface BgpSession {
  /** The BIRD protocol name (`Mesh_10_0_0_2`). */
  readonly protocol: string;
  /** The neighbor from the name; undefined when the name does not hold an address. */
  readonly peerAddress: string | undefined;
  readonly peerType: SessionKind;
  /** BIRD's protocol state (up, start, down …; `?` when the row could not be read). */
  readonly state: string;
  readonly since: string;
  /** The BGP state (Established, Active …) when BIRD printed one. */
  readonly bgpState: string | undefined;
  /** The last error (`Socket: Connection refused`, `BGP Error: Bad peer AS` …). */
  readonly lastError: string | undefined;
  readonly established: boolean;
}

/**
 * What one family's daemon said: its sessions, or why it could not be asked. `daemon`: who serves the family when it
 * is not the family's BIRD 1.6 daemon (BIRD 2/3: `bird` serves IPv6 too).
 */
export type FamilyStatus =
  | {
      readonly family: AddressFamily;
      readonly socketPath: string;
      readonly reachable: true;
      readonly sessions: readonly BgpSession[];
      readonly daemon?: Daemon;
    }
  | {
      readonly family: AddressFamily;
      readonly socketPath: string;
      readonly reachable: false;
      readonly error: string;
      readonly daemon?: Daemon;
    };

/**
 * The sessions among `show protocols` rows: those whose name starts with Mesh_, Global_, Node_, Reflector_ or
 * Client_ (other protocols are not peers). A row the parser could not read but whose name is a peer's is kept,
 * with state `?` and the reason as its error, so a session is never silently missing from the count.
 */
export function sessionsFromRows(rows: readonly ProtocolRow[], family: AddressFamily): BgpSession[] {
  const sessions: BgpSession[] = [];
  for (const row of rows) {
    if (row.kind === 'protocol') {
      const name = parseProtocolName(row.name, family);
      if (name === undefined) continue;
      sessions.push({
        protocol: row.name,
        peerAddress: name.address?.text,
        peerType: name.kind,
        state: row.state,
        since: row.since,
        bgpState: row.bgpState,
        lastError: row.lastError,
        established: row.bgpState === 'Established',
      });
    } else {
      const [first = '', , , state, since] = row.raw.split(/\s+/);
      const name = parseProtocolName(first, family);
      if (name === undefined) continue;
      sessions.push({
        protocol: first,
        peerAddress: name.address?.text,
        peerType: name.kind,
        state: state ?? '?',
        since: since ?? '',
        bgpState: undefined,
        lastError: `unreadable row (${row.reason})`,
        established: false,
      });
    }
  }
  return sessions;
}

/** `info` as one cell: `Established`, `Active (Socket: Connection refused)`, or the error alone. */
export function sessionInfo(session: BgpSession): string {
  if (session.bgpState !== undefined && session.lastError !== undefined)
    return `${session.bgpState} (${session.lastError})`;
  return session.bgpState ?? session.lastError ?? '';
}

export const countEstablished = (sessions: readonly BgpSession[]): number =>
  sessions.filter((s) => s.established).length;

export const summaryLine = (sessions: readonly BgpSession[]): string =>
  `${countEstablished(sessions)} of ${sessions.length} session${sessions.length === 1 ? '' : 's'} established`;

import type { AddressFamily } from '../model/address.js';
import { parseBirdGreeting } from '../bird/birdVersion.js';
import { isBirdProtocolError, isBirdTimeoutError, isBirdUnreachableError } from '../bird/errors.js';
import { showProtocolsAnswer, type ProtocolRow, type ShowProtocolsOptions } from '../bird/showProtocols.js';
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

type Answer =
  | { readonly reachable: true; readonly greeting: string; readonly rows: readonly ProtocolRow[] }
  | { readonly reachable: false; readonly error: string };

async function ask(socketPath: string, options: ShowProtocolsOptions): Promise<Answer> {
  try {
    return { reachable: true, ...(await showProtocolsAnswer(socketPath, options)) };
  } catch (error) {
    if (isBirdUnreachableError(error) || isBirdTimeoutError(error) || isBirdProtocolError(error))
      return { reachable: false, error: error.message };
    throw error;
  }
}

const familyOf = (family: AddressFamily, socketPath: string, answer: Answer, daemon?: Daemon): FamilyStatus =>
  answer.reachable
    ? {
        family,
        socketPath,
        reachable: true,
        sessions: sessionsFromRows(answer.rows, family),
        ...(daemon && { daemon }),
      }
    : { family, socketPath, reachable: false, error: answer.error, ...(daemon && { daemon }) };

/** Asks one daemon over its control socket; an unreachable, silent or garbled daemon is a FamilyStatus, not a throw. */
export async function queryFamilyStatus(
  family: AddressFamily,
  socketPath: string,
  options: ShowProtocolsOptions = {},
): Promise<FamilyStatus> {
  return familyOf(family, socketPath, await ask(socketPath, options));
}

/** A node's BGP sessions per family, and which BIRD answered. */
export interface NodeBgpStatus {
  readonly v4: FamilyStatus;
  readonly v6: FamilyStatus;
  /** The version in bird's greeting (`2.0.12`); undefined when bird did not answer. */
  readonly birdVersion: string | undefined;
  /** BIRD 2/3 answered on bird: it serves both families, and bird6 was not asked (README "BIRD 2 and BIRD 3"). */
  readonly oneDaemon: boolean;
}

/**
 * What `status` shows: bird's sessions, and bird6's — unless bird's greeting says BIRD 2 or 3, which serves both
 * families in one daemon: then its sessions are split by the family of their peer address and bird6 is not asked
 * (nor warned about). When bird cannot be asked, which BIRD it is is unknown and bird6 is asked as with BIRD 1.6.
 */
export async function queryNodeStatus(
  sockets: Readonly<Record<Daemon, string>>,
  options: ShowProtocolsOptions = {},
): Promise<NodeBgpStatus> {
  // Asked side by side (a hung bird costs one timeout, not two); bird6's answer is dropped when bird is BIRD 2/3.
  const [bird, bird6] = await Promise.all([ask(sockets.bird, options), ask(sockets.bird6, options)]);
  const version = bird.reachable ? parseBirdGreeting(bird.greeting) : undefined;
  if (bird.reachable && version?.dialect === 'bird2') {
    const sessions = sessionsFromRows(bird.rows, 4);
    const ofFamily = (family: AddressFamily): FamilyStatus => ({
      family,
      socketPath: sockets.bird,
      reachable: true,
      daemon: 'bird',
      sessions: sessions.filter((s) => (s.peerAddress?.includes(':') === true ? 6 : 4) === family),
    });
    return { v4: ofFamily(4), v6: ofFamily(6), birdVersion: version.text, oneDaemon: true };
  }
  return {
    v4: familyOf(4, sockets.bird, bird),
    v6: familyOf(6, sockets.bird6, bird6),
    birdVersion: bird.reachable ? /^BIRD (\S+) ready/.exec(bird.greeting)?.[1] : undefined,
    oneDaemon: false,
  };
}

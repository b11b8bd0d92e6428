import { parseBirdGreeting } from '../bird/birdVersion.js';
import { BirdProtocolError, BirdTimeoutError, BirdUnreachableError } from '../bird/errors.js';
import type { ProtocolRow } from '../bird/showProtocols.js';
import { showProtocolsAnswer, type ShowProtocolsOptions } from '../bird/showProtocolsCommand.js';
import type { AddressFamily } from '../model/address.js';
import type { Daemon } from '../model/daemon.js';
import { sessionsFromRows, type FamilyStatus } from './bgpStatus.js';

type Answer =
  | { readonly reachable: true; readonly greeting: string; readonly rows: readonly ProtocolRow[] }
  | { readonly reachable: false; readonly error: string };

async function ask(socketPath: string, options: ShowProtocolsOptions): Promise<Answer> {
  try {
    return { reachable: true, ...(await showProtocolsAnswer(socketPath, options)) };
  } catch (error) {
    if (
      error instanceof BirdUnreachableError ||
      error instanceof BirdTimeoutError ||
      error instanceof BirdProtocolError
    )
      return { reachable: false, error: error.message };
    throw error;
  }
}

const familyOf = (family: AddressFamily, socketPath: string, answer: Answer): FamilyStatus =>
  answer.reachable
    ? { family, socketPath, reachable: true, sessions: sessionsFromRows(answer.rows, family) }
    : { family, socketPath, reachable: false, error: answer.error };

/** Asks one daemon over its control socket; an unreachable, silent or garbled daemon is a FamilyStatus, not a throw. */
export async function queryFamilyStatus(
  family: AddressFamily,
  socketPath: string,
  options: ShowProtocolsOptions = {},
): Promise<FamilyStatus> {
  return familyOf(family, socketPath, await ask(socketPath, options));
}

/** A node's BGP sessions per family, and which BIRD answered. */
interface NodeBgpStatus {
  readonly v4: FamilyStatus;
  readonly v6: FamilyStatus;
  /** The version in bird's greeting (`2.0.12`); undefined when bird did not answer. */
  readonly birdVersion: string | undefined;
  /** BIRD 2/3 answered on bird: it serves both families, and bird6 was not asked (README "BIRD 2 and BIRD 3"). */
  readonly oneDaemon: boolean;
}

/**
 * What `status` shows: bird's sessions, and bird6's — unless bird's greeting says BIRD 2 or 3, which serves both
 * families in one daemon: then its sessions are split by the family of their peer address and bird6's answer is
 * dropped (nor warned about). When bird cannot be asked, which BIRD it is is unknown and bird6 counts as with 1.6.
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

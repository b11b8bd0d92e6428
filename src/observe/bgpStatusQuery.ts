import { BirdProtocolError, BirdTimeoutError, BirdUnreachableError } from '../bird/errors.js';
import { showProtocols, type ShowProtocolsOptions } from '../bird/showProtocolsCommand.js';
import type { AddressFamily } from '../model/address.js';
import { sessionsFromRows, type FamilyStatus } from './bgpStatus.js';

/** Asks one daemon over its control socket; an unreachable, silent or garbled daemon is a FamilyStatus, not a throw. */
export async function queryFamilyStatus(
  family: AddressFamily,
  socketPath: string,
  options: ShowProtocolsOptions = {},
): Promise<FamilyStatus> {
  try {
    const rows = await showProtocols(socketPath, options);
    return { family, socketPath, reachable: true, sessions: sessionsFromRows(rows, family) };
  } catch (error) {
    if (
      error instanceof BirdUnreachableError ||
      error instanceof BirdTimeoutError ||
      error instanceof BirdProtocolError
    ) {
      return { family, socketPath, reachable: false, error: error.message };
    }
    throw error;
  }
}

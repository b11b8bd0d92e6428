import { BirdControlClient } from '../bird/controlSocket.js';
import { BirdProtocolError, BirdTimeoutError, BirdUnreachableError } from '../bird/errors.js';
import type { BirdAnswer, BirdAnswers } from './health.js';
import type { Daemon } from '../model/daemon.js';

/** Time a readiness probe gives each control socket to greet. */
const BIRD_PROBE_TIMEOUT_MS = 1_000;

/**
 * Whether each daemon answers: connect to its control socket and wait for the greeting (`0001 BIRD … ready.`),
 * then hang up. Sends no command, so it costs BIRD nothing even with thousands of protocols. Never throws.
 */
export async function probeBird(
  sockets: Readonly<Partial<Record<Daemon, string>>>,
  timeoutMs = BIRD_PROBE_TIMEOUT_MS,
): Promise<BirdAnswers> {
  const probe = async (daemon: Daemon, socket: string): Promise<BirdAnswer> => {
    try {
      const client = await BirdControlClient.connect(socket, { timeoutMs });
      client.close();
      return { ok: true };
    } catch (error) {
      if (
        error instanceof BirdUnreachableError ||
        error instanceof BirdTimeoutError ||
        error instanceof BirdProtocolError
      ) {
        return { ok: false, error: `${daemon} does not answer: ${error.message}` };
      }
      return { ok: false, error: `${daemon} does not answer: ${String(error)}` };
    }
  };
  const daemons = Object.entries(sockets).flatMap(([daemon, socket]) =>
    socket === undefined ? [] : [[daemon as Daemon, socket] as const],
  );
  return Object.fromEntries(
    await Promise.all(daemons.map(async ([daemon, socket]) => [daemon, await probe(daemon, socket)] as const)),
  );
}

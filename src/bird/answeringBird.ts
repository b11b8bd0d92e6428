/**
 * Which BIRD answers on bird's control socket, from its greeting (`0001 BIRD 2.0.12 ready.`), and so which
 * daemons the node runs: BIRD 2/3 serve both families from `bird`, BIRD 1.6 has `bird6` beside it. For the
 * commands that have a socket but no binary to ask (`undo`, `diags`; `status` reads the greeting of its own query).
 */
import { daemonsOfDialect, parseBirdGreeting, type BirdVersion } from './birdVersion.js';
import { BirdControlClient, type BirdConnectOptions } from './controlSocket.js';
import type { Daemon } from '../model/daemon.js';

export interface AnsweringBird {
  /** undefined: bird did not answer (or not as a BIRD birdwatch speaks), so BIRD 1.6's two daemons are assumed. */
  readonly version: BirdVersion | undefined;
  readonly daemons: readonly Daemon[];
}

export async function answeringBird(socketPath: string, options: BirdConnectOptions = {}): Promise<AnsweringBird> {
  let version: BirdVersion | undefined;
  try {
    const client = await BirdControlClient.connect(socketPath, options);
    client.close();
    version = parseBirdGreeting(client.greeting);
  } catch {
    // Not answering: the command's own attempt reports why; until then, nothing says it is not BIRD 1.6.
  }
  return { version, daemons: daemonsOfDialect(version?.dialect ?? 'bird1') };
}

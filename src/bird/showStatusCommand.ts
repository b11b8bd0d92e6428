import { runBirdCommand, type RunBirdCommandOptions } from './controlSocket.js';
import { parseBirdStatus, type BirdStatus } from './showStatus.js';

/** Asks a running BIRD `show status`. Throws BirdUnreachableError / BirdTimeoutError as runBirdCommand does. */
export async function showBirdStatus(socketPath: string, options: RunBirdCommandOptions = {}): Promise<BirdStatus> {
  return parseBirdStatus(await runBirdCommand(socketPath, 'show status', options));
}

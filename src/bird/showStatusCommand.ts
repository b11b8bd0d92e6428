import { runBirdCommand, type RunBirdCommandOptions } from './controlSocket.js';
import { parseBirdStatus16, type BirdStatus } from './showStatus.js';

/** Asks a running BIRD `show status`. Throws BirdUnreachableError / BirdTimeoutError as runBirdCommand does. */
export async function showBirdStatus(socketPath: string, options: RunBirdCommandOptions = {}): Promise<BirdStatus> {
  return parseBirdStatus16(await runBirdCommand(socketPath, 'show status', options));
}

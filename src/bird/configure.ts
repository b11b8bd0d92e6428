/**
 * Asks a running BIRD to reload its configuration through the control socket (`configure`).
 *
 * Replies seen from BIRD 1.6.8, 2.0.12, 3.1.0 and 3.3.2 (the same codes; the first line is always
 * `0002-Reading configuration from <file>`; captures in fixtures/bird-outputs/). BIRD 3.3.2 answers a plain
 * `configure` with 0004 where 1.6 and 2.x say 0003; BIRD 2/3 word 9001 more precisely (`syntax error, unexpected …`):
 *   0003 Reconfigured                      applied
 *   0004 Reconfiguration in progress       applied; protocols being removed or restarted
 *   0005 Reconfiguration already in progress, queueing new config   parsed; applied next
 *   0020 Configuration OK                  answer to `configure check`
 *   8002 <file>:<line>:<col> <message>     rejected; the old configuration keeps running
 *   8002 <file>: No such file or directory rejected (cannot open)
 *   9001 syntax error                      the command itself was not understood
 */
import { canNameInConfigure } from './configPath.js';
import { runBirdCommand } from './controlSocket.js';
import { classifyConfigureReply, type ConfigureBirdResult } from './configureReply.js';

export interface ConfigureBirdOptions {
  /** Read this file instead of the one BIRD was started with (`configure "FILE"`). */
  readonly configPath?: string;
  /** Only parse the file (`configure check`); nothing is applied. */
  readonly check?: boolean;
  readonly signal?: AbortSignal;
  /** Time allowed for connecting and for the reply (each). */
  readonly timeoutMs?: number;
  /** Called once the command is written to the socket. */
  readonly onSent?: () => void;
}

/** Builds the `configure` command line. BIRD 1.6 strings have no escapes, so `"` is refused. */
export function configureCommand(options: Pick<ConfigureBirdOptions, 'configPath' | 'check'> = {}): string {
  const parts = ['configure'];
  if (options.check === true) parts.push('check');
  if (options.configPath !== undefined) {
    if (!canNameInConfigure(options.configPath)) {
      throw new TypeError(
        `BIRD cannot be given a configuration path containing '"' or a newline: ${JSON.stringify(options.configPath)}`,
      );
    }
    parts.push(`"${options.configPath}"`);
  }
  return parts.join(' ');
}

/**
 * Sends `configure` (or `configure check`) and classifies BIRD's reply.
 * Throws BirdUnreachableError when the socket cannot be reached (BirdTimeoutError on timeout).
 */
export async function configureBird(
  socketPath: string,
  options: ConfigureBirdOptions = {},
): Promise<ConfigureBirdResult> {
  return classifyConfigureReply(await runBirdCommand(socketPath, configureCommand(options), options), options.check);
}

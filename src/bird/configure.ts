/**
 * Asks a running BIRD to reload its configuration through the control socket (`configure`).
 *
 * Replies seen from BIRD 1.6.8 (the first line is always `0002-Reading configuration from <file>`):
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
import type { BirdReplyLine } from './replyDecoder.js';
import { parseBirdConfigError, type BirdConfigErrorLocation } from './validateConfig.js';

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

export type ConfigureBirdResult =
  | {
      readonly ok: true;
      readonly code: number;
      /** Text of BIRD's final reply line, e.g. `Reconfigured`. */
      readonly message: string;
      readonly lines: ReadonlyArray<BirdReplyLine>;
    }
  | {
      readonly ok: false;
      readonly code: number;
      /** Text of BIRD's final reply line, e.g. `/etc/bird.cfg:3:1 syntax error`. */
      readonly message: string;
      /** The message split into file/line/column when it has that form. */
      readonly location: BirdConfigErrorLocation | undefined;
      readonly lines: ReadonlyArray<BirdReplyLine>;
    };

/** Reply codes that mean the new configuration was accepted. */
export const CONFIGURE_ACCEPTED_CODES: ReadonlySet<number> = new Set([3, 4, 5]);
/** Reply code of a successful `configure check`. */
const CONFIGURE_CHECK_OK_CODE = 20;

/**
 * Builds the `configure` command line. BIRD 1.6 strings have no escapes, so `"` is refused.
 * @internal test/bird-control.test.ts checks the command line and its quoting.
 */
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
  const reply = await runBirdCommand(socketPath, configureCommand(options), options);
  const message = reply.lines[reply.lines.length - 1]?.text ?? '';
  const accepted =
    options.check === true ? reply.code === CONFIGURE_CHECK_OK_CODE : CONFIGURE_ACCEPTED_CODES.has(reply.code);
  if (accepted) return { ok: true, code: reply.code, message, lines: reply.lines };
  return {
    ok: false,
    code: reply.code,
    message,
    location: reply.code === 8002 ? parseBirdConfigError(message) : undefined,
    lines: reply.lines,
  };
}

import { BirdControlClient, type RunBirdCommandOptions } from './controlSocket.js';
import { BirdProtocolError } from './errors.js';
import { parseShowProtocols, type ProtocolRow } from './showProtocols.js';

export type ShowProtocolsOptions = RunBirdCommandOptions;

/** What `show protocols` says, and who said it. */
export interface ProtocolsAnswer {
  /** The control socket's greeting (`BIRD 2.0.12 ready.`): which BIRD answered (birdVersion.ts parseBirdGreeting). */
  readonly greeting: string;
  readonly rows: ProtocolRow[];
}

/** Runs `show protocols` on a running BIRD and parses the rows (reply code 1002), with its greeting. */
export async function showProtocolsAnswer(
  socketPath: string,
  options: ShowProtocolsOptions = {},
): Promise<ProtocolsAnswer> {
  const client = await BirdControlClient.connect(socketPath, options);
  try {
    const reply = await client.command('show protocols', options);
    if (reply.code !== 0) {
      const text = reply.lines.map((l) => `${String(l.code).padStart(4, '0')} ${l.text}`).join('\n');
      throw new BirdProtocolError(`unexpected reply to "show protocols" from ${socketPath}: ${text}`, { line: text });
    }
    return {
      greeting: client.greeting,
      rows: parseShowProtocols(reply.lines.filter((l) => l.code === 1002).map((l) => l.text)),
    };
  } finally {
    client.close();
  }
}

/**
 * Runs `show protocols` on a running BIRD and parses the rows (reply code 1002).
 * @internal the lab, the tests and the benchmarks read sessions with it.
 */
export async function showProtocols(socketPath: string, options: ShowProtocolsOptions = {}): Promise<ProtocolRow[]> {
  return (await showProtocolsAnswer(socketPath, options)).rows;
}

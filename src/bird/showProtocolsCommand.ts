import { runBirdCommand, type RunBirdCommandOptions } from './controlSocket.js';
import { BirdProtocolError } from './errors.js';
import { parseShowProtocols, type ProtocolRow } from './showProtocols.js';

export type ShowProtocolsOptions = RunBirdCommandOptions;

/** Runs `show protocols` on a running BIRD and parses the rows (reply code 1002). */
export async function showProtocols(socketPath: string, options: ShowProtocolsOptions = {}): Promise<ProtocolRow[]> {
  const reply = await runBirdCommand(socketPath, 'show protocols', options);
  if (reply.code !== 0) {
    const text = reply.lines.map((l) => `${String(l.code).padStart(4, '0')} ${l.text}`).join('\n');
    throw new BirdProtocolError(`unexpected reply to "show protocols" from ${socketPath}: ${text}`, { line: text });
  }
  return parseShowProtocols(reply.lines.filter((l) => l.code === 1002).map((l) => l.text));
}

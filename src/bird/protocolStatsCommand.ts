import { runBirdCommand, type RunBirdCommandOptions } from './controlSocket.js';
import { BirdProtocolError } from './errors.js';
import { parseProtocolStats, type ProtocolStats } from './protocolStats.js';

/** Asks a running BIRD `show protocols all` and parses every protocol's state and export count. */
export async function showProtocolStats(
  socketPath: string,
  options: RunBirdCommandOptions = {},
): Promise<ProtocolStats[]> {
  const reply = await runBirdCommand(socketPath, 'show protocols all', options);
  if (reply.code !== 0) {
    const text = reply.lines.map((l) => `${String(l.code).padStart(4, '0')} ${l.text}`).join('\n');
    throw new BirdProtocolError(`unexpected reply to "show protocols all" from ${socketPath}: ${text}`, { line: text });
  }
  return parseProtocolStats(reply.lines);
}

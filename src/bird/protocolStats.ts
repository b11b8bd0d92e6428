/**
 * `show protocols all`: per protocol its state and how many routes it exports — one command gives every BGP
 * session's state and export count (BIRD 1.6 prints `Routes: N imported, M exported, K preferred` under each
 * protocol, `N imported, F filtered, M exported, …` with `import keep filtered`). `show route export <p> count`
 * says the same per protocol but is one command per session and answers `8005 Protocol is down` for a down one.
 */
import { runBirdCommand, type RunBirdCommandOptions } from './controlSocket.js';
import { BirdProtocolError } from './errors.js';
import { parseShowProtocols, type ProtocolEntry } from './showProtocols.js';

export interface ProtocolStats {
  readonly protocol: ProtocolEntry;
  /** Routes the protocol exports now; undefined when BIRD printed no `Routes:` line (a down protocol). */
  readonly exported: number | undefined;
}

const ROUTES = /^\s*Routes:\s+(\d+) imported,(?:\s+(\d+) filtered,)?\s+(\d+) exported/;

/**
 * Parses the reply lines of `show protocols all` (1002 rows, 1006 details). Lines that are not rows are skipped.
 * @internal test/bird-guarded-configure.test.ts parses real replies.
 */
export function parseProtocolStats(
  lines: readonly { readonly code: number; readonly text: string }[],
): ProtocolStats[] {
  const stats: { protocol: ProtocolEntry; exported: number | undefined }[] = [];
  for (const line of lines) {
    if (line.code === 1002) {
      const [row] = parseShowProtocols([line.text]);
      if (row?.kind === 'protocol') stats.push({ protocol: row, exported: undefined });
    } else if (line.code === 1006 && stats.length > 0) {
      const m = ROUTES.exec(line.text);
      if (m) stats[stats.length - 1]!.exported = Number(m[3]);
    }
  }
  return stats;
}

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

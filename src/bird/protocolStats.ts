/**
 * `show protocols all`: per protocol its state and how many routes it exports — one command gives every BGP
 * session's state and export count. BIRD 1.6 prints `Routes: N imported, M exported, K preferred` under each
 * protocol (`N imported, F filtered, M exported, …` with `import keep filtered`); BIRD 2 and 3 print one such line
 * per channel (protocolDetails.ts). `show route export <p> count` says the same per protocol but is one command
 * per session and answers `8005 Protocol is down` for a down one. A pure parser; `protocolStatsCommand.ts` asks a
 * running BIRD.
 */
import { parseProtocolDetails, type ChannelDetails } from './protocolDetails.js';
import type { ProtocolEntry } from './showProtocols.js';

export interface ProtocolStats {
  readonly protocol: ProtocolEntry;
  /**
   * Routes the protocol exports now, summed over its channels; undefined when BIRD printed no `Routes:` line (a
   * down protocol, or every channel down).
   */
  readonly exported: number | undefined;
  /** BIRD 2/3: one per channel; BIRD 1.6: one, unnamed (the protocol's own counts). */
  readonly channels: readonly ChannelDetails[];
}

/**
 * Parses the reply lines of `show protocols all` (1002 rows, 1006 details). Lines that are not rows are skipped.
 */
export function parseProtocolStats(
  lines: readonly { readonly code: number; readonly text: string }[],
): ProtocolStats[] {
  return parseProtocolDetails(lines).map(({ protocol, channels }) => {
    const counted = channels.filter((c) => c.routes !== undefined);
    return {
      protocol,
      exported: counted.length === 0 ? undefined : counted.reduce((sum, c) => sum + c.routes!.exported, 0),
      channels,
    };
  });
}

import type { LogEvent } from '../../src/observe/logEvents.js';

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown>;

/**
 * The lines of `event` whose fields equal `fields`: what tests wait for and assert on (src/observe/logEvents.ts),
 * never the message, which may be reworded.
 */
export function linesOf<Line extends LogLine>(lines: readonly Line[], event: LogEvent, fields: LogLine = {}): Line[] {
  return lines.filter(
    (line) => line['event'] === event && Object.entries(fields).every(([name, value]) => line[name] === value),
  );
}

/** `text` as a regular expression that matches it literally (a key or a path inside a message pattern). */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

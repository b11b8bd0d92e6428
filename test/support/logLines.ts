import type { LogEvent } from '../../src/observe/logEvents.js';

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown>;

/**
 * The lines of `event` whose fields equal `fields`: what tests wait for and assert on (src/observe/logEvents.ts),
 * never the message, which may be reworded.
 */
export function linesOf(lines: readonly LogLine[], event: LogEvent, fields: LogLine = {}): LogLine[] {
  return lines.filter(
    (line) => line['event'] === event && Object.entries(fields).every(([name, value]) => line[name] === value),
  );
}

/**
 * The lines whose message matches, for lines that have no `event` yet: src/controller's and src/datastore's (their
 * events come in a second pass; each caller then moves to linesOf). Nothing else waits on prose.
 */
export function linesSaying(lines: readonly LogLine[], message: RegExp | string): LogLine[] {
  return lines.filter((line) => {
    const msg = line['msg'];
    return typeof msg === 'string' && (typeof message === 'string' ? msg === message : message.test(msg));
  });
}

/** `text` as a regular expression that matches it literally (a key or a path inside a message pattern). */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where BIRD says a configuration is wrong: `<file>:<line>:<col> <message>`, as `bird -p` prints it (with a
 * `bird: ` prefix, and in BIRD 3 its log head) and as an 8002 reply to `configure` carries it. Pure.
 */

/** Where BIRD says a configuration error is. */
export interface BirdConfigErrorLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

const LOCATED = /^(.+?):(\d+):(\d+) (.*)$/s;
const PROGRAM_PREFIX = /^bird6?: /;
/** BIRD 3's log line head: time, thread, level. */
const BIRD3_LOG_PREFIX = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \[[0-9a-fA-F]+\] <[A-Z]+> /;

/** BIRD's message without `bird: ` and (BIRD 3) the log line's time, thread and level. */
export const withoutPrefixes = (text: string): string =>
  text.trim().replace(PROGRAM_PREFIX, '').replace(BIRD3_LOG_PREFIX, '');

/**
 * Parses `<file>:<line>:<col> <message>` as BIRD prints it (also with a `bird: ` prefix, BIRD 3's log head, and
 * as the text of an 8002 reply to `configure`, which has neither in 1.6, 2 and 3). Returns undefined when the
 * text has another form. A file name containing `:<digits>:<digits> ` would be split at its first such occurrence.
 */
export function parseBirdConfigError(text: string): BirdConfigErrorLocation | undefined {
  const m = LOCATED.exec(withoutPrefixes(text));
  if (m === null) return undefined;
  const [, file, line, column, message] = m;
  if (file === undefined || line === undefined || column === undefined || message === undefined) return undefined;
  return { file, line: Number(line), column: Number(column), message: message.trim() };
}

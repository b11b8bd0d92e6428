/**
 * `show protocols`: a pure parser of its rows, and a helper that asks a running BIRD.
 *
 * BIRD 1.6 prints rows as `%-8s %-8s %-8s %-5s  %-10s  %s` (name, proto, table, state, since, info),
 * so a long name pushes the other columns right: columns are split on whitespace. `since` is
 * `HH:MM:SS`, or `YYYY-MM-DD` once older than 20 hours, or `YYYY-MM-DD HH:MM:SS` with
 * `timeformat protocol iso long` (the one form that contains a space). For BGP, `info` is the BGP
 * state padded to 14 characters and then the last error; a `down` protocol shows only the error,
 * possibly nothing. Rows carry trailing spaces.
 *
 * BIRD 2 and 3 (captured: fixtures/bird-outputs/bird-<version>/): the same columns, wider (`%-10s`), a
 * capitalised heading (`Name Proto Table State Since Info`), `---` as the table of protocols without one
 * (BGP, Device: their tables are per channel), and milliseconds in `since` (`23:20:19.662`, a date after
 * 20 hours as in 1.6).
 */
import { BirdControlClient, type RunBirdCommandOptions } from './controlSocket.js';
import { BirdProtocolError } from './errors.js';

export const PROTOCOL_STATES = ['up', 'down', 'start', 'stop', 'feed', 'wait', 'flush'] as const;
export type ProtocolState = (typeof PROTOCOL_STATES)[number];

export const BGP_STATES = [
  'Idle',
  'Connect',
  'Active',
  'OpenSent',
  'OpenConfirm',
  'Established',
  'Close',
  'Passive',
] as const;
export type BgpState = (typeof BGP_STATES)[number];

/** A parsed row. `bgpState`/`lastError` are set only for rows whose proto is `BGP`. */
export interface ProtocolEntry {
  readonly kind: 'protocol';
  readonly name: string;
  readonly proto: string;
  readonly table: string;
  readonly state: ProtocolState;
  readonly since: string;
  /** The info column, trimmed (may be empty). */
  readonly info: string;
  /** The BGP state at the start of info; absent when info does not start with one (a down session). */
  readonly bgpState?: BgpState;
  /** The error text after the BGP state (the whole info for a down session); absent when empty. */
  readonly lastError?: string;
  /** The row as received, after removing prompts/escapes/reply codes. */
  readonly raw: string;
}

/** A line that is not a protocol row (garbled, truncated, unknown state, error text …). */
export interface UnparsedProtocolRow {
  readonly kind: 'unparsed';
  readonly raw: string;
  readonly reason: string;
}

export type ProtocolRow = ProtocolEntry | UnparsedProtocolRow;

export type ShowProtocolsOptions = RunBirdCommandOptions;

const ANSI_ESCAPE = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]/g;
const PROMPT = /^(?:bird6?> ?)+/;
/** Reply-code prefixes `show protocols` uses, for input taken from the raw socket or `birdc -v`. */
const SHOW_PROTOCOLS_CODE = /^(?:0000|0001|1002|2002)(?:[ -]|$)/;
/** Interactive birdc echoes the command after its prompt (`show` is a keyword, never a protocol name). */
const COMMAND_ECHO = /^sh(?:ow?)?(?:\s|$)/;
const GREETING = /^BIRD \S+ ready\.$/;
/** `name proto …` (1.6) or `Name Proto …` (2, 3). */
const HEADER = /^name\s+proto\s+table\s+state\s+since\s+info$/i;
const ROW = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?|\S+)(?:\s+(.*))?$/s;
const BGP_INFO = new RegExp(`^(${BGP_STATES.join('|')})(?:\\s+(.*))?$`, 's');
const STATE_SET: ReadonlySet<string> = new Set(PROTOCOL_STATES);

function isProtocolState(s: string): s is ProtocolState {
  return STATE_SET.has(s);
}

/**
 * Removes what birdc or the socket may add around a row: escapes, prompts, reply codes, spaces.
 * Returns '' for lines that carry nothing (blank, prompt only, echoed command).
 */
function cleanLine(line: string): string {
  const text = line.replace(ANSI_ESCAPE, '').replace(/\r/g, '').trim();
  const withoutPrompt = text.replace(PROMPT, '').trim();
  if (withoutPrompt !== text && COMMAND_ECHO.test(withoutPrompt)) return '';
  return withoutPrompt.replace(SHOW_PROTOCOLS_CODE, '').trim();
}

/** Parses one protocol row (already cleaned). */
function parseRow(raw: string): ProtocolRow {
  const m = ROW.exec(raw);
  if (m === null) return { kind: 'unparsed', raw, reason: 'fewer than 5 columns' };
  const [, name = '', proto = '', table = '', state = '', since = '', rest = ''] = m;
  if (!isProtocolState(state)) return { kind: 'unparsed', raw, reason: `unknown state ${JSON.stringify(state)}` };
  const info = rest.trim();
  const entry: ProtocolEntry = { kind: 'protocol', name, proto, table, state, since, info, raw };
  if (proto !== 'BGP') return entry;
  const bgp = BGP_INFO.exec(info);
  if (bgp === null) return info.length > 0 ? { ...entry, lastError: info } : entry;
  const bgpState = bgp[1] as BgpState;
  const lastError = bgp[2]?.trim() ?? '';
  return lastError.length > 0 ? { ...entry, bgpState, lastError } : { ...entry, bgpState };
}

/**
 * Parses `show protocols` output: lines as birdc prints them (with or without the greeting,
 * header, prompts and escape sequences) or with their reply codes (`1002-…`, ` …`, `0000 `).
 * Never throws: lines that are not rows come back as `{kind: 'unparsed'}`.
 */
export function parseShowProtocols(lines: readonly string[]): ProtocolRow[] {
  const rows: ProtocolRow[] = [];
  for (const line of lines) {
    const cleaned = cleanLine(line);
    if (cleaned.length === 0 || GREETING.test(cleaned) || HEADER.test(cleaned)) continue;
    rows.push(parseRow(cleaned));
  }
  return rows;
}

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

/** Runs `show protocols` on a running BIRD and parses the rows (reply code 1002). */
export async function showProtocols(socketPath: string, options: ShowProtocolsOptions = {}): Promise<ProtocolRow[]> {
  return (await showProtocolsAnswer(socketPath, options)).rows;
}

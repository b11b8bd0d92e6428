/**
 * `show status`: which BIRD runs, since when, and when it last took a configuration — how birdwatch notices a
 * BIRD restarted (by runsv, the OOM killer, an operator) or reconfigured behind its back (README "Reliability").
 * A pure parser of the reply; `showStatusCommand.ts` asks a running BIRD.
 *
 * BIRD 1.6.8's reply (measured on the real daemon; times are BIRD's `timeformat base`, whole seconds by default):
 *   0001 BIRD 1.6.8 ready.
 *   1000-BIRD 1.6.8
 *   1011-Router ID is 10.0.0.1
 *        Current server time is 2026-12-06 23:58:31
 *        Last reboot on 2026-12-06 23:58:30
 *        Last reconfiguration on 2026-12-06 23:58:31
 *   0013 Daemon is up and running         (or `Reconfiguration in progress`, `Shutdown in progress`)
 * `Last reboot` is the daemon's start; `Last reconfiguration` moves with every `configure` (and an undo, and the
 * expiry of a `configure timeout`). BIRD keeps both on its monotonic clock and prints them through the wall clock,
 * so both move together by a second now and then (measured: the same BIRD printed its start as 00:02:42, later as
 * 00:02:41) and with any step of the wall clock; the time between them does not.
 *
 * BIRD 2.0.12, 3.1.0 and 3.3.2 (fixtures/bird-outputs/bird-<version>/socket-misc.raw.txt) add `Hostname is …` and
 * print every time to the millisecond (`2026-12-06 23:20:30.407`); the codes and the rest are 1.6's:
 *   1000-BIRD 3.3.2
 *   1011-Router ID is 127.0.0.1
 *        Hostname is vm
 *        Current server time is 2026-12-06 23:20:31.509
 *        Last reboot on 2026-12-06 23:20:30.407
 *        Last reconfiguration on 2026-12-06 23:20:31.506
 *   0013 Daemon is up and running
 * `parseBirdStatus` picks the parser by the version line of the reply itself.
 */
import { parseBirdVersionOutput } from './birdVersion.js';
import { BirdProtocolError } from './errors.js';
import type { BirdReply } from './replyDecoder.js';

const STATUS_CODE = 13;

export interface BirdStatus {
  /** `1.6.8`. */
  readonly version: string;
  readonly routerId: string | undefined;
  /** `Hostname is …` (BIRD 2 and 3). */
  readonly hostname?: string;
  /** `Last reboot on …`: when this BIRD started, as BIRD prints it. */
  readonly startedAt: string;
  /** `Last reconfiguration on …`: when it last took a configuration, as BIRD prints it. */
  readonly reconfiguredAt: string;
  /** The final line: `Daemon is up and running`, `Reconfiguration in progress`, `Shutdown in progress`. */
  readonly state: string;
}

/** `2026-12-06 23:58:30` (or with a fraction, `.123`) → ms, read as UTC: only differences are used. */
export function birdTimeMs(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

const field = (lines: readonly string[], pattern: RegExp): string | undefined =>
  lines.map((line) => pattern.exec(line.trim())?.[1]).find((value) => value !== undefined);

const unexpected = (reply: BirdReply): BirdProtocolError => {
  const text = reply.lines.map((l) => `${String(l.code).padStart(4, '0')} ${l.text}`).join('\n');
  return new BirdProtocolError(`unexpected reply to "show status": ${text}`, { line: text });
};

/** BIRD 1.6's `show status` reply (continuation lines carry the 1011 code). Throws when a field is missing. */
/** @internal the unit tests parse BIRD 1.6's captures with it directly. */
export function parseBirdStatus16(reply: BirdReply): BirdStatus {
  const texts = reply.lines.map((l) => l.text);
  const version = field(texts, /^BIRD (\S+)$/);
  const startedAt = field(texts, /^Last reboot on (.+)$/);
  const reconfiguredAt = field(texts, /^Last reconfiguration on (.+)$/);
  if (reply.code !== STATUS_CODE || version === undefined || startedAt === undefined || reconfiguredAt === undefined)
    throw unexpected(reply);
  return {
    version,
    routerId: field(texts, /^Router ID is (\S+)$/),
    startedAt,
    reconfiguredAt,
    state: reply.lines[reply.lines.length - 1]!.text,
  };
}

/**
 * BIRD 2's and 3's `show status` reply: 1.6's fields, a hostname, times to the millisecond (the default `timeformat
 * base` of 2.x/3.x; a configured coarser format still parses, through `birdTimeMs`). Throws when a field is missing.
 */
function parseBirdStatus2(reply: BirdReply): BirdStatus {
  const texts = reply.lines.map((l) => l.text);
  const version = field(texts, /^BIRD (\S+)$/);
  const startedAt = field(texts, /^Last reboot on (.+)$/);
  const reconfiguredAt = field(texts, /^Last reconfiguration on (.+)$/);
  if (
    reply.code !== STATUS_CODE ||
    version === undefined ||
    startedAt === undefined ||
    reconfiguredAt === undefined ||
    birdTimeMs(startedAt) === undefined ||
    birdTimeMs(reconfiguredAt) === undefined
  )
    throw unexpected(reply);
  const hostname = field(texts, /^Hostname is (\S+)$/);
  return {
    version,
    routerId: field(texts, /^Router ID is (\S+)$/),
    ...(hostname === undefined ? {} : { hostname }),
    startedAt,
    reconfiguredAt,
    state: reply.lines[reply.lines.length - 1]!.text,
  };
}

/** Any BIRD's `show status`: the parser of the version the reply names (`1000-BIRD 2.0.12`), 1.6's by default. */
export function parseBirdStatus(reply: BirdReply): BirdStatus {
  const version = field(
    reply.lines.map((l) => l.text),
    /^BIRD (\S+)$/,
  );
  const parsed = version === undefined ? undefined : parseBirdVersionOutput(`BIRD version ${version}`);
  return parsed?.ok === true && parsed.value.dialect === 'bird2' ? parseBirdStatus2(reply) : parseBirdStatus16(reply);
}

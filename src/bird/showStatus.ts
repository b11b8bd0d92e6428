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
 * 00:02:41) and with any step of the wall clock; the time between them does not. Another BIRD's format goes beside
 * `parseBirdStatus16` as its own parser.
 */
import { BirdProtocolError } from './errors.js';
import type { BirdReply } from './replyDecoder.js';

const STATUS_CODE = 13;

export interface BirdStatus {
  /** `1.6.8`. */
  readonly version: string;
  readonly routerId: string | undefined;
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

/** BIRD 1.6's `show status` reply (continuation lines carry the 1011 code). Throws when a field is missing. */
export function parseBirdStatus16(reply: BirdReply): BirdStatus {
  const texts = reply.lines.map((l) => l.text);
  const version = field(texts, /^BIRD (\S+)$/);
  const startedAt = field(texts, /^Last reboot on (.+)$/);
  const reconfiguredAt = field(texts, /^Last reconfiguration on (.+)$/);
  if (reply.code !== STATUS_CODE || version === undefined || startedAt === undefined || reconfiguredAt === undefined) {
    const text = reply.lines.map((l) => `${String(l.code).padStart(4, '0')} ${l.text}`).join('\n');
    throw new BirdProtocolError(`unexpected reply to "show status": ${text}`, { line: text });
  }
  return {
    version,
    routerId: field(texts, /^Router ID is (\S+)$/),
    startedAt,
    reconfiguredAt,
    state: reply.lines[reply.lines.length - 1]!.text,
  };
}

/**
 * What BIRD's replies to `configure timeout`, `confirm`, `undo` and `status` mean (the codes: configureGuarded.ts,
 * which sends them). Pure.
 */
import { CONFIGURE_ACCEPTED_CODES } from './configureReply.js';
import { parseBirdConfigError, type BirdConfigErrorLocation } from './configError.js';
import type { BirdReply, BirdReplyLine } from './replyDecoder.js';

const UNDO_SCHEDULED_CODE = 22;
const CONFIRMED_CODE = 18;
const NOTHING_TO_DO_CODE = 19;

export type ConfigureTimeoutResult =
  | { readonly ok: true; readonly code: number; readonly message: string; readonly undoInSeconds: number | undefined }
  | {
      readonly ok: false;
      readonly code: number;
      readonly message: string;
      readonly location: BirdConfigErrorLocation | undefined;
    };

export type ConfirmResult = { readonly outcome: 'confirmed' | 'nothing-to-do' | 'refused'; readonly message: string };
export type UndoResult = { readonly outcome: 'reverted' | 'nothing-to-do' | 'refused'; readonly message: string };

const final = (lines: readonly BirdReplyLine[]): string => lines[lines.length - 1]?.text ?? '';
const coded = (code: number, text: string): string => `${String(code).padStart(4, '0')} ${text}`;

/** What a reply to `configure timeout N` means. Pure. */
export function classifyConfigureTimeoutReply(reply: BirdReply): ConfigureTimeoutResult {
  const message = final(reply.lines);
  if (CONFIGURE_ACCEPTED_CODES.has(reply.code)) {
    const scheduled = reply.lines.find((l) => l.code === UNDO_SCHEDULED_CODE);
    const n = scheduled && /(\d+)\s*s/.exec(scheduled.text);
    return { ok: true, code: reply.code, message, undoInSeconds: n ? Number(n[1]) : undefined };
  }
  return {
    ok: false,
    code: reply.code,
    message: coded(reply.code, message),
    location: reply.code === 8002 ? parseBirdConfigError(message) : undefined,
  };
}

/** What a reply to `configure confirm` means. Pure. */
export function classifyConfirmReply(reply: BirdReply): ConfirmResult {
  const message = coded(reply.code, final(reply.lines));
  if (reply.code === CONFIRMED_CODE) return { outcome: 'confirmed', message };
  if (reply.code === NOTHING_TO_DO_CODE) return { outcome: 'nothing-to-do', message };
  return { outcome: 'refused', message };
}

/** What a reply to `configure undo` means. Pure. */
export function classifyUndoReply(reply: BirdReply): UndoResult {
  const message = coded(reply.code, final(reply.lines));
  if (CONFIGURE_ACCEPTED_CODES.has(reply.code)) return { outcome: 'reverted', message };
  if (reply.code === NOTHING_TO_DO_CODE) return { outcome: 'nothing-to-do', message };
  return { outcome: 'refused', message };
}

/** `configure status` (BIRD 2.0.5+; birdVersion.ts `configureStatus`): where reconfiguration is, and the undo timer. */
interface ConfigureStatus {
  readonly state: 'done' | 'in-progress' | 'queued' | 'shutting-down' | 'unknown';
  /** Seconds until BIRD reverts an unconfirmed `configure timeout`; undefined when nothing is pending. */
  readonly undoInSeconds: number | undefined;
}

const STATUS_STATES: ReadonlyMap<number, ConfigureStatus['state']> = new Map([
  [3, 'done'],
  [4, 'in-progress'],
  [5, 'queued'],
  [6, 'shutting-down'],
]);

/**
 * Parses the reply to `configure status`: `0003-Daemon is up and running`, `0022-Configuration unconfirmed, undo
 * in 29.999 s`, `0000`. Pure.
 * @internal the dialect-outputs unit test parses every BIRD's reply; nothing asks `configure status` yet.
 */
export function parseConfigureStatus(reply: BirdReply): ConfigureStatus {
  const state = reply.lines.map((l) => STATUS_STATES.get(l.code)).find((s) => s !== undefined) ?? 'unknown';
  const undo = reply.lines.find((l) => l.code === UNDO_SCHEDULED_CODE);
  const seconds = undo && /([\d.]+)\s*s\b/.exec(undo.text);
  return { state, undoInSeconds: seconds ? Number(seconds[1]) : undefined };
}

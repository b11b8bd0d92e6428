/** What BIRD's reply to `configure` means (the same codes in BIRD 1.6, 2 and 3; configure.ts sends it). Pure. */
import type { BirdReply, BirdReplyLine } from './replyDecoder.js';
import { parseBirdConfigError, type BirdConfigErrorLocation } from './configError.js';

export type ConfigureBirdResult =
  | {
      readonly ok: true;
      readonly code: number;
      /** Text of BIRD's final reply line, e.g. `Reconfigured`. */
      readonly message: string;
      readonly lines: ReadonlyArray<BirdReplyLine>;
    }
  | {
      readonly ok: false;
      readonly code: number;
      /** Text of BIRD's final reply line, e.g. `/etc/bird.cfg:3:1 syntax error`. */
      readonly message: string;
      /** The message split into file/line/column when it has that form. */
      readonly location: BirdConfigErrorLocation | undefined;
      readonly lines: ReadonlyArray<BirdReplyLine>;
    };

/** Reply codes that mean the new configuration was accepted. */
export const CONFIGURE_ACCEPTED_CODES: ReadonlySet<number> = new Set([3, 4, 5]);
/** Reply code of a successful `configure check`. */
const CONFIGURE_CHECK_OK_CODE = 20;

/** What a reply to `configure` (or `configure check`) means. Pure. */
export function classifyConfigureReply(reply: BirdReply, check?: boolean): ConfigureBirdResult {
  const message = reply.lines[reply.lines.length - 1]?.text ?? '';
  const accepted = check === true ? reply.code === CONFIGURE_CHECK_OK_CODE : CONFIGURE_ACCEPTED_CODES.has(reply.code);
  if (accepted) return { ok: true, code: reply.code, message, lines: reply.lines };
  return {
    ok: false,
    code: reply.code,
    message,
    location: reply.code === 8002 ? parseBirdConfigError(message) : undefined,
    lines: reply.lines,
  };
}

/**
 * BIRD's control-socket replies, decoded from text (pure: no socket; `controlSocket.ts` is the client).
 *
 * Wire format (nest/cli.c in BIRD 1.6, checked against a running bird 1.6.8):
 * - on connect BIRD sends the greeting `0001 BIRD 1.6.8 ready.`;
 * - a command is one line of text ending in "\n";
 * - each reply line is `DDDD-text` (more lines follow) or `DDDD text` (last line of the reply);
 * - a line starting with a single space continues the previous line's code (` text`);
 * - a line starting with `+` is an asynchronous message (log echo, undo notification), not part
 *   of any reply;
 * - table output (e.g. `show protocols`) ends with the final line `0000 ` (code 0, empty text).
 */
import { BirdProtocolError } from './errors.js';

/** One line of a reply; continuation lines carry the code of the line they continue. */
export interface BirdReplyLine {
  readonly code: number;
  readonly text: string;
}

/** A complete reply: `code` is the code of the final line; `lines` includes the final line. */
export interface BirdReply {
  readonly code: number;
  readonly lines: ReadonlyArray<BirdReplyLine>;
}

/** One decoded line of the wire format. */
type BirdWireLine =
  | { readonly kind: 'reply'; readonly code: number; readonly final: boolean; readonly text: string }
  | { readonly kind: 'continuation'; readonly text: string }
  | { readonly kind: 'async'; readonly text: string };

/** BIRD lines are at most 512 bytes (CLI_LINE_SIZE); anything far beyond is not BIRD. */
const MAX_LINE_LENGTH = 1 << 20;
/**
 * A whole reply is bounded too: `show route` at 10,000 peers is a few MB; a peer that streams without end is
 * not BIRD, and must not grow the heap until the process dies.
 */
const MAX_REPLY_CHARS = 64 << 20;
const REPLY_LINE = /^(\d{4})([ -])(.*)$/s;

/**
 * Decodes one wire line (without its "\n"). Throws BirdProtocolError if it fits no form.
 * @internal the wire-format tests decode lines directly.
 */
export function parseBirdWireLine(line: string): BirdWireLine {
  const m = REPLY_LINE.exec(line);
  if (m !== null) {
    return { kind: 'reply', code: Number(m[1]), final: m[2] === ' ', text: m[3] ?? '' };
  }
  if (line.startsWith(' ')) return { kind: 'continuation', text: line.slice(1) };
  if (line.startsWith('+')) return { kind: 'async', text: line.slice(1) };
  throw new BirdProtocolError(`unexpected line from BIRD control socket: ${JSON.stringify(line)}`, { line });
}

/**
 * Incremental decoder: feed it text as it arrives, get back the replies completed by it.
 * Throws BirdProtocolError on a line that breaks the framing (after which it is unusable).
 */
export class BirdReplyDecoder {
  readonly #onAsync: ((text: string) => void) | undefined;
  #buffer = '';
  #lines: BirdReplyLine[] = [];
  #replyChars = 0;
  #lastCode: number | undefined;

  constructor(onAsync?: (text: string) => void) {
    this.#onAsync = onAsync;
  }

  /** True when a partial line or a partial reply is buffered. */
  get hasPartial(): boolean {
    return this.#buffer.length > 0 || this.#lines.length > 0;
  }

  push(chunk: string): BirdReply[] {
    this.#buffer += chunk;
    const replies: BirdReply[] = [];
    let start = 0;
    for (;;) {
      const nl = this.#buffer.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.#buffer.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const reply = this.#line(line);
      if (reply !== undefined) replies.push(reply);
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#buffer.length > MAX_LINE_LENGTH) {
      throw new BirdProtocolError(`line from BIRD control socket exceeds ${MAX_LINE_LENGTH} characters`);
    }
    return replies;
  }

  #line(line: string): BirdReply | undefined {
    const wire = parseBirdWireLine(line);
    this.#replyChars += line.length;
    if (this.#replyChars > MAX_REPLY_CHARS) {
      throw new BirdProtocolError(`reply from BIRD control socket exceeds ${MAX_REPLY_CHARS} characters`);
    }
    switch (wire.kind) {
      case 'async':
        this.#onAsync?.(wire.text);
        return undefined;
      case 'continuation':
        if (this.#lastCode === undefined) {
          throw new BirdProtocolError('continuation line from BIRD without a preceding reply line', { line });
        }
        this.#lines.push({ code: this.#lastCode, text: wire.text });
        return undefined;
      case 'reply': {
        this.#lines.push({ code: wire.code, text: wire.text });
        if (!wire.final) {
          this.#lastCode = wire.code;
          return undefined;
        }
        const reply: BirdReply = { code: wire.code, lines: this.#lines };
        this.#lines = [];
        this.#replyChars = 0;
        this.#lastCode = undefined;
        return reply;
      }
    }
  }
}

/**
 * Decodes a complete capture of the wire (e.g. a fixture) into replies.
 * Throws BirdProtocolError if it ends in the middle of a reply.
 * @internal the wire-format tests decode captured replies.
 */
export function decodeBirdReplies(text: string): BirdReply[] {
  const decoder = new BirdReplyDecoder();
  const replies = decoder.push(text);
  if (decoder.hasPartial) throw new BirdProtocolError('BIRD output ends in the middle of a reply');
  return replies;
}

/**
 * Client for BIRD's control socket (the protocol `birdc` speaks), over a unix socket; the wire format and its
 * decoder are `replyDecoder.ts` (pure, so the unit tier tests it without a socket).
 */
import net from 'node:net';
import { BirdProtocolError, BirdTimeoutError, BirdUnreachableError } from './errors.js';
import { BirdReplyDecoder, type BirdReply } from './replyDecoder.js';

export interface BirdConnectOptions {
  readonly signal?: AbortSignal;
  /** Time allowed for connecting and receiving the greeting. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Default time allowed for each command's reply. Default 30000 ms; 0 disables. */
  readonly commandTimeoutMs?: number;
  /** Receives asynchronous (`+`) messages, which are not part of any reply. */
  readonly onAsyncMessage?: (text: string) => void;
}

export interface BirdCommandOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's commandTimeoutMs for this command; 0 disables. */
  readonly timeoutMs?: number;
  /** Called once the command is handed to the socket (BIRD works on it while the caller does something else). */
  readonly onSent?: () => void;
}

export type RunBirdCommandOptions = BirdConnectOptions & BirdCommandOptions;

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
interface Waiter {
  resolve(reply: BirdReply): void;
  reject(error: unknown): void;
}

/**
 * One connection to BIRD's control socket. Commands are sent one at a time (calls made while a
 * command is running wait their turn). A timed-out or aborted command closes the connection,
 * because its reply would otherwise be read as the next command's.
 */
export class BirdControlClient {
  readonly socketPath: string;
  readonly #socket: net.Socket;
  readonly #decoder: BirdReplyDecoder;
  readonly #commandTimeoutMs: number;
  #greeting = '';
  #connected = false;
  #waiter: Waiter | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closedError: Error | undefined;

  private constructor(socketPath: string, options: BirdConnectOptions) {
    this.socketPath = socketPath;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#decoder = new BirdReplyDecoder(options.onAsyncMessage);
    this.#socket = net.createConnection({ path: socketPath });
    this.#socket.setEncoding('utf8');
    this.#socket.on('connect', () => {
      this.#connected = true;
    });
    this.#socket.on('data', (chunk: string) => this.#onData(chunk));
    this.#socket.on('error', (err: Error) => {
      this.#fail(
        this.#connected
          ? new BirdUnreachableError(
              socketPath,
              `connection to BIRD control socket ${socketPath} failed: ${err.message}`,
              { cause: err },
            )
          : new BirdUnreachableError(
              socketPath,
              `cannot connect to BIRD control socket ${socketPath}: ${err.message}`,
              { cause: err },
            ),
      );
    });
    this.#socket.on('close', () => {
      this.#fail(new BirdUnreachableError(socketPath, `BIRD closed the control socket connection ${socketPath}`));
    });
  }

  /** Connects and waits for BIRD's greeting (`0001 BIRD <version> ready.`). */
  static async connect(socketPath: string, options: BirdConnectOptions = {}): Promise<BirdControlClient> {
    options.signal?.throwIfAborted();
    const client = new BirdControlClient(socketPath, options);
    try {
      const greeting = await client.#awaitReply(
        options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        options.signal,
        'greeting',
      );
      const line = greeting.lines[greeting.lines.length - 1];
      if (greeting.code !== 1 || line === undefined) {
        throw new BirdProtocolError(
          `unexpected greeting from BIRD control socket ${socketPath}: code ${greeting.code}`,
          {
            line: greeting.lines.map((l) => l.text).join('\n'),
          },
        );
      }
      client.#greeting = line.text;
      return client;
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** Text of the greeting, e.g. `BIRD 1.6.8 ready.` */
  get greeting(): string {
    return this.#greeting;
  }

  /** BIRD's version from the greeting (`1.6.8`), or undefined if it has another form. */
  get version(): string | undefined {
    return /^BIRD (\S+) ready\.$/.exec(this.#greeting)?.[1];
  }

  get closed(): boolean {
    return this.#closedError !== undefined;
  }

  /**
   * Sends one command (without the newline) and resolves with BIRD's complete reply, whatever
   * its code (8xxx/9xxx errors are replies, not exceptions). Rejects with BirdUnreachableError if
   * the connection is or becomes unusable, BirdTimeoutError on timeout, the signal's reason on abort.
   */
  command(cmd: string, options: BirdCommandOptions = {}): Promise<BirdReply> {
    if (/[\r\n]/.test(cmd)) {
      return Promise.reject(new TypeError(`BIRD command must be a single line: ${JSON.stringify(cmd)}`));
    }
    const run = async (): Promise<BirdReply> => {
      options.signal?.throwIfAborted();
      this.#throwIfClosed();
      const reply = this.#awaitReply(options.timeoutMs ?? this.#commandTimeoutMs, options.signal, JSON.stringify(cmd));
      this.#socket.write(`${cmd}\n`);
      options.onSent?.();
      return reply;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    const signal = options.signal;
    if (signal === undefined) return result;
    // Aborting while queued behind another command rejects now; `run` then sends nothing.
    return new Promise<BirdReply>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Closes the connection; a command still running rejects with BirdUnreachableError. */
  close(): void {
    this.#fail(
      new BirdUnreachableError(
        this.socketPath,
        `connection to BIRD control socket ${this.socketPath} was closed by the client`,
      ),
    );
  }

  #throwIfClosed(): void {
    const reason = this.#closedError;
    if (reason === undefined) return;
    // The connection's own failures describe its state; a timeout or abort only closed it.
    if (reason instanceof BirdUnreachableError || reason instanceof BirdProtocolError) throw reason;
    throw new BirdUnreachableError(
      this.socketPath,
      `connection to BIRD control socket ${this.socketPath} is closed: ${reason.message}`,
      {
        cause: reason,
      },
    );
  }

  #onData(chunk: string): void {
    let replies: BirdReply[];
    try {
      replies = this.#decoder.push(chunk);
    } catch (e) {
      this.#fail(e instanceof Error ? e : new BirdProtocolError(String(e)));
      return;
    }
    for (const reply of replies) {
      const waiter = this.#waiter;
      if (waiter === undefined) {
        this.#fail(
          new BirdProtocolError(`unsolicited reply from BIRD control socket ${this.socketPath} (code ${reply.code})`),
        );
        return;
      }
      this.#waiter = undefined;
      waiter.resolve(reply);
    }
  }

  /**
   * Marks the connection unusable (the first reason is kept), destroys it, and rejects the reply
   * being waited for with this error.
   */
  #fail(error: Error): void {
    this.#closedError ??= error;
    this.#socket.destroy();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
  }

  #awaitReply(timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<BirdReply> {
    return new Promise<BirdReply>((resolve, reject) => {
      try {
        this.#throwIfClosed();
      } catch (e) {
        reject(e);
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (reason: unknown, closeWith: Error): void => {
        cleanup();
        this.#waiter = undefined;
        this.#fail(closeWith);
        reject(reason);
      };
      const onAbort = (): void => {
        giveUp(
          signal?.reason,
          new BirdUnreachableError(
            this.socketPath,
            `connection to BIRD control socket ${this.socketPath} was closed: ${what} aborted`,
          ),
        );
      };
      this.#waiter = {
        resolve: (reply) => {
          cleanup();
          resolve(reply);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          const err = new BirdTimeoutError(
            this.socketPath,
            timeoutMs,
            `BIRD control socket ${this.socketPath}: no complete reply to ${what} within ${timeoutMs} ms`,
          );
          giveUp(err, err);
        }, timeoutMs);
      }
      if (signal !== undefined) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}

/** Connects, runs one command, closes. */
export async function runBirdCommand(
  socketPath: string,
  cmd: string,
  options: RunBirdCommandOptions = {},
): Promise<BirdReply> {
  const client = await BirdControlClient.connect(socketPath, options);
  try {
    return await client.command(cmd, options);
  } finally {
    client.close();
  }
}

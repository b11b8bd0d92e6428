/**
 * The bare floor of scripts/bench: what a change costs with nothing but the parts themselves, each driven with the
 * least overhead this process can give it — a plain etcd3 watch for the event, a plain `child_process.spawn` of
 * `bird -p` (no library, output ignored), `configure` written on a raw unix socket kept open, and the new protocol
 * polled by name on another raw socket. No staging, no fsync, no rendering: anything birdwatch adds shows above it.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Etcd3 } from 'etcd3';

/**
 * One connection to BIRD's control socket, kept open: one command at a time, the reply read up to its final line
 * (`DDDD text`, a space after the code). No decoder library: the floor must not pay for birdwatch's.
 */
export class RawBirdSocket {
  readonly #socket: net.Socket;
  #buffer = '';
  #waiter: ((lines: string[]) => void) | undefined;
  #lines: string[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#data(chunk));
  }

  static async open(path: string): Promise<RawBirdSocket> {
    const socket = net.createConnection(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawBirdSocket(socket);
    await raw.#reply(); // the greeting, 0001 BIRD 1.6.8 ready.
    return raw;
  }

  #data(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.startsWith('+')) continue; // asynchronous message, not part of a reply
      this.#lines.push(line);
      if (/^\d{4} /.test(line)) {
        const lines = this.#lines;
        this.#lines = [];
        const wake = this.#waiter;
        this.#waiter = undefined;
        wake?.(lines);
      }
    }
  }

  #reply(): Promise<string[]> {
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** Sends one command, resolves with the reply's lines (the final one last); rejects after `timeoutMs`. */
  command(text: string, timeoutMs = 60_000): Promise<string[]> {
    const reply = this.#reply();
    this.#socket.write(`${text}\n`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`BIRD did not answer ${JSON.stringify(text)} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([reply, late]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** `bird -p -c FILE` by a plain spawn; resolves with its exit code. */
function spawnBirdParse(binary: string, configPath: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-p', '-c', configPath], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

/**
 * One command on a fresh connection (what birdc does per call): a kept-open connection polled back to back was
 * seen to get no answer at all around a reconfiguration on this machine, so every poll connects anew; a poll
 * that still gets no answer within 2 s is retried on another connection (and shows as an outlier).
 */
async function pollOnce(path: string, text: string): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const socket = await RawBirdSocket.open(path);
    try {
      return await socket.command(text, 2_000);
    } catch (error) {
      if (attempt >= 5) throw error;
    } finally {
      socket.close();
    }
  }
}

/** Polls `show protocols "NAME"` back to back until BIRD lists it; resolves with performance.now() when it does. */
export async function pollVisible(path: string, protocol: string, timeoutMs = 60_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const lines = await pollOnce(path, `show protocols "${protocol}"`);
    const at = performance.now();
    if (lines.some((l) => l.startsWith('1002') && l.slice(5).startsWith(`${protocol} `))) return at;
    if (at > deadline)
      throw new Error(`${protocol} did not appear within ${timeoutMs} ms (last reply: ${lines.at(-1)})`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Counts the protocols matching a pattern (`show protocols "Mesh_10_200_*"`). */
export async function countProtocols(path: string, pattern: string): Promise<number> {
  const lines = await pollOnce(path, `show protocols "${pattern}"`);
  // Rows: the first as `1002-name …`, the rest as continuation lines (a leading space).
  return lines.filter((l) => l.startsWith('1002') || l.startsWith(' ')).length;
}

/** Resolves each put under `prefix` to the time its watch event arrived (performance.now()). */
export async function floorWatch(
  client: Etcd3,
  prefix: string,
): Promise<{ next(key: string): Promise<number>; cancel(): Promise<void> }> {
  const pending = new Map<string, (at: number) => void>();
  const watcher = await client.watch().prefix(prefix).create();
  watcher.on('put', (kv) => {
    const at = performance.now();
    const key = kv.key.toString('utf8');
    pending.get(key)?.(at);
    pending.delete(key);
  });
  return {
    next: (key) =>
      new Promise<number>((resolve, reject) => {
        // Bounded: a lost event must fail the round loudly, never hang the bench.
        const timer = setTimeout(() => {
          pending.delete(key);
          reject(new Error(`floor: no watch event for ${key} within 10 s`));
        }, 10_000);
        pending.set(key, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      }),
    cancel: () => watcher.cancel(),
  };
}

export interface FloorRound {
  /** put sent → watch event. */
  readonly etcdMs: number;
  readonly birdParseMs: number;
  /** `configure` written → BIRD's final reply line. */
  readonly configureMs: number;
  /** BIRD answered → the protocol listed by `show protocols`. */
  readonly visibleMs: number;
  /** put sent → the protocol listed: the floor of put → visible. */
  readonly totalMs: number;
}

/**
 * One floor round: put a key and wait for its watch event, `bird -p` the config, `configure` BIRD over the raw
 * socket, poll until `protocol` is listed. The config at `configPath` must already hold the change.
 */
export async function floorRound(
  client: Etcd3,
  watch: { next(key: string): Promise<number> },
  key: string,
  configPath: string,
  control: RawBirdSocket,
  poll: string,
  protocol: string,
  /** The `bird` whose `bird -p` the floor runs (the same BIRD as birdwatch's). */
  birdBinary = 'bird',
): Promise<FloorRound> {
  const event = watch.next(key);
  const putAt = performance.now();
  await client.put(key).value('1');
  const eventAt = await event;
  const parseCode = await spawnBirdParse(birdBinary, configPath);
  const parsedAt = performance.now();
  if (parseCode !== 0) throw new Error(`floor: bird -p refused ${configPath} (exit ${parseCode})`);
  const reply = await control.command('configure');
  const answeredAt = performance.now();
  if (!/^000[345] /.test(reply.at(-1) ?? ''))
    throw new Error(`floor: BIRD refused configure: ${reply.at(-1) ?? '(no reply)'}`);
  const visibleAt = await pollVisible(poll, protocol);
  return {
    etcdMs: eventAt - putAt,
    birdParseMs: parsedAt - eventAt,
    configureMs: answeredAt - parsedAt,
    visibleMs: visibleAt - answeredAt,
    totalMs: visibleAt - putAt,
  };
}

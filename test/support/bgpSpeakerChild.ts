/**
 * A minimal BGP speaker, run inside a test's network namespace (`ip netns exec NS node --import tsx
 * bgpSpeakerChild.ts`; bgpSpeaker.ts drives it). It plays every neighbor of a rendered BIRD configuration: for
 * each session of a round it dials BIRD from the neighbor's address (the namespace routes every address to lo),
 * exchanges OPEN/KEEPALIVE, optionally announces one route, and records what BIRD sent until BIRD's End-of-RIB.
 * Dialling BIRD (instead of waiting for BIRD to dial) brings a session up at once: BIRD accepts an incoming
 * connection as soon as the protocol has started, but dials only after its connect delay (5 s).
 *
 * Input, one JSON line per round: { sessions: SpeakerSession[], timeoutMs }. Output, one JSON line per round:
 * { results: SessionResult[] }. A new round closes the previous round's connections.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import {
  announceMessage,
  endOfRibMessage,
  keepaliveMessage,
  openMessage,
  readMessages,
  type ReceivedOpen,
} from './bgpWire.js';

export interface SpeakerSession {
  readonly id: string;
  readonly family: 4 | 6;
  /** The neighbor's address: we dial from it. */
  readonly local: string;
  /** BIRD's address: we dial it (port 179). */
  readonly remote: string;
  /** The neighbor's AS (what BIRD's `neighbor … as` expects). */
  readonly as: number;
  readonly routerId: string;
  /** Our AS differs from BIRD's local AS: the announced route carries our AS in its path. */
  readonly ebgp: boolean;
  readonly announce: string | undefined;
}

export interface SessionResult {
  readonly id: string;
  readonly established: boolean;
  /** BIRD's OPEN: its local AS, hold time, router id, capabilities. */
  readonly open: ReceivedOpen | undefined;
  /** Prefixes BIRD announced (and did not withdraw), each with the CLUSTER_LIST it carried. */
  readonly routes: Readonly<Record<string, readonly string[]>>;
  readonly endOfRib: boolean;
  readonly error: string | undefined;
}

interface Live {
  socket: net.Socket | undefined;
  established: boolean;
  open: ReceivedOpen | undefined;
  routes: Map<string, readonly string[]>;
  endOfRib: boolean;
  error: string | undefined;
  final: boolean;
}

let sockets: net.Socket[] = [];
let timers: NodeJS.Timeout[] = [];

function closeAll(): void {
  for (const s of sockets) s.destroy();
  for (const t of timers) clearTimeout(t);
  sockets = [];
  timers = [];
}

const later = (ms: number, fn: () => void): void => {
  timers.push(setTimeout(fn, ms));
};

function runSession(s: SpeakerSession, live: Live, deadline: number, onUpdate: () => void, onDone: () => void): void {
  const attempt = (): void => {
    if (live.final) return;
    const socket = net.createConnection({ host: s.remote, port: 179, localAddress: s.local });
    sockets.push(socket);
    live.socket = socket;
    let buffer: Buffer = Buffer.alloc(0);
    let sawOpen = false;
    const retry = (why: string): void => {
      socket.destroy();
      if (live.final || live.established) return;
      live.error = why;
      if (Date.now() + 15 > deadline) {
        live.final = true;
        onDone();
      } else later(15, attempt);
    };
    socket.on('connect', () =>
      socket.write(openMessage({ as: s.as, routerId: s.routerId, family: s.family, holdTime: 240 })),
    );
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // Refused or reset: BIRD is not listening for this session yet. Anything else (no route, an address the
      // kernel will not use) will not change within the round.
      if (e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET') return retry(e.code);
      socket.destroy();
      live.error = e.code ?? e.message;
      if (!live.final) {
        live.final = true;
        onDone();
      }
    });
    socket.on('close', () => {
      if (!live.established) retry('closed before Established');
      else if (!live.final) {
        live.error = 'closed after Established';
        live.final = true;
        onDone();
      }
    });
    socket.on('data', (chunk: Buffer) => {
      const { messages, rest } = readMessages(Buffer.concat([buffer, chunk]));
      buffer = rest;
      for (const m of messages) {
        if (m.type === 'open') {
          sawOpen = true;
          live.open = m.open;
          socket.write(keepaliveMessage());
        } else if (m.type === 'keepalive' && sawOpen && !live.established) {
          live.established = true;
          live.error = undefined;
          if (s.announce !== undefined)
            socket.write(announceMessage({ prefix: s.announce, nextHop: s.local, ebgpAs: s.ebgp ? s.as : undefined }));
          socket.write(endOfRibMessage(s.family));
        } else if (m.type === 'update') {
          for (const p of m.update.withdrawn) live.routes.delete(p);
          for (const p of m.update.announced) live.routes.set(p, m.update.clusterList);
          if (m.update.endOfRib !== undefined) live.endOfRib = true;
          onUpdate();
          if (live.endOfRib && !live.final) {
            live.final = true;
            onDone();
          }
        } else if (m.type === 'notification') {
          live.error = `NOTIFICATION ${m.code}/${m.subcode}`;
          // A refusal (bad AS, bad router id) is an answer, not a race: do not retry.
          if (m.code === 2 && !live.final) {
            live.final = true;
            onDone();
          }
        }
      }
    });
  };
  attempt();
}

function round(sessions: readonly SpeakerSession[], timeoutMs: number): Promise<SessionResult[]> {
  closeAll();
  const deadline = Date.now() + timeoutMs;
  const lives = sessions.map((): Live => ({
    socket: undefined,
    established: false,
    open: undefined,
    routes: new Map(),
    endOfRib: false,
    error: undefined,
    final: false,
  }));
  const announcing = sessions.some((s) => s.announce !== undefined);
  return new Promise((resolve) => {
    let resolved = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (resolved) return;
      resolved = true;
      if (quiet) clearTimeout(quiet);
      resolve(
        sessions.map((s, i) => {
          const l = lives[i]!;
          return {
            id: s.id,
            established: l.established,
            open: l.open,
            routes: Object.fromEntries([...l.routes].sort(([a], [b]) => (a < b ? -1 : 1))),
            endOfRib: l.endOfRib,
            error: l.error,
          };
        }),
      );
    };
    // Routes reflected from another session can follow a session's End-of-RIB: with announcements, the round
    // ends after every session is done and nothing arrived for a while.
    const check = (): void => {
      if (!lives.every((l) => l.final)) return;
      if (!announcing) return finish();
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(finish, 400);
    };
    timers.push(setTimeout(finish, timeoutMs + 500));
    if (sessions.length === 0) return finish();
    sessions.forEach((s, i) => runSession(s, lives[i]!, deadline, check, check));
  });
}

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const { sessions, timeoutMs } = JSON.parse(line) as { sessions: SpeakerSession[]; timeoutMs: number };
    const results = await round(sessions, timeoutMs);
    process.stdout.write(`${JSON.stringify({ results })}\n`);
  });
});
lines.on('close', () => {
  closeAll();
  process.exit(0);
});

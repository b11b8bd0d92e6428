import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { probeBird } from './birdProbe.js';
import { checkLiveness, checkReadiness, DEFAULT_LIVENESS_STALE_MS } from './health.js';
import type { Logger } from './logger.js';
import type { BirdwatchMetrics } from './metrics.js';
import type { Daemon } from '../model/daemon.js';
import type { RunStatus } from './runStatus.js';
import type { LogEvent } from './logEvents.js';

export interface OpsServerOptions {
  readonly host: string;
  /** 0 picks a free port (see `address`). */
  readonly port: number;
  readonly status: RunStatus;
  readonly metrics: BirdwatchMetrics;
  readonly sockets: Readonly<Partial<Record<Daemon, string>>>;
  readonly log: Logger;
  /** /healthz fails when the heartbeat is older than this. */
  readonly livenessStaleMs?: number;
  /** A cycle running or a change waiting longer than this makes /readyz fail (default 10 s). */
  readonly stuckAfterMs?: number;
  /** The heartbeat's clock (monotonic ms); performance.now by default. */
  readonly now?: () => number;
  /** Time the readiness probe gives each BIRD control socket. */
  readonly birdProbeTimeoutMs?: number;
}

export interface OpsServer {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

/** The ops endpoint could not listen where it was told to. */
export class OpsServerListenError extends Error {
  override readonly name = 'OpsServerListenError';
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const PATHS = ['/metrics', '/healthz', '/readyz'] as const;

function send(response: ServerResponse, code: number, contentType: string, body: string, head: boolean): void {
  response.writeHead(code, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(head ? undefined : body);
}

const json = (response: ServerResponse, code: number, value: unknown, head: boolean): void =>
  send(response, code, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, head);

/**
 * The read-only operations endpoint: `/metrics` (Prometheus text), `/healthz` (the control loop is alive),
 * `/readyz` (synced, applied, BIRD answers; else 503 naming what fails). GET and HEAD only; nothing here
 * changes any state. Bound to loopback unless told otherwise.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const now = options.now ?? (() => performance.now());
  const staleAfterMs = options.livenessStaleMs ?? DEFAULT_LIVENESS_STALE_MS;
  const log = options.log;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const head = request.method === 'HEAD';
    if (!PATHS.some((p) => p === path))
      return json(response, 404, { error: `no such endpoint: ${path}`, endpoints: PATHS }, head);
    if (request.method !== 'GET' && !head) {
      response.setHeader('allow', 'GET, HEAD');
      return json(
        response,
        405,
        { error: `${request.method ?? '?'} not allowed: the endpoint is read-only (GET, HEAD)` },
        false,
      );
    }
    if (path === '/metrics')
      return send(response, 200, options.metrics.contentType, await options.metrics.scrape(), head);
    if (path === '/healthz') {
      const liveness = checkLiveness(options.status, now(), staleAfterMs);
      const heartbeatAgeSeconds = Math.round(liveness.heartbeatAgeMs) / 1000;
      if (liveness.alive) return json(response, 200, { status: 'alive', heartbeatAgeSeconds }, head);
      return json(
        response,
        503,
        {
          status: 'stuck',
          heartbeatAgeSeconds,
          message: `the control loop has not ticked for ${heartbeatAgeSeconds} s (limit ${staleAfterMs / 1000} s)`,
        },
        head,
      );
    }
    const answers = await probeBird(options.sockets, options.birdProbeTimeoutMs);
    const readiness = checkReadiness(options.status, answers, { now: now(), stuckAfterMs: options.stuckAfterMs });
    const body = {
      status: readiness.ready ? 'ready' : 'not ready',
      failing: readiness.checks.filter((c) => !c.ok).map((c) => ({ condition: c.condition, message: c.message })),
      checks: Object.fromEntries(readiness.checks.map((c) => [c.condition, { ok: c.ok, message: c.message }])),
    };
    return json(response, readiness.ready ? 200 : 503, body, head);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log.error(
        { event: 'ops-request-failed' satisfies LogEvent, component: 'http', path: request.url, err: error },
        'ops endpoint failed',
      );
      if (!response.headersSent) json(response, 500, { error: 'internal error' }, false);
      else response.destroy();
    });
  });
  // Probes are small and frequent: no reason to hold idle connections long.
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason =
        error.code === 'EADDRINUSE'
          ? 'address already in use'
          : error.code === 'EADDRNOTAVAIL'
            ? 'address not available on this host'
            : error.code === 'EACCES'
              ? 'permission denied'
              : error.message;
      reject(
        new OpsServerListenError(
          `cannot listen on ${formatHostPort(options.host, options.port)}: ${reason}`,
          error.code,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) =>
    log.error({ event: 'ops-server-error' satisfies LogEvent, component: 'http', err: error }, 'ops endpoint error'),
  );
  const bound = server.address() as AddressInfo;
  const address = { host: options.host, port: bound.port };
  log.info(
    {
      event: 'ops-listening' satisfies LogEvent,
      component: 'http',
      address: formatHostPort(address.host, address.port),
      endpoints: PATHS,
    },
    'ops endpoint listening',
  );

  let closing: Promise<void> | undefined;
  return {
    address,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/** `127.0.0.1:9099`, `[::1]:9099`. */
const formatHostPort = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

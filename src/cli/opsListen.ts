import { OpsServerListenError, type OpsServer } from '../observe/httpServer.js';
import type { Logger } from '../observe/logger.js';
import type { ListenOption } from './listenOption.js';
import { UsageError } from './usageError.js';
import type { LogEvent } from '../observe/logEvents.js';

/**
 * Starts the ops endpoint. An address given with --listen must work (else exit, naming the flag); the default
 * one is best effort — another process on the default address must not stop
 * routing — so a clash there is logged and birdwatch runs without the endpoint.
 */
export async function listenOps(
  listen: ListenOption,
  explicit: string | undefined,
  start: (host: string, port: number) => Promise<OpsServer>,
  log: Logger,
): Promise<OpsServer | undefined> {
  if (listen.kind === 'off') return undefined;
  try {
    return await start(listen.host, listen.port);
  } catch (error) {
    if (!(error instanceof OpsServerListenError)) throw error;
    if (explicit !== undefined) throw new UsageError('--listen', explicit, error.message);
    log.error(
      { event: 'ops-listen-failed' satisfies LogEvent, component: 'http' },
      `${error.message}; running without /metrics, /healthz and /readyz (set --listen HOST:PORT, or --listen off)`,
    );
    return undefined;
  }
}

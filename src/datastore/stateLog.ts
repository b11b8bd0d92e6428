import type { Logger } from 'pino';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import type { LogEvent } from '../observe/logEvents.js';

/** One log line per state change of the mirror (run's datastore component); `event` and `state` are stable. */
export function logDatastoreState(
  log: Logger,
  state: DatastoreState,
  info: DatastoreStateInfo,
  mirror: {
    readonly revision: bigint;
    readonly entries: ReadonlyMap<string, string>;
    readonly scopeLabel: string | undefined;
  },
): void {
  const since = new Date(info.since).toISOString();
  switch (state) {
    case 'disconnected':
      log.warn(
        { component: 'datastore', event: 'datastore-state' satisfies LogEvent, state, since },
        `etcd connection lost (${info.error?.message ?? info.reason ?? 'unknown'}); keeping the live configuration and retrying`,
      );
      break;
    case 'stale':
      log.warn(
        { component: 'datastore', event: 'datastore-state' satisfies LogEvent, state, since },
        `etcd stale: ${info.reason ?? 'no answer'}; keeping the live configuration`,
      );
      break;
    case 'resyncing':
      break; // the reason was logged once when the re-read started
    case 'synced':
      log.info(
        {
          component: 'datastore',
          event: 'datastore-state' satisfies LogEvent,
          state,
          revision: String(mirror.revision),
          keys: mirror.entries.size,
          scope: mirror.scopeLabel,
        },
        'etcd synced',
      );
      break;
    case 'syncing':
      break;
  }
}

/** An endpoint that answers no progress requests (etcd's gRPC proxy): said once, with a stable `event`. */
export function logProgressByReads(log: Logger, endpoint: string | undefined): void {
  log.info(
    { component: 'datastore', event: 'etcd-progress-by-reads' satisfies LogEvent, endpoint },
    `etcd endpoint ${endpoint ?? '?'} answers reads but no watch progress requests (an etcd gRPC proxy): its liveness and revisions are checked by reads`,
  );
}

import type { Daemon, RunStatus } from './runStatus.js';

/** How long the control loop may go without a heartbeat before /healthz says it is stuck. */
export const DEFAULT_LIVENESS_STALE_MS = 30_000;

export interface Liveness {
  readonly alive: boolean;
  /** Time since the control loop last ticked (ms). */
  readonly heartbeatAgeMs: number;
}

/** Alive while the heartbeat is fresh; `now` is on the heartbeat's (monotonic) clock. */
export function checkLiveness(status: Readonly<RunStatus>, now: number, staleAfterMs: number): Liveness {
  const heartbeatAgeMs = Math.max(0, now - status.heartbeatAt);
  return { alive: heartbeatAgeMs <= staleAfterMs, heartbeatAgeMs };
}

export type ReadinessCondition = 'datastore' | 'applied' | 'bird' | 'bird6';

export interface ReadinessCheck {
  readonly condition: ReadinessCondition;
  readonly ok: boolean;
  readonly message: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: readonly ReadinessCheck[];
}

/** Whether each daemon answered on its control socket just now (an error text when not). */
export type BirdAnswers = Readonly<Record<Daemon, { readonly ok: true } | { readonly ok: false; readonly error: string }>>;

/** The datastore's part of readiness: synced, or why not and since when. */
function datastoreCheck(status: Readonly<RunStatus>): ReadinessCheck {
  const since = status.datastoreSince === undefined ? 'an unknown time' : new Date(status.datastoreSince).toISOString();
  const why = status.datastoreDetail ?? 'unknown';
  switch (status.datastore) {
    case 'synced':
      return { condition: 'datastore', ok: true, message: `synced with etcd at revision ${status.revision}` };
    case 'syncing':
      return { condition: 'datastore', ok: false, message: 'not yet synced with etcd' };
    case 'disconnected':
      return { condition: 'datastore', ok: false, message: `etcd connection lost since ${since}` };
    case 'stale':
      return { condition: 'datastore', ok: false, message: `datastore stale since ${since}: ${why}` };
    case 'resyncing':
      return { condition: 'datastore', ok: false, message: `re-reading etcd since ${since}: ${why}` };
  }
}

/**
 * Ready when all hold: synced with etcd, the last cycle left BIRD running the rendered configuration (and one
 * has), and both BIRD daemons answer. Pure: the caller asks BIRD.
 */
export function checkReadiness(status: Readonly<RunStatus>, bird: BirdAnswers): Readiness {
  const checks: ReadinessCheck[] = [];
  checks.push(datastoreCheck(status));
  if (status.failure) {
    checks.push({ condition: 'applied', ok: false, message: `last cycle failed (${status.failure.kind}): ${status.failure.message}` });
  } else if (status.lastAppliedAt === undefined) {
    checks.push({ condition: 'applied', ok: false, message: 'no configuration applied yet' });
  } else {
    checks.push({ condition: 'applied', ok: true, message: `applied at ${new Date(status.lastAppliedAt).toISOString()}` });
  }
  for (const daemon of ['bird', 'bird6'] as const) {
    const answer = bird[daemon];
    checks.push(answer.ok ? { condition: daemon, ok: true, message: `${daemon} answers` } : { condition: daemon, ok: false, message: answer.error });
  }
  return { ready: checks.every((c) => c.ok), checks };
}

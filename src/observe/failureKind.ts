/**
 * Kinds that stop rendering itself (the node cannot be configured, broken templates, an unexpected error): both daemons
 * are held back.
 */
const RENDER_FAILURE_KINDS = ['node', 'template', 'internal'] as const;
/** Kinds of one daemon's pipeline (bird -p refused, files not written, reload failed, the guard undid it). */
const DAEMON_FAILURE_KINDS = ['validation', 'write', 'reload', 'guard'] as const;

export type RenderFailureKind = (typeof RENDER_FAILURE_KINDS)[number];
export type DaemonFailureKind = (typeof DAEMON_FAILURE_KINDS)[number];
/** Why a cycle could not bring a daemon to what the datastore says. */
export type FailureKind = RenderFailureKind | DaemonFailureKind;

export const FAILURE_KINDS: readonly FailureKind[] = [...RENDER_FAILURE_KINDS, ...DAEMON_FAILURE_KINDS];

export const isRenderFailureKind = (kind: FailureKind | undefined): kind is RenderFailureKind =>
  RENDER_FAILURE_KINDS.some((k) => k === kind);

/**
 * What a log line is, as its stable `event` field (README "Operations": logs): tests and operators match on it and
 * on the line's other fields, never on the message, which is prose for people and may be reworded. Every `event:`
 * in a log call is written `'name' satisfies LogEvent` (eslint.config.js enforces it), so a misspelt or unknown
 * event is a type error; add a name here to add an event. Of src/controller and src/datastore, the BIRD watcher's,
 * the guard's and the datastore state's lines have theirs; the others get theirs in a second pass (they have
 * `component` and fields meanwhile).
 */
export type LogEvent =
  /** `run` starts: role, node, endpoints, config dir, pacing. */
  | 'starting'
  /** `run` has stopped (a signal), after its last cycle. */
  | 'stopped'
  /** Still stopping at the deadline after the stop signal: exits now (README "Restarts, drift and stopping"). */
  | 'shutdown-deadline'
  /** SIGHUP: etcd, the templates and the files on disk are read again. */
  | 'sighup'
  | 'sighup-failed'
  /** A promise rejection nobody handled: a bug, logged; the process carries on. */
  | 'unhandled-rejection'
  /** `--ipip auto` and the BIRD binary has no krt_tunnel: IPIP pools are routed natively. */
  | 'ipip-unsupported'
  /** `run`: the BIRD it renders for (`version`, `dialect`, `from`: the binary or --bird-version, `daemons`). */
  | 'bird-version'
  /** `run --register`: a note on how an address was found, the node written, a retry, or a refusal. */
  | 'register-note'
  | 'registered'
  | 'register-retrying'
  | 'register-failed'
  /** The ops endpoint (/metrics, /healthz, /readyz). */
  | 'ops-listening'
  | 'ops-listen-failed'
  | 'ops-request-failed'
  | 'ops-server-error'
  /** A directory stood where a configuration file belongs and was removed. */
  | 'directory-removed'
  /** No space to stage the daemons' files side by side: one daemon's are staged alone (`daemon`). */
  | 'staged-alone'
  /** After BIRD 1.6 → 2/3: files and state of a daemon this BIRD does not run removed (`files`), or kept on error. */
  | 'absent-daemon-files-removed'
  | 'absent-daemon-files-kept'
  /** The etcd mirror changed state (`state`: disconnected, stale, synced; `revision` once synced). */
  | 'datastore-state'
  /** An etcd endpoint answers reads but no progress requests (etcd's gRPC proxy): reads stand in, per `endpoint`. */
  | 'etcd-progress-by-reads'
  /** The BIRD watcher (README "Restarts, drift and stopping"): a look failed, a drift (`cause`), or repaired. */
  | 'bird-watch-failed'
  | 'bird-drift'
  | 'bird-drift-repaired'
  /**
   * The apply guard (README "The apply guard"), per `daemon`: a window opened under `configure timeout`, the
   * change confirmed or reverted, a window interrupted or abandoned, files that could not be swapped in or put
   * back, and a window left by a previous birdwatch recovered at start.
   */
  | 'guard-window'
  | 'guard-confirmed'
  | 'guard-reverted'
  | 'guard-interrupted'
  | 'guard-window-abandoned'
  | 'guard-swap-failed'
  | 'guard-put-back-failed'
  | 'guard-window-recovered';

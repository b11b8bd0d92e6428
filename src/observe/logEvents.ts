/**
 * What a log line is, as its stable `event` field (README "Operations": logs): tests and operators match on it and
 * on the line's other fields, never on the message, which is prose for people and may be reworded. Every `event:`
 * in a log call is written `'name' satisfies LogEvent` (eslint.config.js enforces it), so a misspelt or unknown
 * event is a type error; add a name here to add an event. Every log call in src has one (eslint.config.js checks).
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
  /** etcd failed (`kind`): retried with backoff, said once until it works again. */
  | 'datastore-retry'
  /** The mirror reads everything again for a reason it found (a rollback, a re-scope; `revision`: the one it had). */
  | 'datastore-resync'
  /** SIGHUP's re-read of etcd and the templates (`revision`, `keys`), or its failure (the held state is kept). */
  | 'reread'
  | 'reread-failed'
  /** The templates directory changed: re-rendering, or the new templates could not be loaded (the old ones stay). */
  | 'templates-changed'
  | 'templates-load-failed'
  /** At start: files an interrupted run left in the config dir (`removed`) were removed. */
  | 'leftovers-removed'
  /**
   * The apply cycle (README "The apply path"): files written and BIRD reloaded (`files`, `changes`, `reload`), or
   * only a reload; the latency from the change to BIRD having it (`latencyMs`); a failure (`failure`: its kind,
   * `daemon` unless it holds both back), said once until it changes, and its resolution.
   */
  | 'configuration-applied'
  | 'reloaded'
  | 'change-applied'
  | 'apply-failed'
  | 'failure-resolved'
  /** The cycle threw (a bug) and holds both daemons back; or the loop around it failed and is retried. */
  | 'cycle-unexpected-error'
  | 'cycle-loop-failed'
  /** An etcd entry left out of the rendering (`key`; `/readyz` names it), logged once when it first appears. */
  | 'entry-skipped'
  /**
   * bird -p refused the lines rendered from an entry (`key`, `daemon`): quarantined until its value changes, and
   * tried again once it has.
   */
  | 'quarantined'
  | 'quarantine-lifted'
  /** BIRD refused the new set (`daemon`): the files it runs were put back (`files`), or could not be. */
  | 'refused-put-back'
  | 'refused-put-back-failed'
  /** A daemon cannot open birdwatch's staged files (`reply`): reloaded after the swap from now on. */
  | 'staged-unreadable'
  /** A daemon's control socket stopped answering (the reload is retried), or answers again; said once per change. */
  | 'bird-unreachable'
  | 'bird-reachable'
  /** The BIRD watcher (README "Restarts, drift and stopping"): a look failed, a drift (`cause`), or repaired. */
  | 'bird-watch-failed'
  | 'bird-drift'
  | 'bird-drift-repaired'
  /**
   * The apply guard (README "The apply guard"), per `daemon`: a window opened under `configure timeout`, the
   * change confirmed or reverted, a window interrupted or abandoned, files that could not be swapped in or put
   * back, and a window left by a previous birdwatch recovered at start (or not: its files could not be put back);
   * what a revert holds back (`blamed`) and a hold lifted when it changed (`key`); the marker or the held entries
   * that could not be written (a marker: the change is applied unguarded); `birdwatch undo`'s record not written.
   */
  | 'guard-window'
  | 'guard-confirmed'
  | 'guard-reverted'
  | 'guard-interrupted'
  | 'guard-window-abandoned'
  | 'guard-swap-failed'
  | 'guard-put-back-failed'
  | 'guard-window-recovered'
  | 'guard-recover-failed'
  | 'guard-held-back'
  | 'guard-hold-released'
  | 'guard-holds-not-recorded'
  | 'guard-marker-failed'
  | 'undo-record-failed';

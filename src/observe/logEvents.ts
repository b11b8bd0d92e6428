/**
 * What a log line is, as its stable `event` field (README "Operations": logs): tests and operators match on it and
 * on the line's other fields, never on the message, which is prose for people and may be reworded. Every `event:`
 * in a log call is written `'name' satisfies LogEvent` (eslint.config.js enforces it), so a misspelt or unknown
 * event is a type error; add a name here to add an event. Lines of src/controller and src/datastore get theirs in a
 * second pass (they have `component` and fields meanwhile).
 */
export type LogEvent =
  /** `run` starts: role, node, endpoints, config dir, pacing. */
  | 'starting'
  /** `run` has stopped (a signal), after its last cycle. */
  | 'stopped'
  /** SIGHUP: etcd, the templates and the files on disk are read again. */
  | 'sighup'
  | 'sighup-failed'
  /** A promise rejection nobody handled: a bug, logged; the process carries on. */
  | 'unhandled-rejection'
  /** `--ipip auto` and the BIRD binary has no krt_tunnel: IPIP pools are routed natively. */
  | 'ipip-unsupported'
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
  | 'directory-removed';

/**
 * The files of a daemon this role does not run (README "BIRD 2 and BIRD 3", upgrading in place): after a host
 * moves from BIRD 1.6 to BIRD 2/3 on the same config dir, bird6's configuration (`bird6.cfg`, `bird6_aggr.cfg`,
 * `custom_filters6.cfg`, `bird6_ipam.cfg`) and its guard marker and undo record. They are removed, not renamed aside:
 * a BIRD 1.6 put back later must not start on them (its first birdwatch cycle renders both daemons' files from etcd,
 * and the bird6 service waits for that), and nothing can use a copy — BIRD 2/3 cannot load them, `undo` must not put
 * them back. Pure.
 */
import { DAEMONS, type Daemon } from '../model/daemon.js';
import { daemonOf } from '../render/fileSet.js';
import { BIRD2_NODE_LAYOUT, BIRD2_REFLECTOR_LAYOUT, NODE_LAYOUT, REFLECTOR_LAYOUT } from '../render/layouts.js';
import { guardMarkerName } from './guard/marker.js';
import { previousFilesName } from './guard/undoRecord.js';

const LAYOUT_FILES = [
  ...new Set([...NODE_LAYOUT, ...REFLECTOR_LAYOUT, ...BIRD2_NODE_LAYOUT, ...BIRD2_REFLECTOR_LAYOUT].map((e) => e.file)),
];

/** What is removed once the role's own files are in place: an absent daemon's configuration, marker and record. */
export interface AbsentDaemonFiles {
  /** Configuration files only an absent daemon reads: their presence says the host ran that daemon before. */
  readonly configuration: readonly string[];
  /** The absent daemons' guard markers and undo records. */
  readonly state: readonly string[];
  /**
   * Removed too when any `configuration` file was there (the dialect changed): the present daemons' undo records,
   * which hold the previous dialect's files (BIRD 2 cannot load BIRD 1.6's `bird.cfg`, nor the other way round).
   */
  readonly previousDialect: readonly string[];
}

export function absentDaemonFiles(daemons: readonly Daemon[]): AbsentDaemonFiles {
  const absent = DAEMONS.filter((d) => !daemons.includes(d));
  return {
    configuration: LAYOUT_FILES.filter((file) => absent.includes(daemonOf(file))),
    state: absent.flatMap((d) => [guardMarkerName(d), previousFilesName(d)]),
    previousDialect: daemons.map(previousFilesName),
  };
}

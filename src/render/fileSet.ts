import type { Daemon } from '../model/daemon.js';

/** Rendered contents by file name, in the order they must be swapped in (includes first, bird.cfg/bird6.cfg last). */
export type FileSet = ReadonlyMap<string, string>;

/**
 * Lines of a rendered file that came from one datastore entry, so a BIRD error at `file:line` can name (and
 * quarantine) the key behind it. `custom-filter` spans also take an error reported just after them (BIRD reports
 * an unfinished last statement on the line that closes `custom_filters()`).
 */
export interface EntrySpan {
  readonly file: string;
  readonly key: string;
  readonly firstLine: number;
  readonly lastLine: number;
  readonly kind: 'custom-filter' | 'entry';
  /**
   * Other keys these lines are also rendered from (a mesh peer's block: its host's AS, else the global AS). The
   * apply guard blames whichever of the span's keys changed; a BIRD error names `key`.
   */
  readonly alsoFrom?: readonly string[];
}

export interface RenderedConfig {
  readonly files: FileSet;
  /** Where each entry's lines are; computed only when asked (a BIRD error to attribute), not on every render. */
  readonly spans: () => readonly EntrySpan[];
}

/** Which daemon reads a file: the `6` files are bird6's. */
export const daemonOf = (file: string): Daemon => (/^bird6|6\.cfg$/.test(file) ? 'bird6' : 'bird');

/** The key behind `file:line`: the innermost entry span holding the line, else the custom filter it closes. */
export function entryAt(spans: readonly EntrySpan[], file: string, line: number): EntrySpan | undefined {
  const holding = spans.filter((s) => s.file === file && s.firstLine <= line && line <= s.lastLine);
  if (holding.length > 0) return holding.sort((a, b) => a.lastLine - a.firstLine - (b.lastLine - b.firstLine))[0];
  return spans
    .filter((s) => s.kind === 'custom-filter' && s.file === file && s.firstLine <= line)
    .sort((a, b) => b.firstLine - a.firstLine)[0];
}

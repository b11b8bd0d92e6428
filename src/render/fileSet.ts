/** The files of one node's BIRD configuration, in the order they must be swapped in (includes first). */
export const OUTPUT_FILES = [
  'bird_aggr.cfg',
  'custom_filters.cfg',
  'bird_ipam.cfg',
  'bird6_aggr.cfg',
  'custom_filters6.cfg',
  'bird6_ipam.cfg',
  'bird.cfg',
  'bird6.cfg',
] as const;

export type OutputFile = (typeof OUTPUT_FILES)[number];

/** Rendered contents by file name; always all of OUTPUT_FILES. */
export type FileSet = ReadonlyMap<OutputFile, string>;

/** Where each custom filter's body sits in its rendered file, so a BIRD error line can name the key. */
export interface CustomFilterSpan {
  readonly file: OutputFile;
  readonly key: string;
  readonly firstLine: number;
  readonly lastLine: number;
}

export interface RenderedConfig {
  readonly files: FileSet;
  readonly customFilterSpans: readonly CustomFilterSpan[];
}

export const sameFileSet = (a: FileSet, b: FileSet): boolean => OUTPUT_FILES.every((name) => a.get(name) === b.get(name));

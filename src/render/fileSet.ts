/** Rendered contents by file name, in the order they must be swapped in (includes first, bird.cfg/bird6.cfg last). */
export type FileSet = ReadonlyMap<string, string>;

/** Where each custom filter's body sits in its rendered file, so a BIRD error line can name the key. */
export interface CustomFilterSpan {
  readonly file: string;
  readonly key: string;
  readonly firstLine: number;
  readonly lastLine: number;
}

export interface RenderedConfig {
  readonly files: FileSet;
  readonly customFilterSpans: readonly CustomFilterSpan[];
}

export const sameFileSet = (a: FileSet, b: ReadonlyMap<string, string>): boolean =>
  a.size === b.size && [...a].every(([name, content]) => b.get(name) === content);

/** Which daemon reads a file: the `6` files are bird6's. */
export const daemonOf = (file: string): 'bird' | 'bird6' => (/^bird6|6\.cfg$/.test(file) ? 'bird6' : 'bird');

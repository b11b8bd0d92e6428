import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A file's content; undefined when it is missing or is not a regular file (a directory put in its place). */
async function readLiveFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw error;
  }
}

/** What identifies one version of a file on disk without reading it. */
const signatureOf = (s: { ino: number; size: number; mtimeMs: number; ctimeMs: number; isFile(): boolean }): string =>
  s.isFile() ? `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : 'not-a-file';

/**
 * The config dir as it is on disk, cheaply: each cycle stats the files (a few µs each) and re-reads only one
 * whose inode, size or times changed since it was last seen — so a file edited, replaced or removed behind
 * birdwatch's back is noticed on the next cycle without reading every file on every change.
 */
export class LiveFiles {
  readonly #configDir: string;
  readonly #known = new Map<string, { signature: string; content: string | undefined }>();

  constructor(configDir: string) {
    this.#configDir = configDir;
  }

  async read(names: Iterable<string>): Promise<Map<string, string>> {
    const live = new Map<string, string>();
    for (const name of names) {
      const path = join(this.#configDir, name);
      const current = await stat(path).then(signatureOf, (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return 'missing';
        throw error;
      });
      let known = this.#known.get(name);
      if (known?.signature !== current) {
        known = {
          signature: current,
          content: current === 'missing' || current === 'not-a-file' ? undefined : await readLiveFile(path),
        };
        this.#known.set(name, known);
      }
      if (known.content !== undefined) live.set(name, known.content);
    }
    return live;
  }

  /**
   * What birdwatch itself just renamed into place: the next read need not read it back (and compares against the
   * very string it rendered). Taken only when the file on disk has that content's size, else read it next time.
   */
  async remember(name: string, content: string): Promise<void> {
    const current = await stat(join(this.#configDir, name)).catch(() => undefined);
    if (current?.isFile() === true && current.size === Buffer.byteLength(content, 'utf8'))
      this.#known.set(name, { signature: signatureOf(current), content });
    else this.#known.delete(name);
  }

  /**
   * The files whose identity on disk (inode, size, times) differs from what was last seen — one stat each, no
   * read: how the BIRD watcher notices a file edited, replaced or removed behind birdwatch's back between cycles.
   */
  async changedOnDisk(): Promise<string[]> {
    const changed: string[] = [];
    for (const [name, known] of this.#known) {
      const current = await stat(join(this.#configDir, name)).then(signatureOf, () => 'missing');
      if (current !== known.signature) changed.push(name);
    }
    return changed;
  }

  /** Forget what was seen (SIGHUP, or after a swap that failed part-way): the next read reads every file. */
  forget(): void {
    this.#known.clear();
  }
}

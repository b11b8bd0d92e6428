import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How often a `--templates` dir is looked at: a template edit is applied within this. */
const POLL_MS = 1_000;

/**
 * A fingerprint of every file under `dir` as it is now: names, and through symlinks each target's inode, size
 * and mtime. A Kubernetes ConfigMap update (files are symlinks into `..data`, and `..data` is swapped) changes
 * it, so does an edit in place, a removed dir ('absent') and a dir that comes back.
 */
async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (path: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(path)).sort()) {
      if (name.startsWith('..')) continue; // the ConfigMap's own timestamped dirs: seen through the symlinks
      const info = await stat(join(path, name)).catch(() => undefined);
      if (info?.isDirectory()) await walk(join(path, name), `${prefix}${name}/`);
      else if (info) parts.push(`${prefix}${name}:${info.ino}:${info.size}:${info.mtimeMs}`);
    }
  };
  try {
    await walk(dir, '');
  } catch {
    return 'absent';
  }
  return parts.join('\n');
}

/**
 * Calls `onChange` when anything in a `--templates` dir changes — an edit, a ConfigMap `..data` swap, the dir
 * removed or back. It polls (one readdir and a stat per template file a second, on an unref'd timer) instead of
 * holding inotify watches: a watch on a dir that is deleted and re-created leaked a handle that kept the
 * process from exiting after SIGTERM.
 */
export class TemplateDirWatcher {
  readonly #dir: string;
  readonly #onChange: () => void;
  #last: Promise<string>;
  #timer: NodeJS.Timeout;
  #busy = false;

  constructor(dir: string, onChange: () => void) {
    this.#dir = dir;
    this.#onChange = onChange;
    this.#last = fingerprint(dir);
    this.#timer = setInterval(() => this.#check(), POLL_MS);
    this.#timer.unref();
  }

  #check(): void {
    if (this.#busy) return;
    this.#busy = true;
    Promise.all([this.#last, fingerprint(this.#dir)])
      .then(([before, now]) => {
        this.#last = Promise.resolve(now);
        if (now !== before) this.#onChange();
      })
      .catch(() => undefined)
      .finally(() => {
        this.#busy = false;
      });
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return Promise.resolve();
  }
}

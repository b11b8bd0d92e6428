import { stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';

/** How often a templates dir that went away is looked for again. */
const ABSENT_POLL_MS = 2_000;

/**
 * Calls `onChange` when anything in a `--templates` dir changes, including the way a Kubernetes ConfigMap volume
 * updates (files are symlinks into `..data`, and `..data` itself is swapped), and when the dir is removed and
 * comes back (it is then looked for every 2 s, and watched again once it is there).
 */
export class TemplateDirWatcher {
  readonly #dir: string;
  readonly #onChange: () => void;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(dir: string, onChange: () => void) {
    this.#dir = dir;
    this.#onChange = onChange;
    this.#arm();
  }

  #arm(): void {
    const watcher = watch(this.#dir, {
      ignoreInitial: true,
      followSymlinks: true,
      awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 },
    });
    this.#watcher = watcher;
    watcher.on('all', (event, path) => {
      if ((event === 'unlinkDir' && path === this.#dir) || event === 'error') {
        this.#lost();
        return;
      }
      this.#onChange();
    });
    watcher.on('error', () => this.#lost());
    // A dir that is already gone when watching starts (or goes away without an event) is found by the poll.
    this.#startPoll();
  }

  /** The dir went away: stop watching it, tell the loop (the templates now fail to load), look for it again. */
  #lost(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.close().catch(() => undefined);
    this.#onChange();
  }

  #startPoll(): void {
    if (this.#poll) return;
    this.#poll = setInterval(() => {
      stat(this.#dir)
        .then((s) => {
          if (this.#closed || this.#watcher || !s.isDirectory()) return;
          this.#arm();
          this.#onChange();
        })
        .catch(() => {
          if (this.#watcher && !this.#closed) this.#lost();
        });
    }, ABSENT_POLL_MS);
    this.#poll.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poll);
    await this.#watcher?.close();
  }
}

import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Daemon } from '../../model/daemon.js';
import { prepareDurableFile, type PreparedFile } from '../../apply/swapFileSet.js';

/**
 * The files a daemon ran before birdwatch's last reload of it, kept so `birdwatch undo` can put them back beside
 * BIRD's `configure undo` (BIRD keeps one previous configuration in memory; this is the same step on disk).
 */
export const previousFilesName = (daemon: Daemon): string => `.birdwatch-previous-${daemon}.json`;

/** The files a daemon ran before a swap replaced them: what goes back when BIRD refuses, or the guard undoes. */
export const replacedFiles = (written: readonly string[], live: ReadonlyMap<string, string>): Map<string, string> =>
  new Map(written.flatMap((name) => (live.has(name) ? [[name, live.get(name)!] as const] : [])));

/**
 * Writes the record at once (tests, benchmarks); the run loop prepares it beside the reload instead.
 * @internal tests and benchmarks write a record directly.
 */
export async function savePreviousFiles(
  configDir: string,
  daemon: Daemon,
  files: Readonly<Record<string, string>>,
): Promise<void> {
  await (await preparePreviousFiles(configDir, daemon, files)).commit();
}

/**
 * The record written ahead (beside the reload), put in place only once BIRD took the new set.
 * @internal the guard benchmark times it.
 */
export function preparePreviousFiles(
  configDir: string,
  daemon: Daemon,
  files: Readonly<Record<string, string>>,
): Promise<PreparedFile> {
  return prepareDurableFile(configDir, previousFilesName(daemon), JSON.stringify({ daemon, files }));
}

export async function readPreviousFiles(
  configDir: string,
  daemon: Daemon,
): Promise<Record<string, string> | undefined> {
  try {
    const value = JSON.parse(await readFile(join(configDir, previousFilesName(daemon)), 'utf8')) as {
      daemon?: unknown;
      files?: unknown;
    };
    if (value.daemon !== daemon || typeof value.files !== 'object' || value.files === null) return undefined;
    return value.files as Record<string, string>;
  } catch {
    return undefined;
  }
}

export async function removePreviousFiles(configDir: string, daemon: Daemon): Promise<void> {
  await rm(join(configDir, previousFilesName(daemon)), { force: true });
}

/**
 * One reload's record of the files the daemon ran before it: written beside the reload (`begin`), put in place
 * once BIRD took the new set (`keep`), else removed (`drop`). A record that cannot be written is reported to
 * `warn` and the reload goes on: `birdwatch undo` then lacks the files, BIRD's `configure undo` still works.
 */
export class UndoRecord {
  #prepared: Promise<PreparedFile | undefined> | undefined;

  constructor(
    private readonly configDir: string,
    readonly daemon: Daemon,
    private readonly files: Readonly<Record<string, string>>,
    private readonly warn: (error: unknown) => void,
  ) {}

  begin(): void {
    this.#prepared = preparePreviousFiles(this.configDir, this.daemon, this.files).catch((error: unknown) => {
      this.warn(error);
      return undefined;
    });
  }

  async keep(): Promise<void> {
    const prepared = await this.#take();
    await prepared?.commit().catch(this.warn);
  }

  async drop(): Promise<void> {
    await (await this.#take())?.discard();
  }

  async #take(): Promise<PreparedFile | undefined> {
    const prepared = await this.#prepared;
    this.#prepared = undefined;
    return prepared;
  }
}

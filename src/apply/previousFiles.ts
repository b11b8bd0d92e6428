import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Daemon } from '../model/daemon.js';
import { prepareDurableFile, type PreparedFile } from './swapFileSet.js';

/**
 * The files a daemon ran before birdwatch's last reload of it, kept so `birdwatch undo` can put them back beside
 * BIRD's `configure undo` (BIRD keeps one previous configuration in memory; this is the same step on disk).
 */
export const previousFilesName = (daemon: Daemon): string => `.birdwatch-previous-${daemon}.json`;

/** Writes the record at once (tests, benchmarks); the run loop prepares it beside the reload instead. */
export async function savePreviousFiles(
  configDir: string,
  daemon: Daemon,
  files: Readonly<Record<string, string>>,
): Promise<void> {
  await (await preparePreviousFiles(configDir, daemon, files)).commit();
}

/** The record written ahead (beside the reload), put in place only once BIRD took the new set. */
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

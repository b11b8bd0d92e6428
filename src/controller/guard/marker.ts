import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Daemon } from '../../model/daemon.js';
import { writeFilesDurably } from '../../apply/swapFileSet.js';

/**
 * Written before `configure timeout`, removed after the confirm or the undo: a birdwatch that finds one at start
 * was stopped inside a settle window, so BIRD reverted (or will revert) by itself to the files recorded here.
 */
export interface GuardMarker {
  readonly daemon: Daemon;
  /** The files BIRD ran before the guarded apply (name → content), put back on recovery. */
  readonly previous: Readonly<Record<string, string>>;
  /** Wall-clock ms of the `configure timeout`, and its seconds. */
  readonly at: number;
  readonly timeoutS: number;
  /** Datastore values that changed since the last clean apply (null: the key was absent), to hold back. */
  readonly previousValues?: Readonly<Record<string, string | null>>;
}

/** The guard's marker file (the absent-daemon cleanup and the guard's restart tests name it too). */
export const guardMarkerName = (daemon: Daemon): string => `.birdwatch-guard-${daemon}.json`;

export async function writeGuardMarker(configDir: string, marker: GuardMarker): Promise<void> {
  await writeFilesDurably(configDir, new Map([[guardMarkerName(marker.daemon), JSON.stringify(marker)]]));
}

export async function readGuardMarker(configDir: string, daemon: Daemon): Promise<GuardMarker | undefined> {
  let text: string;
  try {
    text = await readFile(join(configDir, guardMarkerName(daemon)), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<GuardMarker>;
    if (value.daemon !== daemon || typeof value.previous !== 'object' || value.previous === null) return undefined;
    return value as GuardMarker;
  } catch {
    return undefined; // a torn write cannot happen (rename), but a hand-edited file must not stop a start
  }
}

export async function removeGuardMarker(configDir: string, daemon: Daemon): Promise<void> {
  await rm(join(configDir, guardMarkerName(daemon)), { force: true });
}

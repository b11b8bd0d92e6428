import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFilesDurably } from '../../apply/swapFileSet.js';
import type { Daemon } from '../../model/daemon.js';

/**
 * Entries the apply guard holds back (etcd key → the value that was reverted and the value rendered instead), kept
 * in the config dir so a restart — `run --once` then `run` under runit — does not apply them again. Only entries:
 * held templates and renderings are not kept (a restart re-reads both).
 */
export interface HeldEntry {
  readonly bad: string | null;
  readonly previous: string | null;
  readonly daemon: Daemon;
  readonly reason: string;
  readonly at: number;
}

const GUARD_HOLDS_FILE = '.birdwatch-guard-holds.json';

export async function writeGuardHolds(configDir: string, holds: Readonly<Record<string, HeldEntry>>): Promise<void> {
  if (Object.keys(holds).length === 0) await rm(join(configDir, GUARD_HOLDS_FILE), { force: true });
  else await writeFilesDurably(configDir, new Map([[GUARD_HOLDS_FILE, JSON.stringify(holds)]]));
}

export async function readGuardHolds(configDir: string): Promise<Record<string, HeldEntry>> {
  try {
    const value = JSON.parse(await readFile(join(configDir, GUARD_HOLDS_FILE), 'utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, HeldEntry>) : {};
  } catch {
    return {};
  }
}

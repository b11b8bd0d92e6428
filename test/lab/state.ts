/**
 * The lab's state file (`<stateDir>/lab.json`): every namespace the lab makes (recorded *before* it is
 * made) and every process it starts (recorded as soon as it runs). `down` — also from another process,
 * also after a crash — stops exactly those processes and deletes exactly those namespaces.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessRecord } from './procs.js';

export interface HostState {
  readonly name: string;
  readonly index: number;
  readonly namespace: string;
  readonly ip4: string;
  readonly ip6: string;
  readonly configDir: string;
  /** The host's runit service directory (absent in state files of older labs). */
  readonly serviceDir?: string;
  readonly logDir?: string;
  readonly birdSocket: string;
  readonly bird6Socket: string;
  /** The host's BIRD version at its last start (absent in state files of older labs: BIRD 1.6). */
  bird?: string;
}

export interface LabState {
  readonly version: 1;
  readonly prefix: string;
  readonly createdAt: string;
  readonly bridgeNamespace: string;
  namespaces: string[];
  processes: ProcessRecord[];
  etcdEndpoints: string[];
  hosts: HostState[];
}

const STATE_FILE = 'lab.json';

export function statePath(stateDir: string): string {
  return join(stateDir, STATE_FILE);
}

export function readState(stateDir: string): LabState | undefined {
  const path = statePath(stateDir);
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LabState>;
  if (
    parsed.version !== 1 ||
    typeof parsed.prefix !== 'string' ||
    !Array.isArray(parsed.namespaces) ||
    !Array.isArray(parsed.processes)
  ) {
    throw new Error(`${path} is not a lab state file (version 1); remove it by hand if it is stale`);
  }
  return parsed as LabState;
}

/**
 * Writes the state atomically (temp file + rename) and synchronously, so concurrent updates in one process cannot
 * interleave.
 */
export function writeState(stateDir: string, state: LabState): void {
  mkdirSync(stateDir, { recursive: true });
  const path = statePath(stateDir);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

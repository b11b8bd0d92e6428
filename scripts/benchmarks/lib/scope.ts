/**
 * What a benchmark starts is stopped through a Scope: teardowns run last-in first-out when the scope closes, also
 * when the benchmark fails, and on SIGINT/SIGTERM (daemons stopped by PID, namespaces deleted).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../../../src/errorMessage.js';
import type { TeardownRegistrar } from './harness.js';

/** Waits `ms` (nothing when it is ≤ 0): the bench's loops sleep until a deadline that may have passed. */
export const sleep = (ms: number): Promise<void> => delay(Math.max(0, ms));

export class Scope implements TeardownRegistrar {
  #teardowns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.#teardowns.push(fn);
  }
  /** Runs every teardown, last first; a failing one is reported and the rest still run. Safe to call twice. */
  async close(): Promise<void> {
    while (this.#teardowns.length > 0) {
      const fn = this.#teardowns.pop()!;
      try {
        await fn();
      } catch (error) {
        process.stderr.write(`bench: teardown failed: ${errorMessage(error)}\n`);
      }
    }
  }
}

/** Every open scope, so SIGINT/SIGTERM can still stop the daemons and delete the namespaces. */
const openScopes = new Set<Scope>();
let signalsHooked = false;

export async function withScope<T>(fn: (scope: Scope) => Promise<T>): Promise<T> {
  if (!signalsHooked) {
    signalsHooked = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        process.stderr.write(`bench: ${signal}: stopping what the bench started\n`);
        Promise.all([...openScopes].map((s) => s.close()))
          .catch(() => undefined)
          .finally(() => process.exit(130));
      });
    }
  }
  const scope = new Scope();
  openScopes.add(scope);
  try {
    return await fn(scope);
  } finally {
    await scope.close();
    openScopes.delete(scope);
  }
}

/** A fresh directory under the system's temp dir, removed when the scope closes. */
export async function tempDir(scope: Scope, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scope.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

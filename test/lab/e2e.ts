/**
 * Shared pieces of the end-to-end tests (test/e2e-*.test.ts): a lab per test with a unique namespace
 * prefix (tap runs files in parallel), torn down on success and failure, with the lab's sessions, routes
 * and log tails printed when the test failed.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Test } from 'tap';
import { canCreateNamespaces } from '../harness/netns.js';
import { startLab, type Lab, type LabOptions } from './lab.js';
import { labSnapshot } from './observe.js';

const NO_NAMESPACES_REASON =
  'end-to-end lab tests skipped: network namespaces cannot be created here (they need root / CAP_SYS_ADMIN and iproute2)';

/** Plans 0 with a reason (tap reports the file as skipped, not passed) when namespaces cannot be made. */
export async function skipWithoutNamespaces(t: Test): Promise<boolean> {
  if (await canCreateNamespaces()) return false;
  t.plan(0, NO_NAMESPACES_REASON);
  return true;
}

/** A lab for this test: unique prefix, torn down in teardown (also when the test fails or throws). */
export async function labForTest(
  t: Test,
  options: Omit<LabOptions, 'prefix' | 'killOnExit' | 'stateDir'> = {},
): Promise<Lab> {
  const lab = await startLab({ ...options, prefix: `bwe-${randomBytes(3).toString('hex')}`, killOnExit: true });
  t.teardown(async () => {
    if (!t.passing()) {
      const snapshot = await labSnapshot(lab).catch((e: Error) => `snapshot failed: ${e.message}`);
      t.comment(`lab state at failure:\n${snapshot}\n${await lab.describe()}`);
    }
    await lab.down();
    rmSync(lab.stateDir, { recursive: true, force: true });
  });
  return lab;
}

/** IPv4 /26 block owned by host index i (1-based): 192.168.i.0/26. */
export const block4 = (index: number): string => `192.168.${index}.0/26`;
/** IPv6 /122 block owned by host index i: fd00:1::i:0/122. */
export const block6 = (index: number): string => `fd00:1::${index.toString(16)}:0/122`;
export const POOL4 = '192.168.0.0/16';
export const POOL6 = 'fd00:1::/48';

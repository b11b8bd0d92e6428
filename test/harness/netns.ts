import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import type { TeardownRegistrar } from './process.js';

/** A network namespace the test made (loopback up); deleted on teardown, also when the test fails. */
export interface NetworkNamespace {
  readonly name: string;
  /** Prefix that runs a command inside the namespace: `[...ns.exec, 'bird', ...]`. */
  readonly exec: readonly string[];
  remove(): Promise<void>;
}

export async function canCreateNamespaces(): Promise<boolean> {
  const probe = `bwprobe-${randomBytes(3).toString('hex')}`;
  const added = await execa('ip', ['netns', 'add', probe], { reject: false });
  if (added.exitCode !== 0) return false;
  await execa('ip', ['netns', 'delete', probe], { reject: false });
  return true;
}

export async function createNamespace(t: TeardownRegistrar, prefix = 'bwt'): Promise<NetworkNamespace> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await execa('ip', ['netns', 'add', name]);
  let removed = false;
  // Also when the test process dies before its teardown runs (an uncaught exception, a timeout kill).
  const onExit = (): void => {
    if (!removed) spawnSync('ip', ['netns', 'delete', name]);
  };
  process.once('exit', onExit);
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    process.off('exit', onExit);
    await execa('ip', ['netns', 'delete', name], { reject: false });
  };
  t.teardown(remove);
  await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, exec: ['ip', 'netns', 'exec', name], remove };
}

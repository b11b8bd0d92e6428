/** The memory floor: what a Node process, and one with the etcd client loaded, peaks at; and the shipped flags. */
import { spawnSync } from 'node:child_process';
import { ROOT } from './paths.js';

/** The environment birdwatch is shipped with (packaging/runit/birdwatch/run, packaging/systemd/birdwatch.service). */
export const SHIPPED_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--max-semi-space-size=1',
  MALLOC_ARENA_MAX: '2',
};

/** VmHWM (kB) of a short node program, printed by the program itself just before it ends. */
export function peakRssOfNodeProgram(
  flags: readonly string[],
  code: string,
  env: Readonly<Record<string, string>> = {},
): number {
  const script = `${code}\nconst s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');\nconsole.log(/VmHWM:\\s+(\\d+)/.exec(s)[1]);`;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`floor ${code}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** The etcd client alone, as the floor birdwatch's own memory is measured above. */
export const IMPORT_ETCD3 = "await import('etcd3');";

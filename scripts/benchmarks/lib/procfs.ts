/** What the kernel says about a process (/proc): its memory and its CPU time. */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Resident memory of a process, in kernel kB (KiB; lib/stats.ts turns them into MB). */
export interface ProcessMemory {
  /** VmHWM: the peak resident set. */
  readonly hwmKib: number;
  readonly rssKib: number;
  /** RssAnon and RssFile: the resident set's anonymous and file-backed pages. */
  readonly anonKib: number;
  readonly fileKib: number;
}

export async function memoryOf(pid: number | 'self'): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { hwmKib: field('VmHWM'), rssKib: field('VmRSS'), anonKib: field('RssAnon'), fileKib: field('RssFile') };
}

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
export async function cpuTicksOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** USER_HZ: clock ticks per second of cpuTicksOf. */
export async function clockTicksPerSecond(): Promise<number> {
  const { stdout } = await execa('getconf', ['CLK_TCK']);
  return Number(stdout.trim()) || 100;
}

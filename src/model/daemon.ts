import type { AddressFamily } from './address.js';

/** The two BIRD 1.6 processes: `bird` routes IPv4, `bird6` IPv6; each has its own files, socket and reloads. */
export type Daemon = 'bird' | 'bird6';

/** Every daemon birdwatch knows; a role runs those of its layout (`daemonsOf`), which is what gets iterated. */
export const DAEMONS: readonly Daemon[] = ['bird', 'bird6'];

export const DAEMON_OF_FAMILY: Readonly<Record<AddressFamily, Daemon>> = { 4: 'bird', 6: 'bird6' };
/** The family whose sessions a daemon's control socket lists (`status`, metrics). */
export const FAMILY_OF_DAEMON: Readonly<Record<Daemon, AddressFamily>> = { bird: 4, bird6: 6 };

/** The file each daemon is started with (`bird -c`); its includes are swapped in before it. */
export const MAIN_FILE: Readonly<Record<Daemon, string>> = { bird: 'bird.cfg', bird6: 'bird6.cfg' };

/** The daemons a layout runs: those whose main file it renders, in DAEMONS order. */
export const daemonsOf = (files: Iterable<string>): Daemon[] => {
  const rendered = new Set(files);
  return DAEMONS.filter((daemon) => rendered.has(MAIN_FILE[daemon]));
};

import type { AddressFamily } from './address.js';

/** The two BIRD 1.6 processes: `bird` routes IPv4, `bird6` IPv6; each has its own files, socket and reloads. */
export type Daemon = 'bird' | 'bird6';

export const DAEMONS: readonly Daemon[] = ['bird', 'bird6'];

export const DAEMON_OF_FAMILY: Readonly<Record<AddressFamily, Daemon>> = { 4: 'bird', 6: 'bird6' };

/** The file each daemon is started with (`bird -c`); its includes are swapped in before it. */
export const MAIN_FILE: Readonly<Record<Daemon, string>> = { bird: 'bird.cfg', bird6: 'bird6.cfg' };

import { accept, refuse, type Validated } from './result.js';

/**
 * How much BIRD logs about its sessions (the keyspace's `loglevel`, global or per host), as Calico set it:
 * `debug` → `debug all;`, `none` → nothing, `info` → `debug { states };`. Not birdwatch's own log level.
 */
export type BirdLogLevel = 'none' | 'debug' | 'info';
/** @internal the fuzz cases draw from it. */
export const BIRD_LOG_LEVELS: readonly BirdLogLevel[] = ['none', 'debug', 'info'];
export const DEFAULT_BIRD_LOG_LEVEL: BirdLogLevel = 'info';

export function parseBirdLogLevel(text: string): Validated<BirdLogLevel> {
  const level = BIRD_LOG_LEVELS.find((candidate) => candidate === text);
  return level ? accept(level) : refuse(`log level must be one of ${BIRD_LOG_LEVELS.join(', ')}`);
}

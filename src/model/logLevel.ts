import { accept, refuse, type Validated } from './result.js';

/** BIRD logging as Calico set it: `debug` → `debug all;`, `none` → nothing, `info` → `debug { states };`. */
export type LogLevel = 'none' | 'debug' | 'info';
export const LOG_LEVELS: readonly LogLevel[] = ['none', 'debug', 'info'];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export function parseLogLevel(text: string): Validated<LogLevel> {
  const level = LOG_LEVELS.find((candidate) => candidate === text);
  return level ? accept(level) : refuse(`log level must be one of ${LOG_LEVELS.join(', ')}`);
}

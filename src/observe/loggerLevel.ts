/** How much birdwatch itself logs (`run --log-level`): pino's levels. BIRD's is model/birdLogLevel.ts. */
export const LOGGER_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LoggerLevel = (typeof LOGGER_LEVELS)[number];

/** Case-insensitive (`WARN`, as calico-node's FELIX_LOGSEVERITY* values are written); undefined when not a level. */
export const loggerLevelOf = (text: string): LoggerLevel | undefined =>
  LOGGER_LEVELS.find((level) => level === text.toLowerCase());

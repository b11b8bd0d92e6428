import { destination, pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevelName;
  /** Human-readable lines (a terminal); otherwise one JSON object per line. */
  readonly pretty: boolean;
  /** Where JSON lines go (default stdout); tests pass a stream. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * pino: structured JSON lines with a `component` field per child logger. Credentials never reach a line:
 * any `password`, `key` material or auth field is redacted wherever it appears.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: undefined,
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'auth', '*.auth', 'credentials', '*.credentials', 'privateKey', '*.privateKey'], censor: '[redacted]' },
  };
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } } });
  }
  return pino(base, options.destination ? (options.destination as DestinationStream) : destination({ sync: true }));
}

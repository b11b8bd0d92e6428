import { destination, pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';
import type { LoggerLevel } from './loggerLevel.js';
import { lineScrubber, redactFields } from './redact.js';
import { escapeLogArguments, escapeLogFields } from './terminalSafeLog.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: LoggerLevel;
  /** Human-readable lines (a terminal); otherwise one JSON object per line. */
  readonly pretty: boolean;
  /** Where JSON lines go (default stdout); tests pass a stream. */
  readonly destination?: NodeJS.WritableStream;
  /** Secret values (the etcd password) that must never appear in a line, whatever field or message holds them. */
  readonly secrets?: readonly (string | undefined)[];
}

/**
 * pino: structured JSON lines with a `component` field per child logger. Credentials never reach a line: any
 * password/secret/token/private-key/auth field is redacted at any depth, and every finished line is scrubbed of
 * PEM private keys and of the known secret values (see redact.ts).
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: undefined,
    timestamp: stdTimeFunctions.isoTime,
    redact: {
      paths: ['password', '*.password', 'auth', '*.auth', 'credentials', '*.credentials', 'privateKey', '*.privateKey'],
      censor: '[redacted]',
    },
    formatters: { log: (object: Record<string, unknown>) => redactFields(object) },
    hooks: { streamWrite: lineScrubber(options.secrets ?? []) },
  };
  if (options.pretty) {
    return pino({
      ...base,
      formatters: { log: (object: Record<string, unknown>) => escapeLogFields(redactFields(object)) },
      hooks: { ...base.hooks, logMethod: escapeLogArguments },
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' },
      },
    });
  }
  return pino(base, options.destination ? (options.destination as DestinationStream) : destination({ sync: true }));
}

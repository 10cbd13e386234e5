import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

/**
 * Paths redacted in every log line. Tokens, secrets and personal data are removed by
 * configuration, so a forgotten field in a log call cannot leak them.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'JWT_SECRET',
  'CLICKHOUSE_PASSWORD',
  'email',
  '*.email',
  'notifyEmail',
  '*.notifyEmail',
];

/** The one logger of a process; modules take `logger.child({ module })`. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.LOG_LEVEL,
      base: { service: 'analytics-reports' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/env.ts';

export type { Logger };

/**
 * JSON logs on stdout. Credentials never reach a log line: the paths below are
 * redacted wherever pino meets them.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'kluis' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.client_secret',
        '*.password',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormatSetting, LogLevel } from '../config/env.ts';

export type { Logger };

/** `json`: one JSON object per line, for log collectors; `pretty`: a readable line per event, for a person. */
export type LogFormat = 'json' | 'pretty';

/**
 * The format for LOG_FORMAT (`config.logFormat`, validated with the rest of the configuration): `json`, `pretty`,
 * or `auto` (the default): pretty when the log goes to a terminal, JSON lines everywhere else (a pipe, a file, a
 * container's log driver).
 */
export function logFormat(setting: LogFormatSetting, terminal: boolean): LogFormat {
  return setting === 'auto' ? (terminal ? 'pretty' : 'json') : setting;
}

/**
 * Where a logger of `format` writes on file descriptor `fd` (1 stdout, 2 stderr): undefined is pino's own JSON
 * writer; pretty lines come from pino-pretty, loaded only then, written synchronously so they keep their order with
 * what the process prints itself (the demo banner).
 */
export async function logDestination(format: LogFormat, fd: 1 | 2 = 1): Promise<DestinationStream | undefined> {
  if (format === 'json') return fd === 1 ? undefined : pino.destination(fd);
  const { default: pretty } = await import('pino-pretty');
  const stream = fd === 1 ? process.stdout : process.stderr;
  return pretty({
    destination: fd,
    sync: true,
    colorize: stream.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
}

/**
 * JSON logs on stdout unless another destination is given. Credentials never reach a log line: the paths below are
 * redacted wherever pino meets them, before any formatting.
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

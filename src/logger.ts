/**
 * JSON logs on stdout (pino). Fields that could carry a secret are redacted
 * wherever they appear, as a second line of defence: code never logs them.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'herald' },
    redact: {
      paths: ['*.webhook_secret', '*.webhookSecret', '*.secret', '*.authorization', '*.password', 'webhook_secret', 'secret', 'authorization'],
      censor: '[redacted]',
    },
  });
}

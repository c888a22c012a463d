import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout, one object per event, as log collectors expect. */
export function createLogger(level: string): Logger {
  return pino({ name: 'jobkeep', level, base: { pid: process.pid } });
}

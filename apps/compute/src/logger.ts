import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout, one object per event, as log collectors (and the tests) read them. */
export function createLogger(level: string): Logger {
  return pino({ name: 'jobkeep-compute', level, base: { pid: process.pid } });
}

import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout, one object per event, as log collectors expect (and as the server logs). */
export function createLogger(level: string, nodeId: string): Logger {
  return pino({ name: 'jobkeep-requester', level, base: { pid: process.pid, nodeId } });
}

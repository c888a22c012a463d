import { JobkeepError } from '@jobkeep/errors';

/**
 * Failures that reconnecting can mend: the server going away or restarting (UNAVAILABLE), a
 * stall it cut off (RESOURCE_EXHAUSTED), and a stream it reset (CANCELLED that this client did
 * not ask for, or an RST_STREAM seen as INTERNAL).
 */
export function isTransient(error: unknown): error is JobkeepError {
  if (!(error instanceof JobkeepError)) return false;
  switch (error.code) {
    case 'UNAVAILABLE':
    case 'RESOURCE_EXHAUSTED':
    case 'CANCELLED':
      return true;
    case 'INTERNAL':
      return error.message.includes('RST_STREAM');
    default:
      return false;
  }
}

/** Exponential backoff with jitter, so that watchers cut off together do not return together. */
export function backoff(failures: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** (failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

import { setTimeout as sleep } from 'node:timers/promises';
import { isJobkeepError } from '@jobkeep/client';

/**
 * Failures that say nothing about the write itself: the server was unreachable, restarting or
 * too slow. The write may or may not have been made; the caller's conditions sort that out.
 */
export function isUnreachable(error: unknown): boolean {
  return isJobkeepError(error) && (error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED');
}

/** How long a step of a run keeps trying to reach the server before giving up on the execution. */
const RETRY_DELAYS_MS = [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000];

/**
 * Calls `attempt` until it does not fail with an unreachable server, or the retries run out.
 * `attempt` is told its number (from 1), so that a repeat can tell that a first try may have landed.
 */
export async function retryWhileUnreachable<T>(attempt: (tries: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt(tries);
    } catch (error) {
      const delay = RETRY_DELAYS_MS[tries - 1];
      if (!isUnreachable(error) || delay === undefined || signal?.aborted) throw error;
      await sleep(delay);
    }
  }
}

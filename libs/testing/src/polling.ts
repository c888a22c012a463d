import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Runs `check` until it neither throws nor returns false, and resolves to what it returned;
 * after `timeoutMs` the last failure is thrown (an assertion's own message, or one naming
 * `what`). For state that other processes change in their own time: tests never assert durations.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'the condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      const result = await check();
      if (result !== false) return result as Exclude<T, false>;
      failure = new Error(`${what} did not hold within ${timeoutMs} ms`);
    } catch (error) {
      failure = error;
    }
    if (Date.now() >= deadline) throw failure;
    await sleep(intervalMs);
  }
}

/** Whether no process has this pid any more (a zombie still counts until its parent reaps it). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

import fs from 'node:fs';
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

/** Whether no process runs under this pid any more: none has it, or it is a zombie waiting to be reaped. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return isZombie(pid);
}

/**
 * A killed process whose parent already exited waits for PID 1 to reap it, and some container
 * inits reap late: until then it is a zombie, which runs nothing and holds nothing but its pid.
 */
function isZombie(pid: number): boolean {
  try {
    // The state follows the command name, which is in parentheses and may itself hold spaces.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone between the signal and the read
  }
}

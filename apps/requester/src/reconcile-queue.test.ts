import { describe, expect, it } from 'vitest';
import { ReconcileQueue } from './reconcile-queue.js';

/** A reconcile that waits until the test lets it finish. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('ReconcileQueue', () => {
  it('runs one reconcile at a time per job and folds the marks that come meanwhile into one more', async () => {
    const runs: string[] = [];
    const first = gate();
    let active = 0;
    let most = 0;
    const queue = new ReconcileQueue({
      concurrency: 4,
      reconcile: async (jobId) => {
        runs.push(jobId);
        most = Math.max(most, ++active);
        if (runs.length === 1) await first.opened;
        active--;
      },
    });
    const done = queue.mark('j1');
    const later = [queue.mark('j1'), queue.mark('j1'), queue.mark('j1')];
    first.open();
    await done;
    await Promise.all(later);
    expect(runs).toEqual(['j1', 'j1']);
    expect(most).toBe(1);
  });

  it('runs at most `concurrency` jobs at once', async () => {
    let active = 0;
    let most = 0;
    const queue = new ReconcileQueue({
      concurrency: 3,
      reconcile: async () => {
        most = Math.max(most, ++active);
        await new Promise((resolve) => setImmediate(resolve));
        active--;
      },
    });
    await Promise.all(Array.from({ length: 20 }, (_, index) => queue.mark(`j${index}`)));
    expect(most).toBe(3);
  });

  it('keeps a revision pending until a reconcile that started after it succeeds, and retries failures', async () => {
    const failOnce = new Set(['j2']);
    const errors: string[] = [];
    const second = gate();
    let j2Runs = 0;
    const queue = new ReconcileQueue({
      concurrency: 4,
      initialBackoffMs: 1,
      reconcile: async (jobId) => {
        if (jobId !== 'j2') return;
        j2Runs++;
        if (failOnce.delete(jobId)) throw new Error('server unavailable');
        second.open();
      },
      onError: (jobId) => errors.push(jobId),
    });
    expect(queue.lowestPendingRevision()).toBeUndefined();
    const j1 = queue.mark('j1', 5n);
    const j2 = queue.mark('j2', 7n);
    expect(queue.lowestPendingRevision()).toBe(5n);
    await j1;
    await j2;
    // j2 failed: its revision is still to act on.
    expect(errors).toEqual(['j2']);
    expect(queue.lowestPendingRevision()).toBe(7n);
    await second.opened;
    await queue.stop();
    expect(j2Runs).toBe(2);
    expect(queue.lowestPendingRevision()).toBeUndefined();
  });

  it('starts nothing once stopped', async () => {
    const runs: string[] = [];
    const queue = new ReconcileQueue({ concurrency: 1, reconcile: async (jobId) => void runs.push(jobId) });
    await queue.stop();
    await queue.mark('j1', 1n);
    expect(runs).toEqual([]);
    expect(queue.lowestPendingRevision()).toBeUndefined();
  });
});

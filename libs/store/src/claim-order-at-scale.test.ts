import { describe, expect, it } from 'vitest';
import { MAX_BATCH_JOBS } from './batch-store.js';
import { checkNodeDatabase } from './consistency-check.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'requester-1';

/**
 * The order of a deep queue, claim by claim. Its files live on tmpfs where there is one: the
 * test is about order, and 100,000 claims, each its own durable transaction, would spend minutes
 * waiting for the disk. Durability of claims is the SIGKILL tests' subject (claim-recovery).
 */
describe('a queue of 100,000 jobs', () => {
  const temp = useTempStorage('perTest', { memoryFilesystem: true });

  it(
    'hands out every job in exact priority-then-age order, and then nothing',
    async () => {
      const storage = temp.open();
      const total = 100_000;
      // 101 priorities from -50 to 50, spread so that neighbours in age differ in priority.
      const priorityOf = (index: number) => ((index * 7919) % 101) - 50;
      const ids: string[] = [];
      for (let start = 0; start < total; start += MAX_BATCH_JOBS) {
        const jobs = Array.from({ length: MAX_BATCH_JOBS }, (_, offset) => ({ state: 'QUEUED' as const, priority: priorityOf(start + offset) }));
        ids.push(...(await storage.batches.createBatch(NODE, { jobs })).jobIds);
      }
      expect(ids).toHaveLength(total);
      const expected = ids
        .map((id, age) => ({ id, age, priority: priorityOf(age) }))
        .sort((a, b) => b.priority - a.priority || a.age - b.age)
        .map(({ id }) => id);

      const lease = await storage.leaseStore.grant(3600);
      const claimed: string[] = [];
      for (;;) {
        const { job } = await storage.workQueues.claimJob(NODE, { queue: '', leaseId: lease.id });
        if (job === undefined) break;
        claimed.push(job.id);
      }
      expect(claimed).toHaveLength(total);
      // One by one, so that a failure names the first claim out of order rather than printing 100,000 lines.
      const firstOutOfOrder = claimed.findIndex((id, position) => id !== expected[position]);
      expect(firstOutOfOrder, `claim #${firstOutOfOrder} is out of order`).toBe(-1);

      const { items } = await storage.batches.listBatches(NODE, {});
      expect(items.map((batch) => batch.counts)).toEqual(Array.from({ length: 10 }, () => ({ RUNNING: MAX_BATCH_JOBS })));
      expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', NODE))).toEqual([]);
    },
    600_000,
  );
});

import { describe, expect, it } from 'vitest';
import { CommitNotifier } from './commit-notifier.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

describe('CommitNotifier', () => {
  it('tells the listeners of one kind and node, and forgets a database once nobody listens', () => {
    const notifier = new CommitNotifier();
    const heard: string[] = [];
    const stopA = notifier.subscribe('requester', 'a', () => heard.push('a1'));
    const stopA2 = notifier.subscribe('requester', 'a', () => heard.push('a2'));
    notifier.subscribe('compute', 'a', () => heard.push('compute-a'));
    notifier.notify('requester', 'a');
    notifier.notify('requester', 'b');
    expect(heard).toEqual(['a1', 'a2']);
    stopA();
    stopA();
    notifier.notify('requester', 'a');
    expect(heard).toEqual(['a1', 'a2', 'a2']);
    stopA2();
    expect(notifier.size).toBe(1);
  });

  it('keeps telling the others when one listener throws', () => {
    const notifier = new CommitNotifier();
    let heard = 0;
    notifier.subscribe('requester', 'a', () => {
      throw new Error('listener bug');
    });
    notifier.subscribe('requester', 'a', () => heard++);
    expect(() => notifier.notify('requester', 'a')).not.toThrow();
    expect(heard).toBe(1);
  });
});

describe('commit notifications from the storage', () => {
  const temp = useTempStorage();

  it('come after each committed write, not after a failed one, and survive LRU eviction', async () => {
    const storage = temp.open({ maxOpenDatabases: 1 });
    let commits = 0;
    const stop = storage.jobHistory.onCommit('node-a', () => commits++);
    const job = (await storage.jobStore.createJob('node-a', { state: 'QUEUED' })).job;
    expect(commits).toBe(1);

    await rejection(storage.jobStore.updateJobState('node-a', { jobId: job.id, newState: 'RUNNING', expectedRevision: 99 }), 'FAILED_PRECONDITION');
    expect(commits).toBe(1);

    // node-b's database takes the only open slot, closing node-a's; its commits are not node-a's.
    await storage.jobStore.createJob('node-b', {});
    expect(commits).toBe(1);
    await storage.jobStore.updateJobState('node-a', { jobId: job.id, newState: 'RUNNING' });
    expect(commits).toBe(2);

    stop();
    await storage.jobStore.updateJobState('node-a', { jobId: job.id, newState: 'COMPLETED' });
    expect(commits).toBe(2);
  });

  it('keep the kinds apart', async () => {
    const storage = temp.open();
    let requester = 0;
    let compute = 0;
    storage.jobHistory.onCommit('node-a', () => requester++);
    storage.executionHistory.onCommit('node-a', () => compute++);
    await storage.executionStore.createExecution('node-a', { jobId: 'j-1', requesterNodeId: 'req-1' });
    expect([requester, compute]).toEqual([0, 1]);
  });
});

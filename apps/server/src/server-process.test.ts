import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { JobState } from '@jobkeep/api';
import { createJobStoreClient } from '@jobkeep/client';
import { describe, expect, it } from 'vitest';
import { SERVER_MAIN, useServerProcesses } from './test-support/server-processes.js';

describe('the server process', () => {
  const { launch, tempDir } = useServerProcesses();

  it('documents every setting, with its environment variable, in --help', () => {
    const help = spawnSync(process.execPath, [SERVER_MAIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const text of ['--listen', 'JOBKEEP_LISTEN', '127.0.0.1:7420', '--data-dir', 'JOBKEEP_DATA_DIR', 'JOBKEEP_JOB_STORE_PATH', 'JOBKEEP_COMPUTE_STORE_PATH', '--log-level']) {
      expect(help.stdout).toContain(text);
    }
  });

  it('serves from its environment settings, logs JSON, and stops cleanly on SIGTERM with its data intact', async () => {
    const dataDir = tempDir();
    const first = launch([], { JOBKEEP_LISTEN: '127.0.0.1:0', JOBKEEP_DATA_DIR: dataDir });
    const { address } = await first.waitFor('jobkeep serving');
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);

    const client = createJobStoreClient(address!);
    const { job } = await client.createJob({ nodeId: 'proc-1', job: { name: 'persisted' } });
    client.close();

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['signal received', 'jobkeep stopped']));
    for (const file of ['coordination.db', 'proc-1-requester.db']) {
      const db = new Database(path.join(dataDir, file), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    }

    const second = launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    const restarted = await second.waitFor('jobkeep serving');
    const again = createJobStoreClient(restarted.address!);
    expect((await again.getJob({ nodeId: 'proc-1', key: { case: 'name', value: 'persisted' } })).job).toEqual(job);
    again.close();
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('loses no acknowledged write when killed with SIGKILL in the middle of writing', async () => {
    const dataDir = tempDir();
    const server = launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    const { address } = await server.waitFor('jobkeep serving');
    const client = createJobStoreClient(address!, { retries: false });
    const acknowledged: string[] = [];
    let stop = false;
    const writer = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const { job } = await client.createJob({ nodeId: 'crash', job: { name: `w${worker}-${i}`, spec: { payload: 'x'.repeat(512) } } });
          acknowledged.push(job!.id);
        } catch {
          return; // the server is gone: this write was never acknowledged
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, worker) => writer(worker));
    while (acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 5));
    server.child.kill('SIGKILL');
    await server.exited;
    stop = true;
    await Promise.all(writers);
    client.close();

    for (const file of ['coordination.db', 'crash-requester.db']) {
      const db = new Database(path.join(dataDir, file));
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    }
    const restarted = launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    const again = createJobStoreClient((await restarted.waitFor('jobkeep serving')).address!);
    for (const id of acknowledged) {
      expect((await again.getJob({ nodeId: 'crash', key: { case: 'id', value: id } })).job?.id).toBe(id);
    }
    const history = await again.getJobHistory({ nodeId: 'crash', pageSize: 1000 });
    expect(history.events.length).toBeGreaterThanOrEqual(acknowledged.length);
    again.close();
  });

  it('applies retention periodically, deleting only what the policy names, and logs what it did', async () => {
    const dataDir = tempDir();
    const server = launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--retention-interval-ms', '200'], {
      JOBKEEP_JOB_RETENTION: 'CANCELLED=delete:100ms',
    });
    const client = createJobStoreClient((await server.waitFor('jobkeep serving')).address!);
    const { job: doomed } = await client.createJob({ nodeId: 'kept', job: {} });
    await client.updateJobState({ nodeId: 'kept', jobId: doomed!.id, newState: JobState.CANCELLED });
    const { job: running } = await client.createJob({ nodeId: 'kept', job: { state: JobState.QUEUED } });
    await client.updateJobState({ nodeId: 'kept', jobId: running!.id, newState: JobState.RUNNING });

    const applied = await server.waitFor('retention applied');
    expect(applied.deleted).toEqual({ CANCELLED: 1 });
    await expect(client.getJob({ nodeId: 'kept', key: { case: 'id', value: doomed!.id } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await client.getJob({ nodeId: 'kept', key: { case: 'id', value: running!.id } })).job?.state).toBe(JobState.RUNNING);
    // The deleted job's history was compacted with it: a watch from before that point is refused.
    const watchFromStart = async () => {
      for await (const message of client.watchJobs({ nodeId: 'kept', fromRevision: 1n })) void message;
    };
    await expect(watchFromStart()).rejects.toMatchObject({
      code: 'OUT_OF_RANGE',
      message: expect.stringContaining('the oldest available revision is'),
    });
    client.close();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('refuses to start on a data directory written by a newer jobkeep, saying why', async () => {
    const dataDir = tempDir();
    const db = new Database(path.join(dataDir, 'coordination.db'));
    db.pragma('user_version = 77');
    db.close();
    const server = launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    expect(await server.exited).toBe(1);
    const fatal = server.lines.find((line) => line.msg === 'jobkeep could not start');
    expect(fatal?.err?.message).toContain('schema version 77');
  });

  it('rejects a malformed --listen before doing anything', () => {
    const dataDir = tempDir();
    const result = spawnSync(process.execPath, [SERVER_MAIN, '--listen', 'nowhere', '--data-dir', dataDir], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('host:port');
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExecutionState, JobState } from '@jobkeep/api';
import { eventually, processGone } from '@jobkeep/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUESTER, useCluster } from './cluster-fixture.js';

describe('cancelled and failing commands', () => {
  const startCluster = useCluster();
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('cancel stops a running command: the job is CANCELLED and its process is gone', async () => {
    const { cluster, jobs, executions } = await startCluster();
    await cluster.startCompute({ id: 'compute-1', slots: 2 });
    await cluster.startRequester(REQUESTER);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-e2e-'));
    dirs.push(dir);
    const pidFile = path.join(dir, 'pid');
    // A command that says who it is, then would run for a minute.
    const program = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 60000)`;
    const { job } = await jobs.createJob({ nodeId: REQUESTER, job: { spec: { executor: 'exec', argv: [process.execPath, '-e', program] } } });

    await eventually(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8') !== '', { timeoutMs: 30_000, what: 'the command starting' });
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(processGone(pid)).toBe(false);

    const cancelled = await cluster.requesterCommand(REQUESTER, ['cancel', job!.id]);
    expect(cancelled.code).toBe(0);
    await eventually(() => processGone(pid), { timeoutMs: 15_000, what: `the command (pid ${pid}) ending` });
    expect((await jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: job!.id } })).job?.state).toBe(JobState.CANCELLED);
    await eventually(
      async () => (await executions.listExecutions({ nodeId: 'compute-1', jobId: job!.id })).executions.every((execution) => execution.state === ExecutionState.CANCELLED),
      { timeoutMs: 15_000, what: 'the execution CANCELLED on the compute node' },
    );
  });

  it('a failing command is retried, then FAILED, with its exit code and stderr tail in status', async () => {
    const { cluster, jobs } = await startCluster();
    await cluster.startCompute({ id: 'compute-1', slots: 2 });
    await cluster.startCompute({ id: 'compute-2', slots: 2 });
    await cluster.startRequester(REQUESTER);
    const program = "console.error('disk full: cannot write /out/result'); process.exit(3)";
    const { job } = await jobs.createJob({
      nodeId: REQUESTER,
      job: { spec: { executor: 'exec', argv: [process.execPath, '-e', program] }, retryPolicy: { maxRetries: 1, backoffMs: 100 } },
    });

    await eventually(
      async () => (await jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: job!.id } })).job?.state === JobState.FAILED,
      { timeoutMs: 60_000, what: 'the job FAILED' },
    );
    const { executions } = await jobs.listExecutions({ nodeId: REQUESTER, jobId: job!.id });
    expect(executions).toHaveLength(2);
    const failed = await jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: job!.id } });
    expect(failed.job?.retryCount).toBe(1);

    const status = await cluster.requesterCommand(REQUESTER, ['status', job!.id, '--json']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/exit.?code"?\s*[:=]\s*3/i);
    expect(status.stdout).toContain('disk full: cannot write /out/result');
    const human = await cluster.requesterCommand(REQUESTER, ['status', job!.id]);
    expect(human.stdout).toContain('FAILED');
    expect(human.stdout).toContain('disk full: cannot write /out/result');
  });
});

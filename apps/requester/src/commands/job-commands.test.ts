import fs from 'node:fs';
import path from 'node:path';
import { JobState } from '@jobkeep/api';
import { createJobStoreClient } from '@jobkeep/client';
import { launchServer, useNodeProcesses } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import { requesterJson, runRequester } from '../test-support/requester-processes.js';
import type { JobStatus } from './status.js';
import type { JobView } from './views.js';

describe('jobkeep-requester submit, list, status and cancel', () => {
  const processes = useNodeProcesses();

  /** A server, and the requester's command line pointed at it through the environment. */
  async function setup() {
    const dir = processes.tempDir();
    const { address } = await launchServer(processes, path.join(dir, 'data'));
    const env = { JOBKEEP_SERVER: address, JOBKEEP_NODE_ID: 'req-1' };
    const cli = (...args: string[]) => runRequester(args, env);
    const write = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const jobs = createJobStoreClient(address);
    const stored = async (id: string) => {
      const { job } = await jobs.getJob({ nodeId: 'req-1', key: { case: 'id', value: id } });
      return job!;
    };
    return { dir, address, cli, write, jobs, stored };
  }

  it('submits PENDING jobs from a JSON file, a YAML file and flags, into the requester’s own database', async () => {
    const { address, cli, write, jobs, stored } = await setup();
    const json = write(
      'nightly.json',
      JSON.stringify({
        name: 'nightly',
        labels: { team: 'data' },
        queue: 'ingest',
        priority: 7,
        spec: { executor: 'exec', argv: ['echo', 'hi'], constraints: { zone: 'a' } },
        retry: { maxRetries: 1, backoffMs: 250 },
      }),
    );
    const yaml = write('sleepy.yaml', 'name: sleepy\nspec:\n  executor: sleep\n  sleepMs: 100\n');

    const fromJson = await cli('submit', '--file', json);
    expect(fromJson.code).toBe(0);
    const jsonJob = await stored(fromJson.stdout.trim());
    expect(jsonJob).toMatchObject({
      name: 'nightly',
      state: JobState.PENDING,
      labels: { team: 'data' },
      queue: 'ingest',
      priority: 7,
      spec: { executor: 'exec', argv: ['echo', 'hi'], constraints: { zone: 'a' } },
      retryPolicy: { maxRetries: 1, backoffMs: 250 },
    });

    const [yamlJob] = (await requesterJson<{ jobs: JobView[] }>(['submit', '--server', address, '--node-id', 'req-1', '-f', yaml])).jobs;
    expect(yamlJob).toMatchObject({ name: 'sleepy', state: 'PENDING', spec: { executor: 'sleep', sleepMs: 100 } });

    const fromFlags = await cli('submit', '--name', 'hello', '--label', 'team=web', '--max-retries', '2', '--env', 'GREETING=a,b', '--', 'sh', '-c', 'echo $GREETING');
    expect(fromFlags.code).toBe(0);
    expect(await stored(fromFlags.stdout.trim())).toMatchObject({
      name: 'hello',
      labels: { team: 'web' },
      spec: { executor: 'exec', argv: ['sh', '-c', 'echo $GREETING'], env: { GREETING: 'a,b' } },
      retryPolicy: { maxRetries: 2 },
    });

    const copies = await cli('submit', '--count', '3', '--executor', 'noop');
    expect(copies.stdout.trim().split('\n')).toHaveLength(3);
    const { jobs: listed } = await jobs.listJobs({ nodeId: 'req-1' });
    expect(listed.map((job) => job.state)).toEqual(Array(6).fill(JobState.PENDING));
    jobs.close();
  });

  it('refuses bad job files and flags with a clear message, a non-zero exit and nothing created', async () => {
    const { dir, cli, write } = await setup();
    const cases: [string[], RegExp][] = [
      [['submit', '-f', write('bad.yaml', 'spec: { executor: docker }')], /bad\.yaml: spec\.executor must be one of exec, sleep, noop, not "docker" \(INVALID_ARGUMENT\)/],
      [['submit', '-f', write('typo.json', '{"nmae": "x", "spec": {"argv": ["true"]}}')], /typo\.json: the job has unknown field "nmae".*\(INVALID_ARGUMENT\)/],
      [['submit', '-f', path.join(dir, 'missing.yaml')], /cannot read the job file .*missing\.yaml/],
      [['submit', '--max-retries', 'many', '--', 'true'], /--max-retries.*whole number/],
      [['submit', '--executor', 'docker'], /--executor.*docker.*choices/i],
    ];
    for (const [args, message] of cases) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    }
    // The requester's database was never even created.
    const list = await cli('list');
    expect(list.code).not.toBe(0);
    expect(list.stderr).toMatch(/NOT_FOUND/);
  });

  it('needs a requester node id', async () => {
    const { address } = await setup();
    const result = await runRequester(['submit', '--server', address, '--', 'true'], { JOBKEEP_NODE_ID: '' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--node-id');
  });

  // Eleven CLI processes one after another: about 6 s alone, over 20 s on a loaded CI machine.
  it('lists, shows and cancels jobs, as tables or JSON', { timeout: 60_000 }, async () => {
    const { address, cli } = await setup();
    const common = ['--server', address, '--node-id', 'req-1'];
    const [first, second] = (await requesterJson<{ jobs: JobView[] }>(['submit', ...common, '--count', '2', '--name', 'demo', '--executor', 'noop'])).jobs;

    // Ids are time-ordered: jobs made together share their first characters. A prefix they
    // share names no job; one character past it names the first.
    let shared = 0;
    while (first!.id[shared] === second!.id[shared]) shared++;
    const ambiguous = await cli('cancel', first!.id.slice(0, shared));
    expect(ambiguous.code).not.toBe(0);
    expect(ambiguous.stderr).toMatch(/is ambiguous: it matches .* give more characters \(INVALID_ARGUMENT\)/);
    const cancel = await cli('cancel', first!.id.slice(0, shared + 1));
    expect(cancel).toMatchObject({ code: 0, stdout: `${first!.id} CANCELLED\n` });

    const all = await requesterJson<{ jobs: JobView[] }>(['list', ...common]);
    expect(all.jobs.map((job) => [job.name, job.state])).toEqual([
      ['demo-2', 'PENDING'],
      ['demo-1', 'CANCELLED'],
    ]);
    const pending = await requesterJson<{ jobs: JobView[] }>(['list', ...common, '--state', 'pending,queued', '--limit', '5']);
    expect(pending.jobs.map((job) => job.id)).toEqual([second!.id]);
    const table = await cli('list', '--state', 'CANCELLED');
    expect(table.stdout).toContain(first!.id);
    expect(table.stdout).toContain('cancelled by user');
    expect(table.stdout).not.toContain(second!.id);

    const status = await requesterJson<JobStatus>(['status', ...common, first!.id]);
    expect(status).toEqual({
      job: expect.objectContaining({ id: first!.id, state: 'CANCELLED', message: 'cancelled by user', retryCount: 0, maxRetries: 3 }),
      executions: [],
      latestRun: null,
    });
    const shown = await cli('status', second!.id);
    expect(shown.stdout).toMatch(/State\s+│ PENDING/);

    const unknown = await cli('status', 'j-nope');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no job j-nope \(NOT_FOUND\)/);
    const badState = await cli('list', '--state', 'sleeping');
    expect(badState.code).not.toBe(0);
    expect(badState.stderr).toContain('unknown job state "sleeping"');
  });
});

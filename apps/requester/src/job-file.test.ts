import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobkeepError } from '@jobkeep/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobRequests, jobFromFileAndFlags, jobToSubmit, parseJobDocument, readJobFile } from './job-file.js';

describe('job files and flags', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  function file(name: string, text: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-job-file-'));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  }
  const invalid = (message: string | RegExp) => expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });

  it('reads the same job from JSON and from YAML', () => {
    const job = {
      name: 'nightly',
      namespace: 'etl',
      labels: { team: 'data' },
      queue: 'ingest',
      priority: 5,
      spec: { executor: 'exec', argv: ['echo', 'hi'], env: { A: '1' }, timeoutMs: 5000, constraints: { zone: 'a' } },
      retry: { maxRetries: 2, backoffMs: 100 },
    };
    const yaml = [
      'name: nightly',
      'namespace: etl',
      'labels: { team: data }',
      'queue: ingest',
      'priority: 5',
      'spec:',
      '  executor: exec',
      '  argv: [echo, hi]',
      '  env: { A: "1" }',
      '  timeoutMs: 5000',
      '  constraints: { zone: a }',
      'retry: { maxRetries: 2, backoffMs: 100 }',
    ].join('\n');
    const fromJson = jobToSubmit(file('job.json', JSON.stringify(job)), {}, []);
    expect(fromJson).toEqual(job);
    expect(jobToSubmit(file('job.yaml', yaml), {}, [])).toEqual(fromJson);
  });

  it('lets flags and a command override the file', () => {
    const document = parseJobDocument({ name: 'a', labels: { x: '1' }, spec: { executor: 'exec', argv: ['true'], env: { A: '1' } }, retry: { maxRetries: 5 } });
    const input = jobFromFileAndFlags(document, { name: 'b', label: { y: '2' }, env: { B: '2' }, maxRetries: 1, backoffMs: 10 }, ['echo', 'hi']);
    expect(input).toEqual({
      name: 'b',
      labels: { x: '1', y: '2' },
      spec: { executor: 'exec', argv: ['echo', 'hi'], env: { A: '1', B: '2' } },
      retry: { maxRetries: 1, backoffMs: 10 },
    });
  });

  it('builds a job from flags alone', () => {
    expect(jobFromFileAndFlags(undefined, {}, ['echo', 'hi'])).toEqual({ spec: { executor: 'exec', argv: ['echo', 'hi'] } });
    expect(jobFromFileAndFlags(undefined, { executor: 'sleep', sleepMs: 100, constraint: { zone: 'b' } }, [])).toEqual({
      spec: { executor: 'sleep', sleepMs: 100, constraints: { zone: 'b' } },
    });
  });

  it('makes CreateJob requests in the requester database, numbering the names of copies', () => {
    const input = jobFromFileAndFlags(undefined, { name: 'demo', maxRetries: 2 }, ['true']);
    expect(createJobRequests(input, 'req-1', 2).map((request) => [request.nodeId, request.job!.name, request.job!.retryPolicy])).toEqual([
      ['req-1', 'demo-1', { maxRetries: 2 }],
      ['req-1', 'demo-2', { maxRetries: 2 }],
    ]);
    expect(createJobRequests(input, 'req-1')[0]!.job).toMatchObject({ name: 'demo', spec: { executor: 'exec', argv: ['true'] } });
  });

  it('refuses bad job files with INVALID_ARGUMENT naming the file and what is wrong', () => {
    const check = (name: string, text: string, message: RegExp) => {
      const where = file(name, text);
      expect(() => jobToSubmit(where, {}, [])).toThrow(JobkeepError);
      try {
        jobToSubmit(where, {}, []);
      } catch (error) {
        expect(error).toEqual(invalid(message));
        expect((error as Error).message).toContain(where);
      }
    };
    check('unknown.json', '{"name": "x", "spce": {}}', /unknown field "spce"/);
    check('executor.yaml', 'spec: { executor: docker }', /spec\.executor must be one of exec, sleep, noop/);
    check('argv.yaml', 'spec: { executor: exec }', /spec\.argv must name the program/);
    check('spec-key.yaml', 'spec: { executor: sleep, sleepMS: 5 }', /spec has unknown field "sleepMS"/);
    check('priority.json', '{"priority": 1.5, "spec": {"argv": ["x"]}}', /priority must be a whole number/);
    check('retry.json', '{"retry": {"maxRetries": -1}, "spec": {"argv": ["x"]}}', /retry\.maxRetries must be a whole number/);
    check('list.yaml', '- a\n- b\n', /the job must be an object/);
    check('broken.json', '{"name": ', /is not valid JSON/);
    check('broken.yaml', 'spec: [unclosed', /is not valid YAML/);
  });

  it('says what is missing when there is nothing to run, or a file cannot be read', () => {
    expect(() => jobFromFileAndFlags(undefined, {}, [])).toThrow(invalid(/nothing to run/));
    expect(() => jobFromFileAndFlags(undefined, { executor: 'sleep' }, ['echo'])).toThrow(invalid(/command after -- is for the exec executor/));
    expect(() => readJobFile(path.join(os.tmpdir(), 'no-such-job-file.yaml'))).toThrow(invalid(/cannot read the job file/));
  });
});

import { create, type DescField, type DescMessage, type DescMethod, type MessageInitShape, type DescService } from '@bufbuild/protobuf';
import {
  AdminService,
  CheckpointStore,
  ExecutionStore,
  Health,
  JobState,
  JobType,
  JobStore,
  LeaseService,
  LockService,
  NodeRegistry,
} from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { checkRequest, VALIDATED_SERVICES } from './request-validation.js';
import { pageSize, pageToken, type Rule } from './request-rules.js';

const SERVED = [JobStore, ExecutionStore, CheckpointStore, NodeRegistry, LeaseService, LockService, AdminService];
const LIMITS = { maxSpecBytes: 1000, maxBlobBytes: 2000 };

/** Every field of `desc` (nested ones too) that has no rule, or a rule that does not fit it. */
function uncovered(desc: DescMessage, rules: Readonly<Record<string, Rule>>, path: string): string[] {
  const problems: string[] = [];
  const members = new Set(desc.members.map((member) => member.localName));
  for (const name of Object.keys(rules)) if (!members.has(name)) problems.push(`${path}${name}: a rule for a field ${desc.typeName} does not have`);
  for (const member of desc.members) {
    const rule = rules[member.localName];
    const at = `${path}${member.name}`;
    if (rule === undefined) {
      problems.push(`${at}: no rule`);
    } else if (member.kind === 'oneof') {
      if (rule.kind !== 'oneof') problems.push(`${at}: a oneof needs a oneof rule, not ${rule.kind}`);
      else for (const field of member.fields) problems.push(...fieldUncovered(field, rule.members[field.localName], `${path}${field.name}`));
    } else {
      problems.push(...fieldUncovered(member, rule, at));
    }
  }
  return problems;
}

function fieldUncovered(field: DescField, rule: Rule | undefined, at: string): string[] {
  if (rule === undefined) return [`${at}: no rule`];
  if (rule.kind === 'ignored') return [];
  if (field.fieldKind === 'list') {
    if (rule.kind !== 'repeated') return [`${at}: a repeated field needs a repeated rule, not ${rule.kind}`];
    if (field.listKind === 'message') return messageUncovered(field.message, rule.element, `${at}[]`);
    return rule.element.kind === 'value' ? [] : [`${at}[]: a ${field.listKind} needs a value rule`];
  }
  if (field.fieldKind === 'message') return messageUncovered(field.message, rule, at);
  return rule.kind === 'value' ? [] : [`${at}: a ${field.fieldKind} field needs a value rule, not ${rule.kind}`];
}

/** A well-known type is checked as a whole (a spec, a time, a field mask); jobkeep's own messages field by field. */
function messageUncovered(desc: DescMessage, rule: Rule, at: string): string[] {
  if (desc.typeName.startsWith('google.protobuf.')) return rule.kind === 'value' ? [] : [`${at}: ${desc.typeName} needs a value rule`];
  if (rule.kind !== 'message') return [`${at}: ${desc.typeName} needs a message rule, not ${rule.kind}`];
  return uncovered(desc, rule.fields, `${at}.`);
}

function rulesOf(service: DescService): Readonly<Record<string, Readonly<Record<string, Rule>>>> | undefined {
  return VALIDATED_SERVICES.find(([validated]) => validated === service)?.[1];
}

/** The INVALID_ARGUMENT message a request of `method` gets, or undefined when it passes. */
function refusal<M extends DescMethod>(method: M, request: MessageInitShape<M['input']>, limits = LIMITS): string | undefined {
  try {
    checkRequest(method, create(method.input, request), limits);
    return undefined;
  } catch (error) {
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    return (error as Error).message;
  }
}

describe('request rules', () => {
  it.each(SERVED.map((service) => [service.typeName, service] as const))('cover every field of every request of %s, nested ones too', (_, service) => {
    const rules = rulesOf(service);
    expect(rules, `${service.typeName} has no request rules`).toBeDefined();
    const problems = service.methods.flatMap((method) => {
      const methodRules = rules![method.localName];
      return methodRules === undefined ? [`${method.name}: no rules`] : uncovered(method.input, methodRules, `${method.name}: `);
    });
    expect(problems).toEqual([]);
  });

  it('bound the page of every list: each method answering pages takes page_size and page_token with their rules', () => {
    const paged = SERVED.flatMap((service) =>
      service.methods
        .filter((method) => method.output.fields.some((field) => field.name === 'next_page_token'))
        .map((method) => [method.name, rulesOf(service)![method.localName]!] as const),
    );
    expect(paged.length).toBeGreaterThanOrEqual(12);
    for (const [name, rules] of paged) expect([name, rules.pageSize, rules.pageToken]).toEqual([name, pageSize(), pageToken()]);
  });

  it('are seen to be missing, at any depth, by the coverage check above', () => {
    const createJob = rulesOf(JobStore)!.createJob!;
    const job = createJob.job as Extract<Rule, { kind: 'message' }>;
    const { requestId: _requestId, ...withoutRequestId } = createJob;
    const { spec: _spec, ...jobWithoutSpec } = job.fields;
    const rules = { ...withoutRequestId, job: { ...job, fields: jobWithoutSpec }, extra: createJob.nodeId! };
    expect(uncovered(JobStore.method.createJob.input, rules, '')).toEqual([
      'extra: a rule for a field jobkeep.v1.CreateJobRequest does not have',
      'job.spec: no rule',
      'request_id: no rule',
    ]);
  });

  it('fail closed for a method without rules', () => {
    expect(() => checkRequest(Health.method.check, create(Health.method.check.input, {}), LIMITS)).toThrow(
      expect.objectContaining({ code: 'INTERNAL', message: 'grpc.health.v1.Health.Check has no request rules' }),
    );
  });

  it('pass a request whose every field is valid, output-only fields included', () => {
    expect(
      refusal(JobStore.method.createJob, {
        nodeId: 'requester-1',
        job: {
          name: 'nightly',
          labels: { team: 'data' },
          spec: { image: 'etl:1' },
          state: JobState.QUEUED,
          retryPolicy: { maxRetries: 2, backoffMs: 10 },
          revision: 99n,
          claim: { leaseId: 5n },
        },
        requestId: 'r-1',
        lockGuard: { lockName: '/locks/etl', fencingToken: 3n },
      }),
    ).toBeUndefined();
  });

  it('name the field of a nested message or a list element by its path', () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, index) => [`k${index}`, 'v']));
    expect(refusal(JobStore.method.createJob, { nodeId: 'requester-1', job: { labels } })).toBe('job.labels: a job has at most 64 labels, not 65');
    expect(refusal(JobStore.method.createBatch, { nodeId: 'requester-1', jobs: [{}, {}, { spec: { x: 'a'.repeat(1000) } }] })).toBe(
      'jobs[2].spec is 1008 bytes as JSON; the limit is 1000',
    );
    expect(refusal(JobStore.method.createJob, { nodeId: 'requester-1', job: { retryPolicy: { backoffMs: 10, maxBackoffMs: 5 } } })).toBe(
      'job.retry_policy.max_backoff_ms (5) must be at least job.retry_policy.backoff_ms (10)',
    );
    expect(refusal(JobStore.method.createJob, { nodeId: 'requester-1', job: {}, lockGuard: { fencingToken: 3n } })).toBe('lock_guard.lock_name is required');
  });

  it('check sizes against the limits they are given', () => {
    const put = { nodeId: 'compute-1', kind: 2, name: 'state' };
    expect(refusal(CheckpointStore.method.putCheckpoint, { ...put, data: new Uint8Array(2000) })).toBeUndefined();
    expect(refusal(CheckpointStore.method.putCheckpoint, { ...put, data: new Uint8Array(2001) })).toBe('data is 2001 bytes; the limit is 2000');
    expect(refusal(CheckpointStore.method.putCheckpoint, { ...put, data: new Uint8Array(2001) }, { ...LIMITS, maxBlobBytes: 4096 })).toBeUndefined();
  });

  it('refuse unknown, missing and disallowed enum values, and more values than an enum has', () => {
    expect(refusal(JobStore.method.updateJobState, { nodeId: 'n', jobId: 'j' })).toBe(
      'new_state is required: one of PENDING, QUEUED, RUNNING, HELD, COMPLETED, FAILED, CANCELLED',
    );
    expect(refusal(JobStore.method.createJob, { nodeId: 'n', job: { type: 9 as JobType } })).toBe('job.type has no value 9: use one of BATCH, SERVICE, OPS, DAEMON');
    expect(refusal(JobStore.method.createJob, { nodeId: 'n', job: { state: JobState.RUNNING } })).toBe('job.state must be one of PENDING, QUEUED, HELD, not RUNNING');
    expect(refusal(JobStore.method.listJobs, { nodeId: 'n', states: [1, 0] })).toMatch(/^states\[1\] is required/);
    expect(refusal(JobStore.method.listJobs, { nodeId: 'n', states: [1, 2, 3, 4, 5, 6, 7, 1] })).toBe('states holds at most 7 values, not 8');
  });

  it('bound repeated fields, saying how to do without', () => {
    expect(refusal(JobStore.method.createBatch, { nodeId: 'n', jobs: Array.from({ length: 10_001 }, () => ({})) })).toBe(
      'jobs holds at most 10000 values, not 10001: add more jobs to the batch with CreateJob and its batch_id',
    );
    expect(refusal(AdminService.method.importDatabase, { database: 'n-requester', lines: Array.from({ length: 10_001 }, () => '{}') })).toBe(
      'lines holds at most 10000 values, not 10001',
    );
  });

  it('require one member of a required oneof, and check the one given', () => {
    expect(refusal(JobStore.method.getJob, { nodeId: 'n' })).toBe('one of id, id_prefix or name is required');
    expect(refusal(JobStore.method.getJob, { nodeId: 'n', key: { case: 'idPrefix', value: '../' } })).toMatch(/^id_prefix "..\/" is not valid/);
  });

  it('bound names, texts, pages, numbers, times and field masks', () => {
    const long = (length: number) => 'a'.repeat(length);
    expect(refusal(JobStore.method.listJobs, { nodeId: long(129) })).toBe('node_id is 129 characters long; the limit is 128');
    expect(refusal(JobStore.method.claimJob, { nodeId: 'n', leaseId: 1n, worker: long(257) })).toBe('worker is 257 characters long; the limit is 256');
    expect(refusal(LockService.method.get, { name: `/${long(512)}` })).toBe('name is 513 characters long; the limit is 512');
    expect(refusal(CheckpointStore.method.getCheckpoint, { nodeId: 'n', kind: 1, name: long(257) })).toBe('name is 257 characters long; the limit is 256');
    expect(refusal(LockService.method.acquire, { name: '/jobkeep/drain', leaseId: 1n })).toMatch(/reserved for the server/);
    expect(refusal(JobStore.method.listJobs, { nodeId: 'n', pageSize: 1001 })).toBe('page_size must be between 1 and 1000, not 1001');
    expect(refusal(JobStore.method.listJobs, { nodeId: 'n', pageToken: long(1025) })).toBe('page_token is 1025 characters long; the limit is 1024');
    expect(refusal(JobStore.method.listJobs, { nodeId: 'n', createdAfter: { seconds: 253_402_300_800n } })).toMatch(/^created_after is not a time/);
    expect(refusal(LeaseService.method.grant, { ttlSeconds: 3601n })).toBe('ttl_seconds must be an integer from 2 to 3600, not 3601');
    expect(refusal(LeaseService.method.keepAlive, { leaseId: 0n })).toBe('lease_id is required: a lease id from Grant');
    expect(refusal(LeaseService.method.keepAlive, { leaseId: 2n ** 60n })).toBe(`lease_id ${2n ** 60n} is not a lease id from Grant`);
    expect(refusal(JobStore.method.getJobHistory, { nodeId: 'n', fromRevision: 2n ** 53n })).toBe(
      `from_revision must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, not ${2n ** 53n}`,
    );
    expect(refusal(NodeRegistry.method.register, { node: { id: 'n', kind: 1, address: 'h:1', capacity: { slots: -1 } }, leaseId: 1n })).toBe(
      'node.capacity.slots must be an integer from 0 to 2147483647, not -1',
    );
    const update = { nodeId: 'n', job: { id: 'j' } };
    expect(refusal(JobStore.method.updateJob, update)).toBe('update_mask must name the fields to change: any of name, spec, labels, priority, queue, batch_id');
    expect(refusal(JobStore.method.updateJob, { ...update, updateMask: { paths: ['state'] } })).toBe(
      'update_mask names "state"; updatable fields are name, spec, labels, priority, queue, batch_id',
    );
    expect(refusal(JobStore.method.updateJob, { ...update, updateMask: { paths: ['spec', 'spec'] } })).toBe('update_mask names spec twice');
    // A job read back and sent whole: what UpdateJob cannot change is not held against it.
    expect(refusal(JobStore.method.updateJob, { ...update, job: { id: 'j', state: JobState.RUNNING }, updateMask: { paths: ['queue'] } })).toBeUndefined();
  });
});

import { JobState, JobType, OnDuplicate, type Job as WireJob } from '@jobkeep/api';
import type { CreateJobInput, JobState as StoreJobState, JobType as StoreJobType, JsonObject, OnDuplicate as StoreOnDuplicate } from '@jobkeep/store';
import { enumName } from './wire-conversions.js';

/** A wire job as the fields of a create; `field` names it in errors ("job", "jobs[3]"). */
export function createJobFields(job: WireJob, field: string): CreateJobInput {
  const policy = job.retryPolicy;
  return {
    id: job.id,
    name: job.name,
    namespace: job.namespace,
    type: enumName<StoreJobType>(JobType, job.type, `${field}.type`),
    priority: job.priority,
    labels: job.labels,
    queue: job.queue,
    batchId: job.batchId,
    spec: job.spec as JsonObject | undefined,
    state: enumName<StoreJobState>(JobState, job.state, `${field}.state`),
    stateMessage: job.stateMessage,
    dedupeKey: job.dedupeKey,
    retryPolicy: policy && { maxRetries: policy.maxRetries, backoffMs: policy.backoffMs, maxBackoffMs: policy.maxBackoffMs },
  };
}

export function onDuplicate(value: OnDuplicate): StoreOnDuplicate {
  const name = enumName<'FAIL' | 'RETURN_EXISTING'>(OnDuplicate, value, 'on_duplicate');
  return name === 'RETURN_EXISTING' ? 'returnExisting' : 'fail';
}

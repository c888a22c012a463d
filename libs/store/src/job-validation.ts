import { invalidArgument } from '@jobkeep/errors';
import { checkIdentifier, checkOptionalIdentifier } from './identifiers.js';
import { DEFAULT_RETRY_POLICY, JOB_STATES, JOB_TYPES, type Job, type JobState, type JsonObject, type RetryPolicy } from './job-model.js';
import type { CreateJobInput, JobChanges } from './job-store.js';
import { INITIAL_JOB_STATES } from './job-transitions.js';

/**
 * Limits on what a client may store; each is checked before anything is written. The spec's
 * size is a setting of the deployment instead (StoreLimits.maxSpecBytes).
 */
export const JOB_LIMITS = {
  labels: 64,
  labelKeyLength: 63,
  labelValueLength: 256,
  messageLength: 4096,
  requestIdLength: 128,
  dedupeKeyLength: 256,
  workerLength: 256,
  maxRetries: 1_000_000,
  /** The longest backoff wait, in milliseconds: what a Node timer can hold. */
  backoffMs: 2 ** 31 - 1,
} as const;

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A job as it will be inserted: every field present and checked, the spec already encoded. */
export type NewJob = Pick<
  Job,
  'name' | 'namespace' | 'type' | 'priority' | 'labels' | 'queue' | 'batchId' | 'state' | 'stateMessage' | 'dedupeKey' | 'retryPolicy'
> & {
  /** Absent when the store is to assign one. */
  id: string | undefined;
  specJson: string;
  requestId: string;
};

export const DEFAULT_NAMESPACE = 'default';

export function checkNewJob(input: CreateJobInput, maxSpecBytes: number): NewJob {
  const state = input.state ?? 'PENDING';
  if (!INITIAL_JOB_STATES.includes(state)) {
    throw invalidArgument(`a job starts in ${INITIAL_JOB_STATES.join(', ')}, not ${state}`);
  }
  return {
    id: input.id === undefined || input.id === '' ? undefined : checkIdentifier('job id', input.id),
    name: checkOptionalIdentifier('name', input.name),
    namespace: checkNamespace(input.namespace),
    type: checkOneOf('type', JOB_TYPES, input.type ?? 'BATCH'),
    priority: checkPriority(input.priority ?? 0),
    labels: checkLabels(input.labels ?? {}),
    queue: checkOptionalIdentifier('queue', input.queue),
    batchId: checkOptionalIdentifier('batch_id', input.batchId),
    specJson: encodeSpec('spec', input.spec ?? {}, maxSpecBytes),
    state,
    stateMessage: checkMessage(input.stateMessage),
    requestId: checkRequestId(input.requestId),
    dedupeKey: checkDedupeKey(input.dedupeKey),
    retryPolicy: checkRetryPolicy(input.retryPolicy),
  };
}

/** Any text up to the limit; the empty string means the job has no key. */
export function checkDedupeKey(key: string | undefined): string {
  return checkTextLength('dedupe_key', key, JOB_LIMITS.dedupeKeyLength);
}

/** Text of at most `max` characters; absent is the empty string. */
export function checkTextLength(what: string, text: string | undefined, max: number): string {
  if (text === undefined) return '';
  if (text.length > max) throw invalidArgument(`${what} is ${text.length} characters long; the limit is ${max}`);
  return text;
}

/** The policy with its defaults filled in; the cap defaults to at least the first wait. */
export function checkRetryPolicy(policy: Partial<RetryPolicy> | undefined, what = 'retry_policy'): RetryPolicy {
  const maxRetries = checkCount(`${what}.max_retries`, policy?.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries, JOB_LIMITS.maxRetries);
  const backoffMs = checkCount(`${what}.backoff_ms`, policy?.backoffMs ?? DEFAULT_RETRY_POLICY.backoffMs, JOB_LIMITS.backoffMs);
  const maxBackoffMs = checkCount(
    `${what}.max_backoff_ms`,
    policy?.maxBackoffMs ?? Math.max(DEFAULT_RETRY_POLICY.maxBackoffMs, backoffMs),
    JOB_LIMITS.backoffMs,
  );
  if (maxBackoffMs < backoffMs) {
    throw invalidArgument(`${what}.max_backoff_ms (${maxBackoffMs}) must be at least ${what}.backoff_ms (${backoffMs})`);
  }
  return { maxRetries, backoffMs, maxBackoffMs };
}

function checkCount(what: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw invalidArgument(`${what} must be an integer from 0 to ${max}, not ${value}`);
  return value;
}

/** The changes of an UpdateJob, checked; at least one field must be given. */
export function checkJobChanges(changes: JobChanges, maxSpecBytes: number): JobChanges & { specJson?: string } {
  const checked: JobChanges & { specJson?: string } = {};
  if (changes.name !== undefined) checked.name = checkOptionalIdentifier('name', changes.name);
  if (changes.spec !== undefined) checked.specJson = encodeSpec('spec', changes.spec, maxSpecBytes);
  if (changes.labels !== undefined) checked.labels = checkLabels(changes.labels);
  if (changes.priority !== undefined) checked.priority = checkPriority(changes.priority);
  if (changes.queue !== undefined) checked.queue = checkOptionalIdentifier('queue', changes.queue);
  if (changes.batchId !== undefined) checked.batchId = checkOptionalIdentifier('batch_id', changes.batchId);
  if (Object.keys(checked).length === 0) throw invalidArgument('an update must change at least one field');
  return checked;
}

export function checkNamespace(namespace: string | undefined): string {
  return namespace === undefined || namespace === '' ? DEFAULT_NAMESPACE : checkIdentifier('namespace', namespace);
}

export function checkJobState(what: string, state: string): JobState {
  return checkOneOf(what, JOB_STATES, state);
}

export function checkOneOf<T extends string>(what: string, allowed: readonly T[], value: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalidArgument(`${what} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function checkMessage(message: string | undefined): string {
  return checkTextLength('message', message, JOB_LIMITS.messageLength);
}

/** Who claims a job, as ClaimJob is told. */
export function checkWorker(worker: string | undefined): string {
  return checkTextLength('worker', worker, JOB_LIMITS.workerLength);
}

export function checkRequestId(requestId: string | undefined): string {
  return checkTextLength('request_id', requestId, JOB_LIMITS.requestIdLength);
}

function checkPriority(priority: number): number {
  if (!Number.isInteger(priority) || priority < INT32_MIN || priority > INT32_MAX) {
    throw invalidArgument(`priority must be a 32-bit integer, not ${priority}`);
  }
  return priority;
}

/** Labels of a job (or, with the same rules, of a node), sorted by key. */
export function checkLabels(labels: Record<string, string>, owner = 'a job'): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > JOB_LIMITS.labels) {
    throw invalidArgument(`${owner} has at most ${JOB_LIMITS.labels} labels, not ${entries.length}`);
  }
  for (const [key, value] of entries) {
    if (key.length > JOB_LIMITS.labelKeyLength || !LABEL_KEY.test(key)) {
      throw invalidArgument(
        `label key ${JSON.stringify(key)} is not valid: up to ${JOB_LIMITS.labelKeyLength} letters, digits, ` +
          `'.', '_', '/' or '-', starting and ending with a letter or digit`,
      );
    }
    if (value.length > JOB_LIMITS.labelValueLength) {
      throw invalidArgument(`label ${key} has a value of ${value.length} characters; the limit is ${JOB_LIMITS.labelValueLength}`);
    }
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function checkLabelSelector(selector: Record<string, string> | undefined): [string, string][] {
  return Object.entries(checkLabels(selector ?? {}));
}

/** A job spec (or an execution's snapshot of one) as the JSON stored, refused past `maxBytes`. */
export function encodeSpec(what: string, spec: JsonObject, maxBytes: number): string {
  const json = JSON.stringify(spec);
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw invalidArgument(`${what} is ${bytes} bytes as JSON; the limit is ${maxBytes}`);
  return json;
}

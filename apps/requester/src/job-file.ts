import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { JobkeepError, parseJobSpec, type JobSpec, type JobStoreClient } from '@jobkeep/client';

/** A job as a person writes it: in a JSON or YAML file, or with flags. */
export interface JobInput {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  queue?: string;
  priority?: number;
  spec: JobSpec;
  retry?: RetryInput;
}

/** A job file once its structure is checked; its spec is checked with the flags on top. */
export type JobDocument = Omit<JobInput, 'spec'> & { spec: Record<string, unknown> };

export interface RetryInput {
  maxRetries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** The submit command's flags that describe a job; each overrides the job file's value. */
export interface JobFlags {
  name?: string;
  namespace?: string;
  label?: Record<string, string>;
  queue?: string;
  priority?: number;
  executor?: string;
  sleepMs?: number;
  timeoutMs?: number;
  env?: Record<string, string>;
  constraint?: Record<string, string>;
  maxRetries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

export type CreateJobInput = Parameters<JobStoreClient['createJob']>[0];

const JOB_KEYS = ['name', 'namespace', 'labels', 'queue', 'priority', 'spec', 'retry'];
const SPEC_KEYS = ['executor', 'argv', 'env', 'sleepMs', 'timeoutMs', 'constraints'];
const RETRY_KEYS = ['maxRetries', 'backoffMs', 'maxBackoffMs'];
const UINT32_MAX = 2 ** 32 - 1;
const INT32_MAX = 2 ** 31 - 1;

/** The job a submit describes: the job file if given, with the flags and the command on top. */
export function jobToSubmit(file: string | undefined, flags: JobFlags, command: string[]): JobInput {
  if (file === undefined) return jobFromFileAndFlags(undefined, flags, command);
  const document = readJobFile(file);
  return withSource(file, () => jobFromFileAndFlags(document, flags, command));
}

/** Reads a job file: JSON for `.json`, YAML otherwise (YAML also reads JSON). */
export function readJobFile(file: string): JobDocument {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new JobkeepError('INVALID_ARGUMENT', `cannot read the job file ${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new JobkeepError('INVALID_ARGUMENT', `the job file ${file} is not valid ${path.extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  return withSource(file, () => parseJobDocument(document));
}

/**
 * Checks a job document (the parsed file): its fields and their types. An unknown field is an
 * error rather than a typo silently ignored. The spec is checked as the compute node will read
 * it (parseJobSpec) once the flags are applied, by jobFromFileAndFlags.
 */
export function parseJobDocument(document: unknown): JobDocument {
  const value = object('the job', document);
  unknownKeys('the job', value, JOB_KEYS);
  const spec = object('spec', value.spec ?? {});
  unknownKeys('spec', spec, SPEC_KEYS);
  const input: JobDocument = { spec };
  if (value.name !== undefined) input.name = string('name', value.name);
  if (value.namespace !== undefined) input.namespace = string('namespace', value.namespace);
  if (value.queue !== undefined) input.queue = string('queue', value.queue);
  if (value.labels !== undefined) input.labels = stringMap('labels', value.labels);
  if (value.priority !== undefined) input.priority = integer('priority', value.priority, -INT32_MAX - 1, INT32_MAX);
  if (value.retry !== undefined) {
    const retry = object('retry', value.retry);
    unknownKeys('retry', retry, RETRY_KEYS);
    input.retry = {};
    for (const key of RETRY_KEYS as (keyof RetryInput)[]) {
      if (retry[key] !== undefined) input.retry[key] = integer(`retry.${key}`, retry[key], 0, UINT32_MAX);
    }
  }
  return input;
}

/**
 * The job to submit: the file's (if any) with the flags and the command after `--` on top.
 * Without a file, a command or an executor there is nothing to run.
 */
export function jobFromFileAndFlags(file: JobDocument | undefined, flags: JobFlags, command: string[]): JobInput {
  if (file === undefined && command.length === 0 && flags.executor === undefined) {
    throw new JobkeepError('INVALID_ARGUMENT', 'nothing to run: give a job file (--file), a command after --, or --executor');
  }
  const base: JobDocument = file ?? { spec: {} };
  const spec: Record<string, unknown> = { ...base.spec };
  if (flags.executor !== undefined) spec.executor = flags.executor;
  if (command.length > 0) spec.argv = command;
  if (flags.sleepMs !== undefined) spec.sleepMs = flags.sleepMs;
  if (flags.timeoutMs !== undefined) spec.timeoutMs = flags.timeoutMs;
  if (flags.env !== undefined && Object.keys(flags.env).length > 0) spec.env = { ...mapOrEmpty(base.spec.env), ...flags.env };
  if (flags.constraint !== undefined && Object.keys(flags.constraint).length > 0) {
    spec.constraints = { ...mapOrEmpty(base.spec.constraints), ...flags.constraint };
  }
  // A command given on the line of a sleep job file would be ignored: say so instead.
  if (command.length > 0 && (spec.executor ?? 'exec') !== 'exec') {
    throw new JobkeepError('INVALID_ARGUMENT', `a command after -- is for the exec executor, not ${String(spec.executor)}`);
  }
  const input: JobInput = { ...base, spec: parseSpec(spec) };
  for (const key of ['name', 'namespace', 'queue', 'priority'] as const) {
    if (flags[key] !== undefined) Object.assign(input, { [key]: flags[key] });
  }
  if (flags.label !== undefined && Object.keys(flags.label).length > 0) input.labels = { ...base.labels, ...flags.label };
  const retry: RetryInput = { ...base.retry };
  for (const key of RETRY_KEYS as (keyof RetryInput)[]) if (flags[key] !== undefined) retry[key] = flags[key];
  if (Object.keys(retry).length > 0) input.retry = retry;
  return input;
}

/**
 * CreateJob requests for `count` copies of the job in the requester's own database, PENDING.
 * Copies of a named job are numbered, since a name is unique within its namespace.
 */
export function createJobRequests(input: JobInput, nodeId: string, count = 1): CreateJobInput[] {
  return Array.from({ length: count }, (_, index) => ({
    nodeId,
    job: {
      name: input.name === undefined || count === 1 ? (input.name ?? '') : `${input.name}-${index + 1}`,
      namespace: input.namespace ?? '',
      labels: input.labels ?? {},
      queue: input.queue ?? '',
      priority: input.priority ?? 0,
      spec: specObject(input.spec),
      retryPolicy: input.retry ?? {},
    },
  }));
}

/** The spec as stored: a JSON object without unset fields. */
function specObject(spec: JobSpec): Record<string, string | number | string[] | Record<string, string>> {
  return Object.fromEntries(Object.entries(spec).filter(([, value]) => value !== undefined)) as Record<
    string,
    string | number | string[] | Record<string, string>
  >;
}

function parseSpec(spec: Record<string, unknown>): JobSpec {
  unknownKeys('spec', spec, SPEC_KEYS);
  return parseJobSpec(spec);
}

/** A map from the file, or nothing if it is not one (parseJobSpec then says what is wrong). */
function mapOrEmpty(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function withSource<T>(source: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof JobkeepError) throw new JobkeepError(error.code, `${source}: ${error.message}`);
    throw error;
  }
}

function object(what: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function unknownKeys(what: string, value: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length > 0) throw bad(`${what} has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => JSON.stringify(key)).join(', ')}; known: ${known.join(', ')}`);
}

function string(what: string, value: unknown): string {
  if (typeof value !== 'string') throw bad(`${what} must be a string, not ${JSON.stringify(value)}`);
  return value;
}

function stringMap(what: string, value: unknown): Record<string, string> {
  const map = object(what, value);
  if (Object.values(map).some((item) => typeof item !== 'string')) throw bad(`${what} must map names to strings`);
  return map as Record<string, string>;
}

function integer(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${what} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function bad(message: string): JobkeepError {
  return new JobkeepError('INVALID_ARGUMENT', message);
}

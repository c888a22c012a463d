import type { Execution, Job, JobExecution } from '@jobkeep/api';
import { attemptOf } from '@jobkeep/client';
import Table from 'cli-table3';
import { desiredStateName, executionStateName, isoTime, jobStateName } from '../wire-values.js';

/** A job as the commands print it with --json: plain JSON, names for enums, ISO times. */
export interface JobView {
  id: string;
  name: string;
  namespace: string;
  state: string;
  message: string;
  retryCount: number;
  maxRetries: number | null;
  retryTime: string | null;
  queue: string;
  priority: number;
  labels: Record<string, string>;
  spec: unknown;
  revision: string;
  createTime: string | null;
  modifyTime: string | null;
}

/** The requester's view of one execution. */
export interface ExecutionView {
  id: string;
  attempt: number;
  computeNodeId: string;
  desiredState: string;
  computeState: string;
  message: string;
  createTime: string | null;
  modifyTime: string | null;
}

/** An execution as its compute node keeps it, with what its run left behind. */
export interface RunView {
  executionId: string;
  computeNodeId: string;
  state: string;
  message: string;
  exitCode: number | null;
  stdoutTail: string;
  stderrTail: string;
}

export function jobView(job: Job): JobView {
  return {
    id: job.id,
    name: job.name,
    namespace: job.namespace,
    state: jobStateName(job.state),
    message: job.stateMessage,
    retryCount: job.retryCount,
    maxRetries: job.retryPolicy?.maxRetries ?? null,
    retryTime: isoTime(job.retryTime),
    queue: job.queue,
    priority: job.priority,
    labels: job.labels,
    spec: job.spec ?? {},
    revision: job.revision.toString(),
    createTime: isoTime(job.createTime),
    modifyTime: isoTime(job.modifyTime),
  };
}

export function executionView(execution: JobExecution): ExecutionView {
  return {
    id: execution.id,
    attempt: attemptOf(execution.id),
    computeNodeId: execution.computeNodeId,
    desiredState: desiredStateName(execution.desiredState),
    computeState: executionStateName(execution.computeState),
    message: execution.stateMessage,
    createTime: isoTime(execution.createTime),
    modifyTime: isoTime(execution.modifyTime),
  };
}

export function runView(computeNodeId: string, execution: Execution): RunView {
  return {
    executionId: execution.id,
    computeNodeId,
    state: executionStateName(execution.state),
    message: execution.stateMessage,
    exitCode: execution.runResult === undefined ? null : execution.runResult.exitCode,
    stdoutTail: execution.runResult?.stdoutTail ?? '',
    stderrTail: execution.runResult?.stderrTail ?? '',
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A table for people: headings, then rows. */
export function table(head: string[], rows: (string | number)[][]): string {
  const output = new Table({ head, style: { head: [], border: [], compact: true }, wordWrap: true });
  output.push(...rows.map((row) => row.map((cell) => String(cell))));
  return output.toString();
}

/** Names and values, one per line, for a single record. */
export function fields(rows: [string, string | number | null][]): string {
  const output = new Table({ style: { head: [], border: [], compact: true }, wordWrap: true });
  for (const [name, value] of rows) output.push({ [name]: value === null || value === '' ? '-' : String(value) });
  return output.toString();
}

/** One line of at most `width` characters. */
export function short(text: string, width = 60): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

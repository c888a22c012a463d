import { DesiredExecutionState, ExecutionState, type Job, type JobExecution } from '@jobkeep/api';
import { JobkeepError, executionIdFor } from '@jobkeep/client';
import type { Logger } from 'pino';
import type { NodePicker } from './node-picker.js';
import type { RequesterClients } from './requester-clients.js';
import { RetryClock } from './retry-clock.js';
import { millis } from './wire-values.js';

export interface SchedulerOptions {
  nodeId: string;
  clients: RequesterClients;
  picker: NodePicker;
  logger: Logger;
  /** Asks for a reconcile of a job (the reconcile queue's mark). */
  wake: (jobId: string) => void;
  /** How long a node that rejected a bid, or refused the create, gets no new bids. */
  rejectCooldownMs: number;
  now?: () => number;
}

/** A job waiting for a node with a free slot. */
interface WaitingJob {
  constraints: Record<string, string>;
  avoid: string | undefined;
  priority: number;
  createTime: number;
  since: number;
}

/** What a step of a reconcile leads to: nothing more for now, or another look at the job. */
export type StepResult = 'done' | 'again';

/**
 * Places jobs on compute nodes: picks a node (node-picker.ts), and asks it for a bid as the
 * agent protocol says, recording its own view of the execution first. Jobs that find no node
 * with a free slot wait, highest priority and oldest first, and are woken as slots free up;
 * jobs in backoff are woken when their retry time comes.
 */
export class Scheduler {
  private readonly waiting = new Map<string, WaitingJob>();
  private readonly reservations = new Map<string, string>();
  /** Executions known to exist on their compute node; the others get the create (again). */
  private readonly onCompute = new Set<string>();
  private readonly clock: RetryClock;
  private readonly now: () => number;
  private ready = false;
  private dispatchQueued = false;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.clock = new RetryClock(options.wake, this.now);
  }

  /** Starts placing jobs: until then (during recovery) every live execution is not yet known. */
  start(): void {
    this.ready = true;
    this.dispatch();
  }

  stop(): void {
    this.ready = false;
    this.clock.stop();
  }

  /** Wakes a job in backoff when its retry time comes. */
  wakeAt(jobId: string, at: number): void {
    this.clock.wakeAt(jobId, at);
  }

  /** The job needs no placement (any more): it ended, or it has a live execution. */
  forget(jobId: string): void {
    this.waiting.delete(jobId);
    this.clock.forget(jobId);
    this.releaseReservation(jobId);
  }

  /** Returns a slot reserved for a job that did not use it. */
  releaseReservation(jobId: string): void {
    const nodeId = this.reservations.get(jobId);
    if (nodeId === undefined) return;
    this.reservations.delete(jobId);
    this.options.picker.unreserve(nodeId);
    this.dispatchSoon();
  }

  /** A node refused a bid: it gets no new ones for a while. */
  coolDown(nodeId: string, from: number): void {
    this.options.picker.coolDown(nodeId, from + this.options.rejectCooldownMs);
  }

  /** Capacity may have freed up: hands free slots to waiting jobs, once per turn of the event loop. */
  dispatchSoon(): void {
    if (this.dispatchQueued || !this.ready) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  /**
   * Places attempt `attempt` of a job that is PENDING or due for its retry: on a reserved node,
   * or on one picked now if no job waits ahead of it; otherwise the job waits its turn.
   */
  async place(job: Job, attempt: number, avoid: string | undefined): Promise<StepResult> {
    const constraints = constraintsOf(job);
    this.waiting.delete(job.id);
    let nodeId = this.reservations.get(job.id);
    if (nodeId === undefined) {
      this.waiting.set(job.id, { constraints, avoid, priority: job.priority, createTime: millis(job.createTime), since: this.now() });
      if (!this.ready) return 'done';
      this.dispatch(job.id);
      nodeId = this.reservations.get(job.id);
      if (nodeId === undefined) return 'done';
    }
    // From a reservation to a live execution, with no pick in between.
    this.reservations.delete(job.id);
    this.options.picker.unreserve(nodeId);
    const executionId = executionIdFor(job.id, attempt);
    this.options.picker.track(executionId, nodeId, job.id);
    let view: JobExecution;
    try {
      const response = await this.options.clients.jobs.createExecution({
        nodeId: this.options.nodeId,
        execution: { id: executionId, jobId: job.id, computeNodeId: nodeId, desiredState: DesiredExecutionState.RUNNING },
        requestId: executionId,
      });
      view = response.execution!;
    } catch (error) {
      this.options.picker.untrack(executionId);
      this.dispatchSoon();
      // The job ended (a terminal job gets no new executions) or changed: look again.
      if (error instanceof JobkeepError && (error.code === 'FAILED_PRECONDITION' || error.code === 'ALREADY_EXISTS')) return 'again';
      throw error;
    }
    this.options.logger.info({ jobId: job.id, executionId, computeNodeId: nodeId, attempt }, 'execution created');
    return this.askForBid(job, view);
  }

  /**
   * Creates the execution in the compute node's database, under the view's id and with that id
   * as request id, so that repeating it (after a crash between the two creates, or a lost reply)
   * never makes a second one. A compute database that refuses the create (full, draining) is a
   * rejected bid: the view says so, and the job goes elsewhere without losing a retry.
   */
  async askForBid(job: Job, view: JobExecution): Promise<StepResult> {
    if (this.onCompute.has(view.id)) return 'done';
    try {
      await this.options.clients.executions.createExecution({
        nodeId: view.computeNodeId,
        execution: { id: view.id, jobId: job.id, requesterNodeId: this.options.nodeId, jobSpec: job.spec ?? {} },
        requestId: view.id,
      });
      this.onCompute.add(view.id);
      return 'done';
    } catch (error) {
      if (!isRefusal(error)) throw error;
      this.options.logger.warn({ jobId: job.id, executionId: view.id, computeNodeId: view.computeNodeId, err: error }, 'bid refused');
      this.coolDown(view.computeNodeId, this.now());
      await this.options.clients.jobs.updateExecution({
        nodeId: this.options.nodeId,
        executionId: view.id,
        desiredState: DesiredExecutionState.STOPPED,
        computeState: ExecutionState.BID_REJECTED,
        message: `${view.computeNodeId} refused the bid: ${error.message}`,
        expectedDesiredStates: [DesiredExecutionState.PENDING, DesiredExecutionState.RUNNING],
      });
      return 'again';
    }
  }

  /** The execution has ended: forget that it was on its compute node. */
  forgetExecution(executionId: string): void {
    this.onCompute.delete(executionId);
  }

  /**
   * Gives free slots to waiting jobs in order (highest priority, then oldest), reserving a slot
   * on the node picked for each and waking it; `self` is the job asking, already running, which
   * is not woken but finds its reservation.
   */
  private dispatch(self?: string): void {
    if (!this.ready || this.waiting.size === 0) return;
    const now = this.now();
    if (!this.options.picker.anyFree(now)) return;
    const order = [...this.waiting.entries()].sort(
      ([, a], [, b]) => b.priority - a.priority || a.createTime - b.createTime || a.since - b.since,
    );
    for (const [jobId, entry] of order) {
      const node = this.options.picker.pick(entry.constraints, entry.avoid, now);
      if (node === undefined) {
        if (!this.options.picker.anyFree(now)) break;
        continue;
      }
      this.options.picker.reserve(node.id);
      this.reservations.set(jobId, node.id);
      this.waiting.delete(jobId);
      if (jobId !== self) this.options.wake(jobId);
    }
  }
}

/** The labels a job needs on its compute node. */
export function constraintsOf(job: Job): Record<string, string> {
  const constraints = job.spec?.constraints;
  if (typeof constraints !== 'object' || constraints === null || Array.isArray(constraints)) return {};
  return Object.fromEntries(Object.entries(constraints).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** A failure that repeating the same call will not mend: the server said no. */
export function isRefusal(error: unknown): error is JobkeepError {
  return (
    error instanceof JobkeepError &&
    ['INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'RESOURCE_EXHAUSTED', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'OUT_OF_RANGE', 'NOT_FOUND'].includes(error.code)
  );
}

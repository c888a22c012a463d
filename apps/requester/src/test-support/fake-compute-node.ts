import { DesiredExecutionState, ExecutionEventType, ExecutionState, NodeDatabaseKind, type Execution } from '@jobkeep/api';
import {
  JobkeepError,
  createCheckpointStoreClient,
  createExecutionStoreClient,
  createJobStoreClient,
  createLeaseClient,
  createNodeRegistryClient,
  grantLease,
  watchExecutions,
  type LeaseKeeper,
} from '@jobkeep/client';
import { afterEach } from 'vitest';

/** What the fake node does with a bid. */
export type Outcome =
  | { kind: 'complete'; stdout?: string }
  | { kind: 'fail'; exitCode: number; stderr: string }
  | { kind: 'reject' }
  /** Accepts and runs until `release()` (then completes) or a cancel. */
  | { kind: 'hold' };

export interface FakeComputeOptions {
  slots: number;
  labels?: Record<string, string>;
  outcome?: (execution: Execution) => Outcome;
}

/** The compute states after which nothing more happens to a run. */
const FINAL_STATES: readonly ExecutionState[] = [ExecutionState.COMPLETED, ExecutionState.FAILED, ExecutionState.CANCELLED, ExecutionState.BID_REJECTED];

/**
 * A compute node played by the test, through the generated clients only, exactly as the agent
 * protocol says: it creates its database, registers under a lease with its slots, follows its
 * compute database, and for each bid writes its own database first (with expected_states),
 * then reports to the requester's view (JobStore.UpdateExecution): a step on the condition that
 * the requester has not stopped it, how the run ended unconditionally. A run the requester
 * cancels in its database is reported as CANCELLED.
 */
export class FakeComputeNode {
  /** Every bid received, by execution id. */
  readonly bids: Execution[] = [];
  /** Execution ids accepted, by job id: how many times each job ran here. */
  readonly runs = new Map<string, string[]>();
  /** Executions the requester cancelled in this node's database. */
  readonly cancelled = new Set<string>();
  private readonly held = new Map<string, Execution>();
  private readonly stopping = new AbortController();
  private readonly executions;
  private readonly jobs;
  private readonly leases;
  private readonly nodes;
  private readonly checkpoints;
  private lease: LeaseKeeper | undefined;
  private watching: Promise<void> = Promise.resolve();
  private readonly working = new Set<Promise<void>>();
  outcome: (execution: Execution) => Outcome;

  constructor(
    readonly id: string,
    private readonly address: string,
    private readonly options: FakeComputeOptions,
  ) {
    this.executions = createExecutionStoreClient(address);
    this.jobs = createJobStoreClient(address);
    this.leases = createLeaseClient(address);
    this.nodes = createNodeRegistryClient(address);
    this.checkpoints = createCheckpointStoreClient(address);
    this.outcome = options.outcome ?? (() => ({ kind: 'complete', stdout: `ran on ${id}\n` }));
  }

  async start(): Promise<this> {
    // A write creates the compute database, so that there is a history to follow.
    await this.checkpoints.putCheckpoint({ nodeId: this.id, kind: NodeDatabaseKind.COMPUTE, name: 'fake/started', data: new Uint8Array([1]) });
    this.lease = await grantLease(this.leases, 5);
    await this.nodes.register({
      node: { id: this.id, kind: NodeDatabaseKind.COMPUTE, address: '127.0.0.1:7999', labels: this.options.labels ?? {}, capacity: { slots: this.options.slots } },
      leaseId: this.lease.leaseId,
    });
    this.watching = this.follow();
    return this;
  }

  /** All runs of a job here. */
  runsOf(jobId: string): string[] {
    return this.runs.get(jobId) ?? [];
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** Completes every held execution (or one). */
  async release(executionId?: string): Promise<void> {
    const chosen = [...this.held.values()].filter((execution) => executionId === undefined || execution.id === executionId);
    await Promise.all(chosen.map((execution) => this.finish(execution, { kind: 'complete', stdout: 'released\n' })));
  }

  /** The node stays online but stops following its database, and so stops reporting. */
  async mute(): Promise<void> {
    this.stopping.abort();
    await this.watching;
  }

  /** The node dies: it stops following its database, and its lease ends (the registry shows it offline at once). */
  async goOffline(): Promise<void> {
    this.stopping.abort();
    await this.watching;
    await this.lease?.stop({ revoke: true });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.watching;
    await Promise.allSettled([...this.working]);
    await this.lease?.stop({ revoke: true }).catch(() => undefined);
    for (const client of [this.executions, this.jobs, this.leases, this.nodes, this.checkpoints]) client.close();
  }

  private async follow(): Promise<void> {
    try {
      for await (const message of watchExecutions(this.executions, { nodeId: this.id, fromRevision: 1n }, { signal: this.stopping.signal })) {
        if (message.kind.case !== 'event') continue;
        const event = message.kind.value;
        if (event.type === ExecutionEventType.CREATED) this.track(this.bid(event.executionId));
        if (event.type === ExecutionEventType.STATE_CHANGED && event.newState === ExecutionState.CANCELLED) {
          this.cancelled.add(event.executionId);
          const run = this.held.get(event.executionId);
          this.held.delete(event.executionId);
          if (run !== undefined) this.track(this.report(run, ExecutionState.CANCELLED, event.message));
        }
      }
    } catch (error) {
      if (!this.stopping.signal.aborted) throw error;
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      if (!this.stopping.signal.aborted) console.error(`fake compute node ${this.id}:`, error);
    });
    this.working.add(tracked);
    void tracked.finally(() => this.working.delete(tracked));
  }

  private async bid(executionId: string): Promise<void> {
    const { execution } = await this.executions.getExecution({ nodeId: this.id, executionId });
    this.bids.push(execution!);
    const outcome = this.outcome(execution!);
    if (outcome.kind === 'reject') {
      await this.move(execution!, ExecutionState.BID_REJECTED, [ExecutionState.CREATED], 'no free slot');
      return;
    }
    if (!(await this.move(execution!, ExecutionState.BID_ACCEPTED, [ExecutionState.CREATED]))) return;
    this.runs.set(execution!.jobId, [...this.runsOf(execution!.jobId), executionId]);
    if (!(await this.move(execution!, ExecutionState.RUNNING, [ExecutionState.BID_ACCEPTED]))) return;
    if (outcome.kind === 'hold') this.held.set(executionId, execution!);
    else await this.finish(execution!, outcome);
  }

  private async finish(execution: Execution, outcome: Outcome): Promise<void> {
    this.held.delete(execution.id);
    if (outcome.kind === 'complete') {
      await this.move(execution, ExecutionState.COMPLETED, [ExecutionState.RUNNING], 'exit 0', { exitCode: 0, stdoutTail: outcome.stdout ?? '', stderrTail: '' });
    } else if (outcome.kind === 'fail') {
      await this.move(execution, ExecutionState.FAILED, [ExecutionState.RUNNING], `exit ${outcome.exitCode}: ${outcome.stderr.trim()}`, {
        exitCode: outcome.exitCode,
        stdoutTail: '',
        stderrTail: outcome.stderr,
      });
    }
  }

  /**
   * One step: the compute database first, conditional on the state it should be in, then the
   * report to the requester's view, conditional on the requester not having stopped it.
   * False when the execution had moved on (the requester cancelled it).
   */
  private async move(
    execution: Execution,
    newState: ExecutionState,
    expectedStates: ExecutionState[],
    message = '',
    runResult?: { exitCode: number; stdoutTail: string; stderrTail: string },
  ): Promise<boolean> {
    try {
      await this.executions.updateExecutionState({ nodeId: this.id, executionId: execution.id, newState, message, expectedStates, runResult });
    } catch (error) {
      if (error instanceof JobkeepError && error.code === 'FAILED_PRECONDITION') return false;
      throw error;
    }
    await this.report(execution, newState, message);
    return true;
  }

  private async report(execution: Execution, computeState: ExecutionState, message: string): Promise<void> {
    try {
      await this.jobs.updateExecution({
        nodeId: execution.requesterNodeId,
        executionId: execution.id,
        computeState,
        message,
        expectedDesiredStates: FINAL_STATES.includes(computeState) ? [] : [DesiredExecutionState.PENDING, DesiredExecutionState.RUNNING],
      });
    } catch (error) {
      if (!(error instanceof JobkeepError && error.code === 'FAILED_PRECONDITION')) throw error;
    }
  }
}

/** Fake compute nodes, stopped after each test (before the server process is killed). */
export function useFakeComputeNodes(): (address: string, id: string, options: FakeComputeOptions) => Promise<FakeComputeNode> {
  const started: FakeComputeNode[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((node) => node.stop()));
  });
  return (address, id, options) => {
    const node = new FakeComputeNode(id, address, options);
    started.push(node);
    return node.start();
  };
}

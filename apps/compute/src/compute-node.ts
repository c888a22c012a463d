import { setTimeout as sleep } from 'node:timers/promises';
import { ExecutionEventType, ExecutionState, NodeDatabaseKind, type Execution, type ExecutionEvent } from '@jobkeep/api';
import {
  createCheckpointStoreClient,
  createExecutionStoreClient,
  createJobStoreClient,
  createLeaseClient,
  createNodeRegistryClient,
  isJobkeepError,
  registerUnderLease,
  watchExecutions,
  type JobkeepError,
  type LeaseKeeper,
} from '@jobkeep/client';
import { decideBid } from './bid-decision.js';
import type { ComputeConfig } from './compute-config.js';
import { ExecutionWriter, LIVE_STATES, stateName } from './execution-writer.js';
import { isTerminal, runExecution, type ActiveExecution, type RunnerDependencies, type StopReason } from './execution-runner.js';
import { createExecutors } from './executors.js';
import type { Logger } from './logger.js';
import { ProcessRecords } from './process-records.js';
import { RequesterReporter } from './requester-reports.js';

/** How long a starting node waits for the server before giving up. */
const CONNECT_TIMEOUT_MS = 30_000;

/**
 * The changes a node acts on: new bids (CREATED), and executions ended by someone else while they
 * run (CANCELLED by a requester; FAILED or COMPLETED by an admin or by retention).
 */
const WATCHED_STATES = [ExecutionState.CREATED, ExecutionState.CANCELLED, ExecutionState.FAILED, ExecutionState.COMPLETED];

export interface ComputeNode {
  readonly nodeId: string;
  /** The lease the node is registered under now (a lost lease is replaced). */
  readonly leaseId: bigint;
  /** Resolves with the error when the node meets a failure it cannot carry on from; it should then be stopped. */
  readonly failure: Promise<Error>;
  /**
   * Stops taking bids, kills the runs in progress and fails them with "node shutting down",
   * then revokes the lease, taking the node offline. Safe to call more than once.
   */
  stop(): Promise<void>;
}

export interface ComputeNodeOptions {
  /** Where exec runs take their allow-listed variables from: the agent's own environment by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * Ends the start's wait for the node's registration under another lease to end (see
   * registerUnderLease): startComputeNode then rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/**
 * Starts a compute node: grants a lease and keeps it alive, registers the node as COMPUTE with
 * its labels and slots under it, recovers from an earlier run of the node (kills the process
 * groups it left, fails its live executions with "node restart"), then takes the bids already
 * waiting and follows its compute database for new ones and for cancellations.
 */
export async function startComputeNode(config: ComputeConfig, logger: Logger, options: ComputeNodeOptions = {}): Promise<ComputeNode> {
  const node = new ComputeAgent(config, logger, options);
  try {
    await node.start();
  } catch (error) {
    await node.stop().catch(() => undefined);
    throw error;
  }
  return node;
}

class ComputeAgent implements ComputeNode {
  readonly nodeId: string;
  readonly failure: Promise<Error>;
  private reportFailure!: (error: Error) => void;

  private readonly clients;
  private readonly writer: ExecutionWriter;
  private readonly runner: RunnerDependencies;
  private readonly active = new Map<string, ActiveExecution>();
  /** Bids being looked at, so that one seen twice (listed at start, then replayed) is handled once. */
  private readonly bidding = new Set<string>();
  /** Bid handlers, runs and lease renewals in progress: what a stop waits for. */
  private readonly tasks = new Set<Promise<void>>();
  private readonly stopWatching = new AbortController();
  private following: Promise<void> | undefined;
  private lease: LeaseKeeper | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly startSignal: AbortSignal | undefined;

  constructor(
    private readonly config: ComputeConfig,
    private readonly logger: Logger,
    options: ComputeNodeOptions,
  ) {
    this.nodeId = config.nodeId;
    this.startSignal = options.signal;
    this.failure = new Promise((resolve) => (this.reportFailure = resolve));
    this.clients = {
      executions: createExecutionStoreClient(config.server, config.security),
      jobs: createJobStoreClient(config.server, config.security),
      leases: createLeaseClient(config.server, config.security),
      registry: createNodeRegistryClient(config.server, config.security),
      checkpoints: createCheckpointStoreClient(config.server, config.security),
    };
    this.writer = new ExecutionWriter(this.clients.executions, config.nodeId);
    this.runner = {
      writer: this.writer,
      reporter: new RequesterReporter(this.clients.jobs, logger),
      executors: createExecutors({ envAllow: config.envAllow, baseEnv: options.env ?? process.env, killGraceMs: config.killGraceMs }),
      records: new ProcessRecords(this.clients.checkpoints, config.nodeId, logger),
      logger,
    };
  }

  get leaseId(): bigint {
    return this.lease?.leaseId ?? 0n;
  }

  async start(): Promise<void> {
    await this.clients.leases.waitForReady(Date.now() + CONNECT_TIMEOUT_MS);
    await this.register(this.startSignal === undefined ? undefined : AbortSignal.any([this.stopWatching.signal, this.startSignal]));

    const reaped = await this.runner.records.reapLeftovers();
    if (reaped.length > 0) this.logger.warn({ groups: reaped }, 'killed processes left by an earlier run');
    await this.failLiveExecutions();

    const { revision } = await this.clients.executions.getCounters({ nodeId: this.nodeId });
    for (const execution of await this.writer.listInStates([ExecutionState.CREATED])) this.onBid(execution.id, execution);
    this.following = this.follow(revision + 1n).catch((error: unknown) => {
      this.logger.error({ err: error }, 'watch failed');
      this.reportFailure(error instanceof Error ? error : new Error(String(error)));
    });
    const { nodeId, address, slots, labels } = this.config;
    this.logger.info({ nodeId, address, slots, labels, leaseId: String(this.leaseId), server: this.config.server }, 'compute node ready');
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    this.logger.info({ running: this.active.size }, 'compute node stopping');
    this.stopWatching.abort();
    for (const active of this.active.values()) active.controller.abort({ kind: 'shutdown' } satisfies StopReason);
    await this.following;
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    await this.runner.records.flush();
    if (this.lease !== undefined) {
      await this.lease.stop({ revoke: true }).catch((error: unknown) => this.logger.warn({ err: error }, 'lease not revoked'));
    }
    for (const client of Object.values(this.clients)) client.close();
    this.logger.info({ nodeId: this.nodeId }, 'compute node stopped');
  }

  /**
   * Registers the node under a new lease, waiting while it is online under another one, and under
   * yet another lease if this one is lost meanwhile (see registerUnderLease).
   */
  private async register(signal = this.stopWatching.signal): Promise<void> {
    const { nodeId, address, labels, slots } = this.config;
    const { lease } = await registerUnderLease(
      { leases: this.clients.leases, registry: this.clients.registry },
      { id: nodeId, kind: NodeDatabaseKind.COMPUTE, address, labels, capacity: { slots } },
      this.config.leaseTtlSeconds,
      {
        signal,
        onLost: (error, lost) => this.onLeaseLost(error, lost),
        onWaiting: ({ heldBy, leaseId, error }) =>
          this.logger.warn({ nodeId, heldBy: String(heldBy), leaseId: String(leaseId), reason: error.message }, 'node online under another lease; waiting for it to end'),
        onLeaseReplaced: ({ leaseId, error }) =>
          this.logger.warn({ nodeId, leaseId: String(leaseId), reason: error.message }, 'lease lost while waiting for the node; waiting on under a new lease'),
      },
    );
    this.lease = lease;
    this.logger.info({ nodeId, leaseId: String(this.leaseId) }, 'registered');
  }

  /**
   * A lost lease has taken the node offline: it takes a new one and registers again. Runs go on;
   * a requester that gave their jobs back in the meantime stops them (CANCELLED), and its view
   * refuses their late reports.
   */
  private onLeaseLost(error: JobkeepError, lost: LeaseKeeper): void {
    if (this.stopping) return;
    this.logger.warn({ err: error, leaseId: String(lost.leaseId) }, 'lease lost');
    this.track(
      (async () => {
        // Revoked too: a server restart may have revived it, and it would hold the old registration's place.
        await lost.stop({ revoke: true }).catch(() => undefined);
        for (let failures = 0; !this.stopping; failures++) {
          try {
            if (failures > 0) await sleep(Math.min(5000, 250 * 2 ** failures), undefined, { signal: this.stopWatching.signal });
            await this.register();
            return;
          } catch (renewError) {
            if (this.stopping) return;
            this.logger.warn({ err: renewError }, 'registering again failed; retrying');
          }
        }
      })(),
    );
  }

  /** After a restart nothing runs what the database says is live: fail it, so that its requester retries it. */
  private async failLiveExecutions(): Promise<void> {
    const live = await this.writer.listInStates(LIVE_STATES);
    const message = 'node restart';
    for (const execution of live) {
      const result = await this.writer.move(execution.id, { to: ExecutionState.FAILED, from: LIVE_STATES, message });
      if (!result.moved) continue;
      this.logger.info({ executionId: execution.id, jobId: execution.jobId, previousState: stateName(execution.state) }, 'execution failed by restart');
      await this.runner.reporter.report(execution, ExecutionState.FAILED, message);
    }
    if (live.length > 0) this.logger.info({ failed: live.length }, 'recovered from restart');
  }

  /**
   * Follows the compute database from `fromRevision`, reconnecting as needed. A watch that fell
   * behind compacted history (OUT_OF_RANGE) starts over from a fresh look at the database.
   */
  private async follow(fromRevision: bigint): Promise<void> {
    let next = fromRevision;
    for (;;) {
      try {
        const watch = watchExecutions(
          this.clients.executions,
          { nodeId: this.nodeId, fromRevision: next, states: WATCHED_STATES },
          {
            signal: this.stopWatching.signal,
            onRetry: (error, resumeFrom, delayMs) =>
              this.logger.warn({ err: error, fromRevision: String(resumeFrom), delayMs }, 'watch reconnecting'),
          },
        );
        for await (const message of watch) {
          if (message.kind.case !== 'event') continue;
          next = message.kind.value.revision + 1n;
          this.onEvent(message.kind.value);
        }
      } catch (error) {
        if (this.stopWatching.signal.aborted) return;
        if (!isJobkeepError(error) || error.code !== 'OUT_OF_RANGE') throw error;
        this.logger.warn({ err: error }, 'watch behind compacted history; looking again');
        next = await this.rescan();
      }
    }
  }

  /** What a watch that lost its place missed: waiting bids, and runs ended by someone else. */
  private async rescan(): Promise<bigint> {
    const { revision } = await this.clients.executions.getCounters({ nodeId: this.nodeId });
    for (const execution of await this.writer.listInStates([ExecutionState.CREATED])) this.onBid(execution.id, execution);
    for (const active of [...this.active.values()]) {
      const current = await this.writer.get(active.id);
      if (current === undefined || isTerminal(current.state)) this.endedElsewhere(active.id);
    }
    return revision + 1n;
  }

  private onEvent(event: ExecutionEvent): void {
    if (event.newState === ExecutionState.CREATED) {
      if (event.type === ExecutionEventType.CREATED) this.onBid(event.executionId);
    } else if (event.newState === ExecutionState.CANCELLED) {
      if (this.active.has(event.executionId)) this.logger.info({ executionId: event.executionId, message: event.message }, 'cancel received');
      this.endedElsewhere(event.executionId);
    } else if (this.active.get(event.executionId)?.phase === 'running') {
      // Only while the executor runs: in the other phases, a FAILED or COMPLETED is this node's own write.
      this.endedElsewhere(event.executionId);
    }
  }

  private endedElsewhere(executionId: string): void {
    const active = this.active.get(executionId);
    if (active !== undefined && !active.controller.signal.aborted) active.controller.abort({ kind: 'ended-elsewhere' } satisfies StopReason);
  }

  /** A CREATED execution is a bid: take it if a slot is free (and the labels fit), refuse it otherwise. */
  private onBid(executionId: string, listed?: Execution): void {
    if (this.active.has(executionId) || this.bidding.has(executionId)) return;
    this.bidding.add(executionId);
    this.track(
      (async () => {
        try {
          const execution = listed ?? (await this.writer.get(executionId));
          if (execution === undefined || execution.state !== ExecutionState.CREATED) return;
          const decision = decideBid({
            jobSpec: execution.jobSpec,
            labels: this.config.labels,
            slots: this.config.slots,
            busySlots: this.active.size,
            stopping: this.stopping,
          });
          if (!decision.accept) return await this.reject(execution, decision.reason);
          // Taken in the same turn as the decision, so that two bids cannot both see the last free slot.
          const active: ActiveExecution = {
            id: execution.id,
            requesterNodeId: execution.requesterNodeId,
            phase: 'accepting',
            controller: new AbortController(),
            release: () => {
              if (this.active.get(execution.id) === active) this.active.delete(execution.id);
            },
          };
          this.active.set(execution.id, active);
          this.bidding.delete(executionId);
          try {
            await runExecution(this.runner, execution, active);
          } finally {
            active.release();
          }
        } catch (error) {
          this.logger.error({ err: error, executionId }, 'execution abandoned after an error');
        } finally {
          this.bidding.delete(executionId);
        }
      })(),
    );
  }

  private async reject(execution: Execution, reason: string): Promise<void> {
    const result = await this.writer.move(execution.id, { to: ExecutionState.BID_REJECTED, from: [ExecutionState.CREATED], message: reason });
    if (!result.moved) return;
    this.logger.info({ executionId: execution.id, jobId: execution.jobId, reason }, 'bid rejected');
    await this.runner.reporter.report(execution, ExecutionState.BID_REJECTED, reason);
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }
}

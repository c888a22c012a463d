import { setTimeout as sleep } from 'node:timers/promises';
import { JobEventType, NodeDatabaseKind, OnlineFilter } from '@jobkeep/api';
import { JobkeepError, isJobkeepError, registerUnderLease, watchJobs, type LeaseKeeper } from '@jobkeep/client';
import type { Logger } from 'pino';
import { ExecutionFollower } from './execution-follower.js';
import { NodePicker, type ComputeNode } from './node-picker.js';
import { ReconcileQueue } from './reconcile-queue.js';
import { rescanJobs } from './recovery.js';
import { connectRequester, type RequesterClients } from './requester-clients.js';
import type { DaemonConfig } from './requester-config.js';
import { Scheduler } from './scheduler.js';
import { WatchCheckpoint } from './watch-checkpoint.js';
import { TERMINAL_EXECUTION_STATES, millis } from './wire-values.js';

/** Every this many ticks, live executions are compared with their compute nodes (recoverLostReports). */
const LOST_REPORT_CHECK_TICKS = 5;
/** How old an end on the compute side must be before its report counts as lost. */
const LOST_REPORT_GRACE_MS = 5000;

/**
 * The history events a requester acts on: new jobs (created here, or moved here by a drain),
 * state changes and execution reports. The rest (deletes, batches) are not its business.
 */
const WATCHED_EVENTS = [JobEventType.JOB_CREATED, JobEventType.JOB_MOVED_IN, JobEventType.JOB_STATE_CHANGED, JobEventType.EXECUTION_UPDATED];
/** How long a stop waits for reconciles in flight before it gives up on them. */
const STOP_GRACE_MS = 5000;

/**
 * Starts a requester node: registers it under a lease, recovers (reads its watch checkpoint,
 * reconciles every non-terminal job), then places jobs and follows its own database from the
 * checkpoint, saving it as it acts. Resolves once recovered and placing.
 */
export async function startRequesterDaemon(config: DaemonConfig, logger: Logger): Promise<RequesterDaemon> {
  const daemon = new RequesterDaemon(config, logger);
  await daemon.start();
  return daemon;
}

export class RequesterDaemon {
  private readonly stopping = new AbortController();
  private readonly picker = new NodePicker();
  private readonly scheduler: Scheduler;
  private readonly follower: ExecutionFollower;
  private readonly queue: ReconcileQueue;
  private readonly checkpoint: WatchCheckpoint;
  private lease: LeaseKeeper | undefined;
  private registering: Promise<void> | undefined;
  private watching: Promise<void> = Promise.resolve();
  private ticking: Promise<void> = Promise.resolve();

  private readonly clients: RequesterClients;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly config: DaemonConfig,
    private readonly logger: Logger,
  ) {
    const { nodeId } = config;
    const clients = connectRequester(config.server, config.security);
    this.clients = clients;
    this.queue = new ReconcileQueue({
      concurrency: config.concurrency,
      reconcile: (jobId) => this.follower.reconcile(jobId),
      onError: (jobId, error, retryInMs) => logger.warn({ jobId, err: error, retryInMs }, 'reconcile failed; will retry'),
    });
    this.scheduler = new Scheduler({
      nodeId,
      clients,
      picker: this.picker,
      logger,
      wake: (jobId) => void this.queue.mark(jobId),
      rejectCooldownMs: config.rejectCooldownMs,
    });
    this.follower = new ExecutionFollower({ nodeId, clients, picker: this.picker, scheduler: this.scheduler, logger });
    this.checkpoint = new WatchCheckpoint({ nodeId, clients, logger, lowestPending: () => this.queue.lowestPendingRevision() });
  }

  /**
   * Registers, recovers and starts placing; resolves once ready. A failure, or a stop that
   * comes first, stops what had started.
   */
  async start(): Promise<void> {
    try {
      // Kept where a stop waits for it: a stop during the wait revokes the lease it waited under.
      this.registering = this.register();
      await this.registering;
      const from = await this.checkpoint.load();
      // Before any reconcile: whether a node is offline is judged on a fresh read only.
      await this.refreshNodes();
      if (this.stopping.signal.aborted) return;
      this.logger.info({ checkpoint: from.toString() }, 'requester recovering');
      this.watching = this.follow(from + 1n, false);
      const jobs = await rescanJobs(this.clients.jobs, this.config.nodeId, (jobId) => this.queue.mark(jobId));
      if (this.stopping.signal.aborted) return;
      this.scheduler.start();
      this.ticking = this.tick();
      this.logger.info({ jobs, leaseId: this.lease?.leaseId.toString(), server: this.config.server }, 'requester ready');
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Stops following, saves the checkpoint, revokes the lease (taking the node offline). */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping.abort();
    this.scheduler.stop();
    await Promise.all([this.watching, this.ticking]);
    const drained = await Promise.race([this.queue.stop().then(() => true), sleep(STOP_GRACE_MS, false)]);
    if (!drained) this.logger.warn('reconciles still in flight at stop; the next start resumes them');
    await this.checkpoint.save().catch((error: unknown) => this.logger.warn({ err: error }, 'watch checkpoint not saved'));
    await this.registering?.catch(() => undefined);
    await this.lease?.stop({ revoke: true }).catch((error: unknown) => this.logger.warn({ err: error }, 'lease not revoked'));
    this.clients.close();
    this.logger.info('requester stopped');
  }

  /**
   * Registers the node as a requester under a new lease, once no other lease holds it, and under
   * yet another lease if this one is lost meanwhile (see registerUnderLease); again whenever the
   * lease it is registered under is lost.
   */
  private async register(): Promise<void> {
    const { nodeId, address, labels } = this.config;
    const { lease } = await registerUnderLease(
      { leases: this.clients.leases, registry: this.clients.nodes },
      { id: nodeId, kind: NodeDatabaseKind.REQUESTER, address, labels },
      this.config.leaseTtlSeconds,
      {
        signal: this.stopping.signal,
        onLost: (error, lost) => {
          if (this.stopping.signal.aborted) return;
          this.logger.warn({ err: error, leaseId: lost.leaseId.toString() }, 'lease lost; registering again');
          this.registering = this.registerAgain(lost);
        },
        onWaiting: ({ heldBy, leaseId, error }) =>
          this.logger.warn({ heldBy: String(heldBy), leaseId: String(leaseId), reason: error.message }, 'node online under another lease; waiting for it to end'),
        onLeaseReplaced: ({ leaseId, error }) =>
          this.logger.warn({ leaseId: String(leaseId), reason: error.message }, 'lease lost while waiting for the node; waiting on under a new lease'),
      },
    );
    this.lease = lease;
    this.logger.info({ leaseId: lease.leaseId.toString() }, 'requester registered');
  }

  private async registerAgain(lost: LeaseKeeper): Promise<void> {
    // Revoked too: a server restart may have revived it, and it would hold the old registration's place.
    await lost.stop({ revoke: true }).catch(() => undefined);
    for (let failures = 0; !this.stopping.signal.aborted; failures++) {
      try {
        await this.register();
        return;
      } catch (error) {
        this.logger.warn({ err: error }, 'registration failed; retrying');
        await sleep(Math.min(5000, 200 * 2 ** failures), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * Follows the requester's database from `fromRevision`: each event marks its job for a
   * reconcile, and the checkpoint moves as they are acted on. A history compacted past the
   * checkpoint is recovered from by following from now on and reconciling every live job again.
   */
  private async follow(fromRevision: bigint, rescanOnStart: boolean): Promise<void> {
    const signal = this.stopping.signal;
    let from = fromRevision;
    let rescan = rescanOnStart;
    while (!signal.aborted) {
      try {
        const watch = watchJobs(
          this.clients.jobs,
          { nodeId: this.config.nodeId, fromRevision: from, eventTypes: WATCHED_EVENTS },
          { signal, onRetry: (error, resumeFrom, delayMs) => this.logger.warn({ err: error, resumeFrom: resumeFrom.toString(), delayMs }, 'watch interrupted; resuming') },
        );
        for await (const message of watch) {
          if (message.kind.case === 'event') {
            const event = message.kind.value;
            void this.queue.mark(event.jobId, event.revision);
            this.checkpoint.see(event.revision);
          } else if (message.kind.case === 'progress') {
            this.checkpoint.see(message.kind.value.revision);
            if (rescan) {
              rescan = false;
              void this.rescan();
            }
          }
          this.checkpoint.saveSoon();
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof JobkeepError && error.code === 'OUT_OF_RANGE') {
          this.logger.warn({ err: error }, 'the history before the checkpoint was compacted away; rescanning every live job');
          from = 0n;
          rescan = true;
          continue;
        }
        this.logger.error({ err: error }, 'watch failed; reopening');
        from = this.checkpoint.resumeFrom;
        await sleep(1000, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  private async rescan(): Promise<void> {
    try {
      const jobs = await rescanJobs(this.clients.jobs, this.config.nodeId, (jobId) => this.queue.mark(jobId));
      this.logger.info({ jobs }, 'jobs rescanned');
    } catch (error) {
      this.logger.error({ err: error }, 'rescan failed');
    }
  }

  /**
   * Reads the registry every nodeCheckIntervalMs: executions on nodes that went offline get
   * their jobs reconciled (which fails them there), nodes that came online or cooled down get
   * waiting jobs, and the checkpoint is saved if it moved.
   */
  private async tick(): Promise<void> {
    const signal = this.stopping.signal;
    let ticks = 0;
    while (!signal.aborted) {
      try {
        await sleep(this.config.nodeCheckIntervalMs, undefined, { signal });
      } catch {
        return;
      }
      try {
        await this.refreshNodes();
        for (const [, { nodeId, jobId }] of this.picker.liveExecutions()) {
          if (this.picker.isOffline(nodeId)) void this.queue.mark(jobId);
        }
      } catch (error) {
        if (!signal.aborted) this.logger.warn({ err: error }, 'registry read failed');
      }
      if (++ticks % LOST_REPORT_CHECK_TICKS === 0) await this.recoverLostReports();
      this.scheduler.dispatchSoon();
      this.checkpoint.saveSoon();
    }
  }

  /**
   * A compute node's report of how a run ended can be lost: the node may crash between its own
   * write and the report, or the server be out of reach for longer than it retries. Every few
   * ticks each live execution is read on its node, and an end the view has not heard of is
   * copied into it; the follower then acts on it as on any report.
   */
  private async recoverLostReports(): Promise<void> {
    for (const [executionId, { nodeId, jobId }] of this.picker.liveExecutions()) {
      if (this.stopping.signal.aborted) return;
      try {
        const remote = (await this.clients.executions.getExecution({ nodeId, executionId })).execution;
        if (remote === undefined || !TERMINAL_EXECUTION_STATES.has(remote.state)) continue;
        // A report still on its way is not lost: only an end older than the grace is taken.
        if (Date.now() - millis(remote.modifyTime) < LOST_REPORT_GRACE_MS) continue;
        const view = (await this.clients.jobs.listExecutions({ nodeId: this.config.nodeId, jobId, pageSize: 1000 })).executions.find(
          (execution) => execution.id === executionId,
        );
        if (view === undefined || view.computeState === remote.state) continue;
        await this.clients.jobs.updateExecution({
          nodeId: this.config.nodeId,
          executionId,
          computeState: remote.state,
          message: remote.stateMessage,
        });
        this.logger.warn({ jobId, executionId, computeNodeId: nodeId }, 'a lost report of a compute node recovered');
        void this.queue.mark(jobId);
      } catch (error) {
        // NOT_FOUND: the compute side was never created (the follower creates it) or is gone.
        if (!isJobkeepError(error, 'NOT_FOUND')) this.logger.warn({ err: error, executionId }, 'checking an execution on its node failed');
      }
    }
  }

  private async refreshNodes(): Promise<void> {
    const nodes: ComputeNode[] = [];
    let pageToken = '';
    do {
      const page = await this.clients.nodes.list({ kind: NodeDatabaseKind.COMPUTE, online: OnlineFilter.ONLINE, pageSize: 1000, pageToken });
      for (const node of page.nodes) nodes.push({ id: node.id, labels: node.labels, slots: node.capacity?.slots ?? 0 });
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    this.picker.setOnlineNodes(nodes);
  }
}

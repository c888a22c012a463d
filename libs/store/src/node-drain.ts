import { setImmediate as yieldToIo } from 'node:timers/promises';
import { failedPrecondition, invalidArgument, isJobkeepError } from '@jobkeep/errors';
import type { Catalogue } from './catalogue.js';
import type { CoordinationDatabase } from './coordination-database.js';
import type { DatabasePool } from './database-pool.js';
import { checkNodeId } from './identifiers.js';
import { finishHalfDoneMoves, moveJobs, type MoveEnds } from './job-move.js';
import type { LeaseStore } from './lease-store.js';
import type { LockStore } from './lock-store.js';
import type { NodeDatabase } from './node-database.js';
import { LIVE_JOB_STATES_SQL } from './job-model.js';

/** Held while a drain runs, so that only one drainer moves jobs at a time. */
export const DRAIN_LOCK = '/jobkeep/drain';

export interface DrainProgress {
  /** Jobs moved so far by this run. */
  moved: number;
  /** Jobs this run found to move (it grows if a pass finds more). */
  total: number;
}

export interface DrainOutcome extends DrainProgress {
  /** The source is RETIRED: it holds no job that has not ended. */
  retired: boolean;
}

/** What finishInterrupted did on one source: the frozen jobs it removed (copied) or freed (not copied). */
export interface FinishedMoves {
  sourceNodeId: string;
  jobs: number;
}

export interface DrainOptions {
  onProgress?: (progress: DrainProgress) => void;
  /** Aborting stops the drain between two jobs; running it again carries on. */
  signal?: AbortSignal;
}

export interface DrainDependencies {
  pool: DatabasePool;
  catalogue: Catalogue;
  coordination: CoordinationDatabase;
  leases: LeaseStore;
  locks: LockStore;
  clock: () => number;
}

/** Jobs moved per three commits; the drain yields to other work between groups. */
const GROUP = 100;
/** The drain lock's lease lives this long without a keep-alive, which comes every third of it. */
const LEASE_TTL_SECONDS = 10;

/**
 * Drains one requester database into another, as a director is drained before it is retired:
 * 1. takes the drain lock (only one drainer runs);
 * 2. marks the source DRAINING, so that it refuses new jobs;
 * 3. moves every job that has not ended, oldest first, in groups of idempotent steps (job-move.ts);
 * 4. marks the source RETIRED once a pass finds nothing left to move.
 * A drain stopped at any point (aborted, or its process killed) is finished by running it again.
 */
export class NodeDrainer {
  private running = false;

  constructor(private readonly deps: DrainDependencies) {}

  async drain(sourceNodeId: string, targetNodeId: string, options: DrainOptions = {}): Promise<DrainOutcome> {
    checkNodeId(sourceNodeId);
    checkNodeId(targetNodeId);
    if (sourceNodeId === targetNodeId) throw invalidArgument(`a node cannot be drained into itself (${sourceNodeId})`);
    const { catalogue, pool } = this.deps;
    const source = pool.get('requester', sourceNodeId, false);
    if (this.running) throw failedPrecondition(`a drain is already running: only one drainer runs at a time (it holds ${DRAIN_LOCK})`);
    this.running = true;
    try {
      const holding = await this.takeDrainLock();
      try {
        // First, whatever an interrupted drain froze is freed, wherever it was going.
        finishHalfDoneMoves(source, sourceNodeId, (nodeId) => this.requesterDatabase(nodeId), this.deps.clock());
        catalogue.checkTakesNewRecords(targetNodeId, 'requester');
        if (catalogue.lifecycle(sourceNodeId, 'requester') === 'ACTIVE') catalogue.setLifecycle(sourceNodeId, 'requester', 'DRAINING');
        const ends: MoveEnds = { sourceNodeId, source, targetNodeId, target: pool.get('requester', targetNodeId, true), coordination: this.deps.coordination };
        const progress = await this.moveAll(ends, options);
        const retired = !options.signal?.aborted && this.retireIfEmpty(sourceNodeId, pool.get('requester', sourceNodeId, false));
        return { ...progress, retired };
      } finally {
        await holding.release();
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Finishes the moves that drains killed mid-way left half-done, on every node still DRAINING:
   * each frozen job is removed if its copy committed on the target, and freed otherwise. Run by
   * the server as it starts, so that no job refuses its changes ("try again in a moment") until
   * an operator happens to run the drain again; the jobs the drain had not reached yet stay
   * where they are, for that run. Without the drain lock: only the process holding the data
   * directory runs drains, none runs here (or it would finish them itself), and this is one
   * synchronous step, so none can start before it ends. A source that fails (its file refused,
   * say) goes to `onError`, its jobs stay frozen as they were, and the others go on.
   */
  finishInterrupted(onError: (sourceNodeId: string, error: unknown) => void): FinishedMoves[] {
    if (this.running) return [];
    const finished: FinishedMoves[] = [];
    for (const entry of this.deps.catalogue.list()) {
      if (entry.kind !== 'requester' || entry.lifecycle !== 'DRAINING') continue;
      try {
        const source = this.requesterDatabase(entry.nodeId);
        if (source === undefined) continue; // catalogued, but its file was removed
        const jobs = finishHalfDoneMoves(source, entry.nodeId, (nodeId) => this.requesterDatabase(nodeId), this.deps.clock());
        if (jobs > 0) finished.push({ sourceNodeId: entry.nodeId, jobs });
      } catch (error) {
        onError(entry.nodeId, error);
      }
    }
    return finished;
  }

  /** Moves groups of jobs, oldest first, until a pass over the source finds none left. */
  private async moveAll(ends: MoveEnds, { onProgress, signal }: DrainOptions): Promise<DrainProgress> {
    const progress: DrainProgress = { moved: 0, total: 0 };
    for (;;) {
      const groups = groupsOfLiveJobs(ends.source);
      if (groups.length === 0) return progress;
      progress.total += groups.reduce((sum, group) => sum + group.length, 0);
      onProgress?.({ ...progress });
      for (const jobIds of groups) {
        if (signal?.aborted) return progress;
        // Fetched again for each group: the pool may have closed an evicted handle in between.
        const current = { ...ends, source: this.deps.pool.get('requester', ends.sourceNodeId, false), target: this.deps.pool.get('requester', ends.targetNodeId, false) };
        const group = moveJobs(current, jobIds, this.deps.clock());
        progress.moved += group.moved;
        progress.total -= group.skipped; // they ended while the drain was on its way to them
        onProgress?.({ ...progress });
        if (group.refusal !== undefined) throw group.refusal;
        await yieldToIo();
      }
    }
  }

  private requesterDatabase(nodeId: string): NodeDatabase | undefined {
    try {
      return this.deps.pool.get('requester', nodeId, false);
    } catch (error) {
      if (isJobkeepError(error, 'NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /** RETIRED only when no job that has not ended is left; checked and marked with nothing in between. */
  private retireIfEmpty(nodeId: string, source: NodeDatabase): boolean {
    if (liveJobCount(source) > 0) return false;
    this.deps.catalogue.setLifecycle(nodeId, 'requester', 'RETIRED');
    return true;
  }

  /**
   * The drain lock, under a lease kept alive while the drain runs. Only the process holding the
   * data directory runs drains, and `running` says whether one runs here: so a lock still held
   * when none runs was left by a drainer that died, and is taken over.
   */
  private async takeDrainLock(): Promise<{ release: () => Promise<void> }> {
    const { leases, locks } = this.deps;
    const lease = await leases.grant(LEASE_TTL_SECONDS);
    const keepAlive = setInterval(() => void leases.keepAlive(lease.id).catch(() => {}), (LEASE_TTL_SECONDS * 1000) / 3);
    keepAlive.unref();
    const release = async () => {
      clearInterval(keepAlive);
      await leases.revoke(lease.id).catch(() => {}); // its end releases the lock
    };
    try {
      try {
        await locks.acquire({ name: DRAIN_LOCK, leaseId: lease.id });
      } catch (error) {
        if (!isJobkeepError(error, 'FAILED_PRECONDITION')) throw error;
        await locks.forceRelease(DRAIN_LOCK);
        await locks.acquire({ name: DRAIN_LOCK, leaseId: lease.id });
      }
      return { release };
    } catch (error) {
      await release();
      throw error;
    }
  }
}

/**
 * Every job of the source that has not ended, oldest first, in groups of about GROUP. A batch's
 * live jobs all go in one group, however many, so that they reach the target in one commit: a
 * batch never completes there while some of its live jobs are still on the source. One sorted read
 * of every live job rather than a sort per page, since a drain is bounded by its commits.
 */
function groupsOfLiveJobs(db: NodeDatabase): string[][] {
  const rows = db.read(
    () => db.statement(`SELECT id, batch_id FROM jobs WHERE state IN ${LIVE_JOB_STATES_SQL} ORDER BY create_revision`).all() as { id: string; batch_id: string }[],
  );
  const batches = new Map<string, string[]>();
  for (const row of rows) if (row.batch_id !== '') batches.set(row.batch_id, [...(batches.get(row.batch_id) ?? []), row.id]);
  const groups: string[][] = [];
  let group: string[] = [];
  for (const row of rows) {
    if (row.batch_id === '') group.push(row.id);
    else if (batches.has(row.batch_id)) {
      group.push(...batches.get(row.batch_id)!);
      batches.delete(row.batch_id);
    }
    if (group.length >= GROUP) {
      groups.push(group);
      group = [];
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

function liveJobCount(db: NodeDatabase): number {
  return db.read(
    () => (db.statement(`SELECT coalesce(sum(count), 0) AS n FROM job_state_counts WHERE state IN ${LIVE_JOB_STATES_SQL}`).get() as { n: number }).n,
  );
}


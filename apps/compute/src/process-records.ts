import { NodeDatabaseKind } from '@jobkeep/api';
import { isJobkeepError, type CheckpointStoreClient } from '@jobkeep/client';
import type { Logger } from './logger.js';
import { bootId, processStartTicks, signalGroup } from './process-group.js';

/** The checkpoint, in the node's compute database, that lists the process groups of its runs. */
export const PROCESS_GROUPS_CHECKPOINT = 'compute/process-groups';

interface GroupRecord {
  pgid: number;
  /** The leader's start time (see processStartTicks), so that a reused pid is not mistaken for it. */
  startTicks?: string;
}

interface RecordsData {
  bootId?: string;
  groups: Record<string, GroupRecord>;
}

/**
 * The process groups of this node's exec runs, kept in a checkpoint of its compute database.
 * Runs are their own process groups, so a compute agent killed with SIGKILL leaves them running;
 * the next start of the node reads the checkpoint and kills what is left of them before it fails
 * their executions, so that a requester retrying them elsewhere never has two copies running.
 */
export class ProcessRecords {
  private readonly groups = new Map<string, GroupRecord>();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: CheckpointStoreClient,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Kills the process groups that an earlier run of this node recorded and that still exist,
   * then starts a fresh record. The write also creates the node's compute database if it does
   * not exist yet, so that the node can list and watch it before any requester has written to it.
   */
  async reapLeftovers(): Promise<{ executionId: string; pgid: number }[]> {
    const reaped: { executionId: string; pgid: number }[] = [];
    const previous = await this.read();
    const thisBoot = bootId();
    if (previous !== undefined && Object.keys(previous.groups).length > 0) {
      if (thisBoot === undefined || previous.bootId !== thisBoot) {
        this.logger.info({ groups: Object.keys(previous.groups).length }, 'process records from another boot or machine ignored');
      } else {
        for (const [executionId, group] of Object.entries(previous.groups)) {
          if (isSameGroup(group) && signalGroup(group.pgid, 'SIGKILL')) reaped.push({ executionId, pgid: group.pgid });
        }
      }
    }
    await this.write();
    return reaped;
  }

  /** Records a run's process group; the write happens in the background, in order with the others. */
  add(executionId: string, pgid: number): Promise<void> {
    this.groups.set(executionId, { pgid, startTicks: processStartTicks(pgid) });
    return this.schedule();
  }

  remove(executionId: string): Promise<void> {
    if (!this.groups.delete(executionId)) return this.writing;
    return this.schedule();
  }

  /** Resolves once every change so far is written (or failed, which is logged). */
  flush(): Promise<void> {
    return this.writing;
  }

  private schedule(): Promise<void> {
    this.writing = this.writing.then(() =>
      this.write().catch((error: unknown) => this.logger.warn({ err: error }, 'process records not saved')),
    );
    return this.writing;
  }

  private async read(): Promise<RecordsData | undefined> {
    try {
      const { checkpoint } = await this.client.getCheckpoint({ nodeId: this.nodeId, kind: NodeDatabaseKind.COMPUTE, name: PROCESS_GROUPS_CHECKPOINT });
      const data = JSON.parse(Buffer.from(checkpoint?.data ?? new Uint8Array()).toString('utf8') || '{}') as Partial<RecordsData>;
      return { bootId: data.bootId, groups: data.groups ?? {} };
    } catch (error) {
      if (isJobkeepError(error) && error.code === 'NOT_FOUND') return undefined;
      if (error instanceof SyntaxError) {
        this.logger.warn({ err: error }, 'process records unreadable; ignored');
        return undefined;
      }
      throw error;
    }
  }

  private async write(): Promise<void> {
    const data: RecordsData = { bootId: bootId(), groups: Object.fromEntries(this.groups) };
    await this.client.putCheckpoint({
      nodeId: this.nodeId,
      kind: NodeDatabaseKind.COMPUTE,
      name: PROCESS_GROUPS_CHECKPOINT,
      data: Buffer.from(JSON.stringify(data)),
    });
  }
}

/**
 * Whether the recorded group is still the one the run started. While its leader lives, its
 * start time says so. Once the leader is gone, a group that still exists is taken for the run's:
 * Linux hands out no pid that is still some group's id, so the group keeps its number only while
 * processes of the run remain in it.
 */
function isSameGroup(group: GroupRecord): boolean {
  const ticks = processStartTicks(group.pgid);
  if (ticks !== undefined) return group.startTicks !== undefined && ticks === group.startTicks;
  return signalGroup(group.pgid, 0);
}

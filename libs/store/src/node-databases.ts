import { isJobkeepError } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { DatabasePool } from './database-pool.js';
import type { NodeDatabaseKind } from './database-locations.js';
import { checkNodeId } from './identifiers.js';
import { writeGuarded, type LockGuard } from './lock-guard-check.js';
import type { NodeDatabase } from './node-database.js';

/** The node databases of one kind, as every store facade reaches them. */
export class NodeDatabases {
  constructor(
    private readonly pool: DatabasePool,
    private readonly kind: NodeDatabaseKind,
    /** Where lock guards are checked. */
    private readonly coordination: CoordinationDatabase,
    private readonly now: () => number,
  ) {}

  /** The node's database; only a write that may create it (`create`) brings it into being. */
  get(nodeId: string, create = false): NodeDatabase {
    return this.pool.get(this.kind, checkNodeId(nodeId), create);
  }

  /** The node's database, or undefined when it has none. */
  existing(nodeId: string): NodeDatabase | undefined {
    try {
      return this.get(nodeId);
    } catch (error) {
      if (isJobkeepError(error, 'NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /**
   * One write transaction on the node's database, refused (ABORTED) unless `guard` holds;
   * `records`: how many records it makes, for the bounds of group commit.
   */
  write<T>(nodeId: string, guard: LockGuard | undefined, create: boolean, work: (db: NodeDatabase, now: number) => T, records = 1): Promise<T> {
    return writeGuarded(this.coordination, guard, this.now, () => this.get(nodeId, create), work, records);
  }
}

import { setImmediate as yieldToIo } from 'node:timers/promises';
import { isJobkeepError } from '@jobkeep/errors';
import type { Catalogue } from './catalogue.js';
import type { NodeDatabaseKind } from './database-locations.js';
import type { DatabasePool } from './database-pool.js';
import { applyRetention, type RetentionOptions, type RetentionReport } from './retention.js';
import type { RetentionPolicy } from './retention-policy.js';

/** The policy of each kind of node database: jobs in requester ones, executions in compute ones. */
export type RetentionPolicies = Readonly<Record<NodeDatabaseKind, RetentionPolicy>>;

export const KEEP_EVERYTHING: RetentionPolicies = { requester: {}, compute: {} };

/**
 * Runs retention over the catalogued node databases, one at a time. Kinds whose policy keeps
 * everything (the default) are not even opened.
 */
export class RetentionRunner {
  constructor(
    private readonly pool: DatabasePool,
    private readonly catalogue: Catalogue,
    private readonly policies: RetentionPolicies,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether any kind has a rule at all. */
  get active(): boolean {
    return Object.values(this.policies).some((policy) => Object.keys(policy).length > 0);
  }

  /**
   * One database; undefined when its kind keeps everything or its file is gone. With `dryRun`,
   * what it would do, and nothing written.
   */
  async runOne(kind: NodeDatabaseKind, nodeId: string, options: RetentionOptions = {}): Promise<RetentionReport | undefined> {
    const policy = this.policies[kind];
    if (Object.keys(policy).length === 0) return undefined;
    try {
      return await applyRetention(() => this.pool.get(kind, nodeId, false), kind, nodeId, policy, this.now(), options);
    } catch (error) {
      if (isJobkeepError(error, 'NOT_FOUND')) return undefined; // catalogued, but the file was removed
      throw error;
    }
  }

  /**
   * Every catalogued database, in catalogue order, yielding to I/O between them. A database that
   * fails (refused as too new, say) is reported to `onError` and the pass goes on to the next.
   * An aborted `signal` ends the pass early; `dryRun` reports without writing.
   */
  async runAll(
    onError: (kind: NodeDatabaseKind, nodeId: string, error: unknown) => void,
    options: RetentionOptions = {},
  ): Promise<RetentionReport[]> {
    const reports: RetentionReport[] = [];
    for (const entry of this.catalogue.list()) {
      if (options.signal?.aborted) break;
      try {
        const report = await this.runOne(entry.kind, entry.nodeId, options);
        if (report !== undefined) reports.push(report);
      } catch (error) {
        onError(entry.kind, entry.nodeId, error);
      }
      await yieldToIo();
    }
    return reports;
  }
}

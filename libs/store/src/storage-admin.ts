import fs from 'node:fs';
import { failedPrecondition, invalidArgument, notFound } from '@jobkeep/errors';
import type { Catalogue, CatalogueEntry } from './catalogue.js';
import type { DatabasePool } from './database-pool.js';
import { parseDatabaseName } from './database-names.js';
import { importRows, type ImportOutcome } from './database-import.js';
import { TERMINAL_EXECUTION_STATES } from './execution-model.js';
import { checkNodeId } from './identifiers.js';
import { TERMINAL_JOB_STATES } from './job-model.js';
import type { NodeDrainer, DrainOptions, DrainOutcome, FinishedMoves } from './node-drain.js';
import type { RetentionReport } from './retention.js';
import type { RetentionRunner } from './retention-runner.js';
import { StagedExport } from './staged-export.js';
import { readStateCounters } from './state-counters.js';

/**
 * What the admin tool changes, the same whether it runs inside the server (AdminService) or on
 * a data directory it holds itself. Reads of files (tables, stats, check, export) need no open
 * storage and are plain functions instead.
 */
export interface StorageAdmin {
  /** Loads an export into a new or empty node database, in one transaction (database-import.ts), holding none of it in memory. */
  importDatabase(name: string, lines: AsyncIterable<string> | Iterable<string>): Promise<ImportOutcome>;
  /** Retention over one database or all of them; with `dryRun`, what it would do. */
  runRetention(name: string | undefined, dryRun: boolean): Promise<RetentionReport[]>;
  drainNode(sourceNodeId: string, targetNodeId: string, options?: DrainOptions): Promise<DrainOutcome>;
  /** Finishes what drains killed mid-way left frozen (NodeDrainer.finishInterrupted); run as the server starts. */
  finishInterruptedDrains(onError: (sourceNodeId: string, error: unknown) => void): FinishedMoves[];
  /** Marks every database of the node RETIRED; refused while any holds a record that has not ended. */
  retireNode(nodeId: string): CatalogueEntry[];
}

/** `stagingDir` holds the staging file of an import while it runs (see StagedExport). */
export function storageAdmin(
  pool: DatabasePool,
  catalogue: Catalogue,
  retention: RetentionRunner,
  drainer: NodeDrainer,
  stagingDir: string,
): StorageAdmin {
  return {
    async importDatabase(name, lines) {
      const ref = parseDatabaseName(name);
      if (ref.kind === 'coordination') throw invalidArgument('only node databases can be imported; coordination.db is made by the server');
      // Read whole into a staging file (in the data directory, which holds the space a database
      // takes) before anything is created; a new database that the rows then fail to go into is
      // removed again, so that bad input leaves nothing behind.
      const staged = await StagedExport.read(lines, stagingDir);
      try {
        if (staged.header.kind !== ref.kind) {
          throw invalidArgument(`an export of a ${staged.header.kind} database cannot be imported into ${name}, a ${ref.kind} database`);
        }
        catalogue.checkTakesNewRecords(ref.nodeId, ref.kind);
        const created = !fs.existsSync(pool.path(ref.kind, ref.nodeId));
        const db = pool.get(ref.kind, ref.nodeId, true);
        try {
          return db.writeNow(() => importRows(db.db, ref.kind, staged));
        } catch (error) {
          if (created) pool.discardNew(ref.kind, ref.nodeId);
          throw error;
        }
      } finally {
        staged.discard();
      }
    },

    async runRetention(name, dryRun) {
      if (name === undefined) return retention.runAll(() => {}, { dryRun });
      const ref = parseDatabaseName(name);
      if (ref.kind === 'coordination') throw invalidArgument('retention applies to node databases; coordination.db has none');
      pool.get(ref.kind, ref.nodeId, false); // NOT_FOUND for a database that does not exist
      const report = await retention.runOne(ref.kind, ref.nodeId, { dryRun });
      return report === undefined ? [] : [report];
    },

    drainNode: (sourceNodeId, targetNodeId, options) => drainer.drain(sourceNodeId, targetNodeId, options),
    finishInterruptedDrains: (onError) => drainer.finishInterrupted(onError),

    retireNode(nodeId) {
      checkNodeId(nodeId);
      const entries = catalogue.list().filter((entry) => entry.nodeId === nodeId);
      if (entries.length === 0) throw notFound(`node ${nodeId} has no database to retire`);
      const live = entries.flatMap((entry) => {
        if (!fs.existsSync(entry.path)) return []; // catalogued, but its file was removed
        const counts = readStateCounters(pool.get(entry.kind, nodeId, false), entry.kind);
        const ended: ReadonlySet<string> = entry.kind === 'requester' ? TERMINAL_JOB_STATES : TERMINAL_EXECUTION_STATES;
        return Object.entries(counts)
          .filter(([state, count]) => count > 0 && !ended.has(state))
          .map(([state, count]) => `${count} ${state} ${entry.kind === 'requester' ? 'jobs' : 'executions'}`);
      });
      if (live.length > 0) {
        throw failedPrecondition(`node ${nodeId} cannot be retired: it still holds ${live.join(', ')}; drain it or let them end first`);
      }
      for (const entry of entries) catalogue.setLifecycle(nodeId, entry.kind, 'RETIRED');
      return catalogue.list().filter((entry) => entry.nodeId === nodeId);
    },
  };
}

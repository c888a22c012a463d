import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument, notFound } from '@jobkeep/errors';
import {
  DatabaseLocations,
  backupDatabase,
  checkNewAccessToken,
  checkDatabaseFile,
  compactDatabase,
  existingDatabase,
  exportDatabase,
  getRows,
  holdDataDir,
  listDatabaseInfos,
  listKeys,
  listTableNames,
  listTables,
  openStorage,
  readAccessTokensFile,
  readDatabaseStats,
  readJobHistoryFile,
  readLocksFile,
  readNodesFile,
  type RetentionPolicies,
  type Storage,
} from '@jobkeep/store';
import type { AdminBackend } from './admin-backend.js';
import { fileDatabaseName, type AdminTarget } from './admin-target.js';
import type { DatabaseKindName } from './admin-views.js';
import { accessTokenFromStore, databaseFromStore, jobEventFromStore, lockFromStore, nodeFromStore, retentionFromStore, statsFromStore } from './offline-views.js';

/** A table only one kind of database has, tried in this order. */
const KIND_MARKERS: readonly [string, DatabaseKindName][] = [
  ['jobs', 'requester'],
  ['execution_history', 'compute'],
  ['leases', 'coordination'],
];

/** A database file: where it is and what kind of database it holds. */
interface DatabaseFile {
  file: string;
  kind: DatabaseKindName;
}

/**
 * The admin commands on the files themselves. Reads open each file read-only, in one snapshot,
 * and work while a server writes it. Writes first take the data directory's hold, which a live
 * server keeps for as long as it runs: they are refused (FAILED_PRECONDITION, naming the server)
 * rather than ever write beside it.
 */
export function openOfflineBackend(target: Exclude<AdminTarget, { mode: 'live' }>): AdminBackend {
  const single = target.mode === 'file' ? target.file : undefined;
  const dataDir = target.mode === 'offline' ? target.dataDir : path.dirname(target.file);
  // The server's own location settings, so that offline reads find the files it wrote and
  // offline writes put new ones where it will look.
  const settings = target.mode === 'offline' ? { dataDir, jobStorePath: target.jobStorePath, computeStorePath: target.computeStorePath } : { dataDir };
  const locations = new DatabaseLocations(settings);

  function database(name: string): DatabaseFile {
    if (single !== undefined) {
      if (!fs.existsSync(single)) throw notFound(`no file ${single}`);
      if (name !== fileDatabaseName(single)) throw invalidArgument(`with --file, the database is ${fileDatabaseName(single)}, not ${name}`);
      // Names only, from sqlite_schema: counting rows would read the tables, and fail on the
      // very damaged file `check` is meant to report on.
      const tables = new Set(listTableNames(single));
      const kind = KIND_MARKERS.find(([table]) => tables.has(table))?.[1];
      if (kind === undefined) throw invalidArgument(`${single} is not a jobkeep database: it has none of the tables jobs, execution_history or leases`);
      return { file: single, kind };
    }
    const { ref, file } = existingDatabase(locations, name);
    return { file, kind: ref.kind };
  }

  const coordinationFile = () => database('coordination').file;

  /**
   * Runs `write` on the data directory, holding it so that no server starts meanwhile. Only
   * `createDataDir` writes make a data directory where there is none.
   */
  async function holding<T>(write: (storage: Storage) => Promise<T> | T, options: { retention?: RetentionPolicies; createDataDir?: boolean } = {}): Promise<T> {
    if (options.createDataDir !== true && !fs.existsSync(locations.coordinationPath)) throw notFound(`${dataDir} is not a jobkeep data directory: it has no coordination.db`);
    const hold = holdDataDir(dataDir, { role: 'admin' });
    try {
      const storage = openStorage({ ...settings, refreshLeasesAtOpen: false, retention: options.retention });
      try {
        return await write(storage);
      } finally {
        storage.close();
      }
    } finally {
      hold.release();
    }
  }

  return {
    where: single === undefined ? `data dir ${dataDir}` : `file ${single}`,
    close() {},

    async listDatabases() {
      return listDatabaseInfos(locations).map(databaseFromStore);
    },
    async checkDatabase(name) {
      const { file, kind } = database(name);
      return checkDatabaseFile(kind, file).map(({ check, message }) => ({ check, message }));
    },
    async listTables(name) {
      return listTables(database(name).file).map(({ name: table, rows, keyColumns }) => ({ name: table, rows, keyColumns: [...keyColumns] }));
    },
    async databaseStats(name) {
      return statsFromStore(readDatabaseStats(database(name).file));
    },
    async listKeys(name, table, query) {
      const { keys, truncated } = listKeys(database(name).file, table, query);
      return { keys, truncated };
    },
    async getRows(name, table, key) {
      return getRows(database(name).file, table, key);
    },
    async compact(name, dest, onProgress) {
      const outcome = compactDatabase(database(name).file, dest);
      onProgress(outcome.copyBytes, outcome.copyBytes);
      return outcome;
    },
    async backup(name, dest, onProgress) {
      const outcome = await backupDatabase(database(name).file, dest);
      onProgress(outcome.copyBytes, outcome.copyBytes);
      return outcome;
    },
    async exportDatabase(name) {
      const opened = exportDatabase(database(name).file);
      async function* lines() {
        try {
          yield* opened.lines();
        } finally {
          opened.close();
        }
      }
      return { totalRows: opened.totalRows, lines: lines() };
    },
    importDatabase: (name, lines) => holding((storage) => storage.admin.importDatabase(name, lines)),

    async listNodes() {
      return readNodesFile(coordinationFile()).map(nodeFromStore).sort((a, b) => a.id.localeCompare(b.id));
    },
    async listLocks() {
      return readLocksFile(coordinationFile()).map(lockFromStore).sort((a, b) => a.name.localeCompare(b.name));
    },
    releaseLock: (name) => holding((storage) => storage.lockStore.forceRelease(name)),
    async jobHistory(nodeId, jobId) {
      return readJobHistoryFile(database(`${nodeId}-requester`).file, jobId).map(jobEventFromStore);
    },

    runRetention: (name, { dryRun, policies }) =>
      holding(async (storage) => (await storage.admin.runRetention(name, dryRun)).map(retentionFromStore), { retention: policies }),
    drainNode: (from, to, { onProgress, signal }) =>
      holding(async (storage) => {
        const outcome = await storage.admin.drainNode(from, to, { signal, onProgress: ({ moved, total }) => onProgress({ moved, total, retired: false }) });
        return { moved: outcome.moved, total: outcome.total, retired: outcome.retired };
      }),
    retireNode: (nodeId) =>
      holding((storage) => {
        storage.admin.retireNode(nodeId);
        return listDatabaseInfos(locations)
          .filter((info) => info.nodeId === nodeId)
          .map(databaseFromStore);
      }),

    // The first admin token is made here, before the server's first start: a data directory is
    // created when there is none, once the input is known to be good.
    async createAccessToken(input) {
      checkNewAccessToken(input);
      return holding(
        async (storage) => {
          const { token, accessToken } = await storage.accessTokens.create(input);
          return { token, accessToken: accessTokenFromStore(accessToken) };
        },
        { createDataDir: true },
      );
    },
    async listAccessTokens({ includeRevoked }) {
      return readAccessTokensFile(coordinationFile(), { includeRevoked }).map(accessTokenFromStore);
    },
    revokeAccessToken: (id) => holding(async (storage) => accessTokenFromStore(await storage.accessTokens.revoke(id))),
  };
}

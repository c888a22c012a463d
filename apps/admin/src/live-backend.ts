import fs from 'node:fs';
import { AdminService, TokenRole, createTypedClient, type CopyStarted } from '@jobkeep/api';
import { connectionSecurity, createJobStoreClient, createLockClient, createNodeRegistryClient, type ConnectionSecuritySettings } from '@jobkeep/client';
import { JobkeepError } from '@jobkeep/errors';
import type { AdminBackend, ProgressListener } from './admin-backend.js';
import type { CopyOutcome, JobEventView, LockView, NodeView } from './admin-views.js';
import { accessTokenFromWire, databaseFromWire, jobEventFromWire, lockFromWire, nodeFromWire, retentionFromWire, statsFromWire } from './live-views.js';
import { writeWholeFile } from './whole-file.js';

/** Admin calls scan or copy whole databases: far longer than the 10 s an agent's call gets. */
const ADMIN_DEADLINE_MS = 10 * 60_000;
/** How long to wait for the server before saying it is not there. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Lines per ImportDatabase message, well under the server's message limit for normal rows. */
const IMPORT_BATCH_LINES = 500;
const IMPORT_BATCH_BYTES = 1024 * 1024;

const TOKEN_ROLES = { admin: TokenRole.ADMIN, agent: TokenRole.AGENT, reader: TokenRole.READER } as const;

type CopyMessage = { part: { case: 'started'; value: CopyStarted } | { case: 'chunk'; value: Uint8Array } | { case: undefined; value?: undefined } };

/** The admin commands through a running server: AdminService, and the registry, locks and history. */
export async function connectLiveBackend(server: string, settings: ConnectionSecuritySettings): Promise<AdminBackend> {
  const security = connectionSecurity(settings);
  const admin = createTypedClient(AdminService, server, { ...security, defaultDeadlineMs: ADMIN_DEADLINE_MS });
  const nodes = createNodeRegistryClient(server, security);
  const locks = createLockClient(server, security);
  const jobs = createJobStoreClient(server, security);
  const close = () => [admin, nodes, locks, jobs].forEach((client) => client.close());
  try {
    await admin.waitForReady(Date.now() + CONNECT_TIMEOUT_MS);
  } catch (error) {
    close();
    throw new JobkeepError('UNAVAILABLE', `no jobkeep server answers at ${server} (${(error as Error).message})`, { cause: error });
  }

  return {
    where: `server ${server}`,
    close,

    async listDatabases() {
      return (await admin.listDatabases({})).databases.map(databaseFromWire);
    },
    async checkDatabase(database) {
      return (await admin.checkDatabase({ database })).problems.map(({ check, message }) => ({ check, message }));
    },
    async listTables(database) {
      return (await admin.listTables({ database })).tables.map((table) => ({ name: table.name, rows: Number(table.rows), keyColumns: [...table.keyColumns] }));
    },
    async databaseStats(database) {
      const { stats } = await admin.getDatabaseStats({ database });
      if (stats === undefined) throw new JobkeepError('INTERNAL', `the server sent no statistics for ${database}`);
      return statsFromWire(stats);
    },
    async listKeys(database, table, { prefix, limit }) {
      const { keys, truncated } = await admin.listKeys({ database, table, prefix, limit });
      return { keys: [...keys], truncated };
    },
    async getRows(database, table, key) {
      return (await admin.getRows({ database, table, key })).rowsJson.map((row) => JSON.parse(row) as unknown);
    },
    compact: (database, dest, onProgress) => receiveCopy(admin.compactDatabase({ database }), dest, onProgress),
    backup: (database, dest, onProgress) => receiveCopy(admin.backupDatabase({ database }), dest, onProgress),

    async exportDatabase(database) {
      const iterator = admin.exportDatabase({ database })[Symbol.asyncIterator]();
      // The first message carries the total; reading it also surfaces NOT_FOUND before any output.
      const first = await iterator.next();
      const totalRows = first.done ? 0 : Number(first.value.totalRows);
      async function* lines() {
        try {
          if (first.done) return;
          yield* first.value.lines;
          for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield* next.value.lines;
        } finally {
          await iterator.return?.();
        }
      }
      return { totalRows, lines: lines() };
    },
    async importDatabase(database, lines) {
      const outcome = await admin.importDatabase(importMessages(database, lines), { deadlineMs: ADMIN_DEADLINE_MS });
      return { rowsImported: Number(outcome.rowsImported), unchanged: outcome.unchanged };
    },

    async listNodes() {
      const found: NodeView[] = [];
      let pageToken = '';
      do {
        const page = await nodes.list({ includeArchived: true, pageSize: 1000, pageToken });
        found.push(...page.nodes.map(nodeFromWire));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return found.sort((a, b) => a.id.localeCompare(b.id));
    },
    async listLocks() {
      const found: LockView[] = [];
      let pageToken = '';
      do {
        const page = await locks.list({ pageSize: 1000, pageToken });
        found.push(...page.locks.map(lockFromWire));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return found.sort((a, b) => a.name.localeCompare(b.name));
    },
    async releaseLock(name) {
      await locks.forceRelease({ name });
    },
    async jobHistory(nodeId, jobId) {
      const events: JobEventView[] = [];
      let pageToken = '';
      do {
        const page = await jobs.getJobHistory({ nodeId, jobId, pageSize: 1000, pageToken });
        events.push(...page.events.map(jobEventFromWire));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return events;
    },

    async runRetention(database, { dryRun }) {
      return (await admin.runRetention({ database: database ?? '', dryRun })).outcomes.map(retentionFromWire);
    },
    async drainNode(sourceNodeId, targetNodeId, { onProgress, signal }) {
      let last = { moved: 0, total: 0, retired: false };
      // Cancelling the call stops the server's drain after the job it is moving.
      for await (const progress of admin.drainNode({ sourceNodeId, targetNodeId }, { signal })) {
        last = { moved: Number(progress.moved), total: Number(progress.total), retired: progress.retired };
        onProgress(last);
      }
      return last;
    },
    async retireNode(nodeId) {
      return (await admin.retireNode({ nodeId })).databases.map(databaseFromWire);
    },

    async createAccessToken({ name, role, nodeIds }) {
      const created = await admin.createAccessToken({ name, role: TOKEN_ROLES[role], nodeIds });
      if (created.accessToken === undefined) throw new JobkeepError('INTERNAL', 'the server sent a token without its record');
      return { token: created.token, accessToken: accessTokenFromWire(created.accessToken) };
    },
    async listAccessTokens({ includeRevoked }) {
      return (await admin.listAccessTokens({ includeRevoked })).accessTokens.map(accessTokenFromWire);
    },
    async revokeAccessToken(id) {
      const { accessToken } = await admin.revokeAccessToken({ id });
      if (accessToken === undefined) throw new JobkeepError('INTERNAL', `the server sent no record of the revoked token ${id}`);
      return accessTokenFromWire(accessToken);
    },
  };
}

/** Writes a streamed copy (`started`, then chunks) to `dest`, whole or not at all. */
async function receiveCopy(stream: AsyncIterable<CopyMessage>, dest: string, onProgress: ProgressListener): Promise<CopyOutcome> {
  return writeWholeFile(dest, async (temp) => {
    const handle = await fs.promises.open(temp, 'wx');
    try {
      let outcome: CopyOutcome | undefined;
      let written = 0;
      for await (const { part } of stream) {
        if (part.case === 'started') {
          outcome = { sourceBytes: Number(part.value.sourceBytes), copyBytes: Number(part.value.copyBytes) };
          onProgress(0, outcome.copyBytes);
        } else if (part.case === 'chunk') {
          if (outcome === undefined) throw new JobkeepError('INTERNAL', 'the server sent file bytes before saying how many');
          await handle.write(part.value);
          written += part.value.length;
          onProgress(written, outcome.copyBytes);
        }
      }
      if (outcome === undefined || written !== outcome.copyBytes) {
        throw new JobkeepError('INTERNAL', `the copy ended after ${written} of ${outcome?.copyBytes ?? '?'} bytes`);
      }
      return outcome;
    } finally {
      await handle.close();
    }
  });
}

/** ImportDatabase requests: the database in the first, then lines in batches. */
async function* importMessages(database: string, lines: AsyncIterable<string>) {
  let batch: string[] = [];
  let bytes = 0;
  let first = true;
  for await (const line of lines) {
    batch.push(line);
    bytes += line.length;
    if (batch.length >= IMPORT_BATCH_LINES || bytes >= IMPORT_BATCH_BYTES) {
      yield { database: first ? database : '', lines: batch };
      first = false;
      batch = [];
      bytes = 0;
    }
  }
  if (first || batch.length > 0) yield { database: first ? database : '', lines: batch };
}

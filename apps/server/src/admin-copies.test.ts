import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { checkNodeDatabase } from '@jobkeep/store';
import { describe, expect, it } from 'vitest';
import { COPY_CHUNK_BYTES, adminTempRoot } from './admin-copy-stream.js';
import { collect, saveCopy, useAdminServers } from './test-support/admin-clients.js';
import { failsWith } from './test-support/fails-with.js';

const NODE = 'alpha';
const SOURCE = `${NODE}-requester`;

describe('jobkeep.v1.AdminService over gRPC: copies, export and import', () => {
  const servers = useAdminServers();

  /** A server whose requester database holds `jobs` jobs of about 2 KB each, some of them cancelled. */
  const startWithJobs = async (jobs = 300) => {
    const started = await servers.start();
    const { batches, jobStore } = started.server.storage;
    const created = await batches.createBatch(NODE, {
      jobs: Array.from({ length: jobs }, (_, index) => ({ name: `job-${index}`, labels: { shard: String(index % 4) }, spec: { payload: 'x'.repeat(2000) } })),
    });
    for (const jobId of created.jobIds.slice(0, 10)) await jobStore.updateJobState(NODE, { jobId, newState: 'CANCELLED' });
    return { ...started, jobIds: created.jobIds };
  };

  const rowCounts = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'`).pluck().all() as string[];
      return Object.fromEntries(tables.map((table) => [table, db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get()]));
    } finally {
      db.close();
    }
  };

  it('streams a compacted copy that opens and passes check, and smaller after mass deletes', async () => {
    const { admin, server, dataDir, jobIds } = await startWithJobs();
    // Cancel and delete most jobs: their pages go to the freelist, which compaction leaves out.
    for (const jobId of jobIds.slice(10, 250)) {
      const job = await server.storage.jobStore.updateJobState(NODE, { jobId, newState: 'CANCELLED' });
      await server.storage.jobStore.deleteJob(NODE, jobId, job.revision);
    }
    const file = path.join(path.dirname(dataDir), 'copies', 'compacted.db');
    const copy = await saveCopy(admin.compactDatabase({ database: SOURCE }), file);

    expect(BigInt(fs.statSync(file).size)).toBe(copy.copyBytes);
    expect(copy.copyBytes).toBeLessThan(copy.sourceBytes);
    expect(copy.chunks).toBe(Math.ceil(Number(copy.copyBytes) / COPY_CHUNK_BYTES));
    expect(checkNodeDatabase('requester', file)).toEqual([]);
    expect(rowCounts(file).jobs).toBe(60);
    // The temporary copy is gone once streamed, and so is the directory that held it.
    expect(fs.existsSync(adminTempRoot(dataDir))).toBe(false);
  });

  it('streams a backup taken while the server writes, which opens and passes check', async () => {
    const { admin, client, dataDir } = await startWithJobs();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await client.createJob({ nodeId: NODE, job: { name: `during-${written}`, spec: { payload: 'y'.repeat(500) } } });
        written++;
      }
    })();
    const files: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const file = path.join(path.dirname(dataDir), 'backups', `backup-${i}.db`);
        await saveCopy(admin.backupDatabase({ database: SOURCE }), file);
        files.push(file);
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(written).toBeGreaterThan(0);
    for (const file of files) {
      expect(checkNodeDatabase('requester', file)).toEqual([]);
      expect(rowCounts(file).jobs).toBeGreaterThanOrEqual(300);
    }
    expect(fs.existsSync(adminTempRoot(dataDir))).toBe(false);
  });

  it('deletes the temporary copy when the caller stops reading midway', async () => {
    // About 9 MB: far more than grpc-js buffers and HTTP/2 lets through before the caller reads.
    const { admin, dataDir } = await startWithJobs(4000);
    const cancel = new AbortController();
    const read = (async () => {
      for await (const message of admin.backupDatabase({ database: SOURCE }, { signal: cancel.signal })) {
        if (message.part.case === 'chunk') cancel.abort();
      }
    })();
    await expect(read).rejects.toEqual(failsWith('CANCELLED'));
    await expect.poll(() => fs.existsSync(adminTempRoot(dataDir)), { timeout: 5000 }).toBe(false);
  });

  it('exports every row as JSON lines, and an import into a new node reproduces them; importing again changes nothing', async () => {
    const { admin, dataDir, server, jobIds } = await startWithJobs(1500);
    const exported = await collect(admin.exportDatabase({ database: SOURCE }));
    const [header, ...lines] = exported.flatMap((message) => message.lines);
    expect(JSON.parse(header!)).toMatchObject({ format: 'jobkeep-export', kind: 'requester' });
    expect(exported[0]!.totalRows).toBe(BigInt(lines.length));
    expect(exported.slice(1).every((message) => message.totalRows === 0n)).toBe(true);
    // More rows than one message takes.
    expect(exported.length).toBeGreaterThan(1);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();

    const send = async function* () {
      yield { database: 'beta-requester' };
      for (const message of exported) yield { lines: message.lines };
    };
    const first = await admin.importDatabase(send());
    expect(first).toMatchObject({ unchanged: false });
    expect(first.rowsImported).toBeGreaterThan(0n);
    expect(rowCounts(path.join(dataDir, 'beta-requester.db'))).toEqual(rowCounts(path.join(dataDir, `${SOURCE}.db`)));
    expect(checkNodeDatabase('requester', path.join(dataDir, 'beta-requester.db'))).toEqual([]);
    const job = await server.storage.jobStore.getJob('beta', { id: jobIds[42]! });
    expect(job).toEqual(await server.storage.jobStore.getJob(NODE, { id: jobIds[42]! }));

    expect(await admin.importDatabase(send())).toMatchObject({ unchanged: true });
  });

  it('refuses an import whose first message names no database', async () => {
    const { admin } = await servers.start();
    const send = async function* () {
      yield { lines: ['{}'] };
    };
    await expect(admin.importDatabase(send())).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'first', 'database'));
    const none = async function* () {};
    await expect(admin.importDatabase(none())).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'first', 'database'));
  });
});

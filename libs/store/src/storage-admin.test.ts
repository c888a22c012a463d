import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportDatabase } from './database-export.js';
import { useTempStorage } from './test-support/temp-storage.js';

describe('importing an export through the storage', () => {
  const temp = useTempStorage('perTest');

  function exportedLines(storage: ReturnType<typeof temp.open>, kind: 'requester' | 'compute', nodeId: string): string[] {
    return [...exportDatabase(storage.locations.nodeDatabasePath(kind, nodeId)).lines()];
  }

  it('creates the database, and leaves nothing behind when the rows cannot go in', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob('n1', { name: 'a' });
    const lines = exportedLines(storage, 'requester', 'n1');
    // Each import stages the export in the data directory while it runs, and removes it after.
    const stagingLeft = () => fs.readdirSync(storage.locations.dataDir).filter((name) => name.startsWith('.jobkeep-import-'));

    // A job whose spec row names a job the export does not hold: refused by the foreign keys.
    const broken = [...lines, JSON.stringify({ table: 'job_specs', row: { job_id: 'ghost', spec: '{}', labels: '{}' } })];
    await expect(storage.admin.importDatabase('n2-requester', broken)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.existsSync(storage.locations.nodeDatabasePath('requester', 'n2'))).toBe(false);
    expect(storage.catalogue.list().map((entry) => entry.nodeId)).toEqual(['n1']);
    expect(stagingLeft()).toEqual([]);

    await expect(storage.admin.importDatabase('n2-compute', lines)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('an export of a requester database cannot be imported into n2-compute'),
    });
    expect(fs.existsSync(storage.locations.nodeDatabasePath('compute', 'n2'))).toBe(false);
    expect(stagingLeft()).toEqual([]);

    expect(await storage.admin.importDatabase('n2-requester', lines)).toMatchObject({ unchanged: false });
    expect((await storage.jobStore.listJobs('n2', {})).items.map((job) => job.name)).toEqual(['a']);
    expect(stagingLeft()).toEqual([]);
  });

  it('removes at open what an import killed mid-way left behind', async () => {
    const dataDir = temp.open().locations.dataDir;
    fs.mkdirSync(path.join(dataDir, '.jobkeep-import-killed'));
    fs.writeFileSync(path.join(dataDir, '.jobkeep-import-killed', 'rows.db'), 'rows');
    fs.writeFileSync(path.join(dataDir, 'notes.txt'), 'kept');
    temp.open({ dataDir });
    expect(fs.readdirSync(dataDir).filter((name) => !name.endsWith('.db') && !name.includes('.db-'))).toEqual(['notes.txt']);
  });
});

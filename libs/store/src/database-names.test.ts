import { describe, expect, it } from 'vitest';
import { DatabaseLocations } from './database-locations.js';
import { databaseName, databasePath, existingDatabase, parseDatabaseName } from './database-names.js';

describe('database names', () => {
  it('name each file as it is called on disk, without .db', () => {
    expect(parseDatabaseName('coordination')).toEqual({ kind: 'coordination' });
    expect(parseDatabaseName('node-1-requester')).toEqual({ kind: 'requester', nodeId: 'node-1' });
    // The kind is read from the end, so a node id may itself look like a kind.
    expect(parseDatabaseName('gpu-compute-compute')).toEqual({ kind: 'compute', nodeId: 'gpu-compute' });
    for (const name of ['coordination', 'node-1-requester', 'a.b_c-compute']) expect(databaseName(parseDatabaseName(name))).toBe(name);
    const locations = new DatabaseLocations({ dataDir: '/data' });
    expect(databasePath(locations, parseDatabaseName('n1-compute'))).toBe('/data/n1-compute.db');
  });

  it('refuse names that are not databases, and ids that are not safe in a path', () => {
    for (const name of ['', 'node-1', 'requester', '-requester', '../etc-requester', 'a/b-compute', 'coordination.db']) {
      expect(() => parseDatabaseName(name), name).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('say NOT_FOUND for a database whose file does not exist', () => {
    const locations = new DatabaseLocations({ dataDir: '/nonexistent-jobkeep-dir' });
    expect(() => existingDatabase(locations, 'n1-requester')).toThrow(expect.objectContaining({ code: 'NOT_FOUND', message: expect.stringContaining('n1-requester') }));
  });
});

import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STORE_LIMITS } from './store-limits.js';
import type { NodeDatabaseKind } from './database-locations.js';
import { filesBelow, rejection, useTempStorage } from './test-support/temp-storage.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('SqliteCheckpointStore', () => {
  const temp = useTempStorage();

  it.each<NodeDatabaseKind>(['requester', 'compute'])('puts, replaces and gets checkpoints in a %s database', async (kind) => {
    let clock = 1_000;
    const { checkpointStore } = temp.open({ clock: () => (clock += 10) });
    const first = await checkpointStore.putCheckpoint('node-1', kind, { name: 'orchestrator/last-revision', data: bytes('41') });
    expect(first).toEqual({ name: 'orchestrator/last-revision', data: bytes('41'), revision: 1, modifyTime: expect.any(Number) });
    expect(filesBelow(temp.dir())).toContain(`node-1-${kind}.db`);

    const second = await checkpointStore.putCheckpoint('node-1', kind, { name: 'orchestrator/last-revision', data: bytes('42'), expectedRevision: 1 });
    expect(second).toEqual({ name: 'orchestrator/last-revision', data: bytes('42'), revision: 2, modifyTime: expect.any(Number) });
    expect(second.modifyTime).toBeGreaterThan(first.modifyTime);
    const third = await checkpointStore.putCheckpoint('node-1', kind, { name: 'orchestrator/last-revision', data: new Uint8Array() });
    expect(third.revision).toBe(3);
    expect(await checkpointStore.getCheckpoint('node-1', kind, 'orchestrator/last-revision')).toEqual(third);

    const other = kind === 'requester' ? 'compute' : 'requester';
    await rejection(checkpointStore.getCheckpoint('node-1', other, 'orchestrator/last-revision'), 'NOT_FOUND');
  });

  it('keeps binary data exactly, up to 1 MiB', async () => {
    const { checkpointStore } = temp.open();
    const data = new Uint8Array(DEFAULT_STORE_LIMITS.maxBlobBytes).map((_, i) => (i * 7919) % 256);
    await checkpointStore.putCheckpoint('node-1', 'compute', { name: 'blob', data });
    const read = (await checkpointStore.getCheckpoint('node-1', 'compute', 'blob')).data;
    expect(read).toBeInstanceOf(Uint8Array);
    // Compared as buffers: an element-by-element toEqual of a megabyte takes seconds.
    expect(Buffer.from(read).equals(data)).toBe(true);
  });

  it('applies expected revisions: 0 means "not yet there", and a failure names the current revision', async () => {
    const { checkpointStore } = temp.open();
    const created = await checkpointStore.putCheckpoint('node-1', 'requester', { name: 'leader', data: bytes('a'), expectedRevision: 0 });
    expect(created.revision).toBe(1);
    expect(await rejection(checkpointStore.putCheckpoint('node-1', 'requester', { name: 'leader', data: bytes('b'), expectedRevision: 0 }), 'FAILED_PRECONDITION')).toContain(
      'revision 1',
    );
    await checkpointStore.putCheckpoint('node-1', 'requester', { name: 'leader', data: bytes('b'), expectedRevision: 1 });
    const stale = await rejection(checkpointStore.putCheckpoint('node-1', 'requester', { name: 'leader', data: bytes('c'), expectedRevision: 1 }), 'FAILED_PRECONDITION');
    expect(stale).toContain('at revision 2, not at the expected revision 1');
    const missing = await rejection(checkpointStore.putCheckpoint('node-1', 'requester', { name: 'absent', data: bytes('c'), expectedRevision: 3 }), 'FAILED_PRECONDITION');
    expect(missing).toContain('does not exist');
    expect(await checkpointStore.getCheckpoint('node-1', 'requester', 'leader')).toMatchObject({ data: bytes('b'), revision: 2 });
    await rejection(checkpointStore.getCheckpoint('node-1', 'requester', 'absent'), 'NOT_FOUND');
  });

  it('lists by name prefix without data, in keyset pages', async () => {
    const { checkpointStore } = temp.open();
    const names = ['a', 'agent/1', 'agent/2', 'agent/10', 'agent.x', 'agentx', 'b/agent/1', 'watch/jobs', 'watch/executions'];
    for (const name of names) await checkpointStore.putCheckpoint('node-1', 'compute', { name, data: bytes(name) });

    const listAll = async (prefix: string, pageSize: number) => {
      const seen: unknown[] = [];
      let pageToken = '';
      do {
        const page = await checkpointStore.listCheckpoints('node-1', 'compute', { prefix, pageSize, pageToken });
        expect(page.items.length).toBeLessThanOrEqual(pageSize);
        seen.push(...page.items);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return seen;
    };
    const agents = await listAll('agent/', 2);
    expect(agents).toEqual([
      { name: 'agent/1', revision: 1, modifyTime: expect.any(Number) },
      { name: 'agent/10', revision: 1, modifyTime: expect.any(Number) },
      { name: 'agent/2', revision: 1, modifyTime: expect.any(Number) },
    ]);
    expect((await listAll('', 4)).map((item) => (item as { name: string }).name)).toEqual([...names].sort());
    expect(await listAll('agent', 100)).toHaveLength(5);
    expect(await listAll('zzz', 10)).toEqual([]);

    const page = await checkpointStore.listCheckpoints('node-1', 'compute', { prefix: 'agent', pageSize: 1 });
    await rejection(checkpointStore.listCheckpoints('node-1', 'compute', { prefix: 'watch', pageToken: page.nextPageToken }), 'INVALID_ARGUMENT');
  });

  it('serves a prefix list from the name index', async () => {
    const { checkpointStore } = temp.open();
    await checkpointStore.putCheckpoint('node-1', 'compute', { name: 'x', data: bytes('') });
    const db = new Database(path.join(temp.dir(), 'node-1-compute.db'), { readonly: true });
    try {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN SELECT name, revision, modify_time FROM checkpoints WHERE name GLOB ? AND name > ? ORDER BY name LIMIT ?`)
        .all('agent/*', '', 10) as { detail: string }[];
      expect(plan.map((row) => row.detail)).toEqual([expect.stringMatching(/^SEARCH checkpoints USING INDEX sqlite_autoindex_checkpoints_1 \(name>\? AND name<\?\)/)]);
    } finally {
      db.close();
    }
  });

  it('refuses bad input with INVALID_ARGUMENT and changes nothing', async () => {
    const { checkpointStore } = temp.open();
    const kept = await checkpointStore.putCheckpoint('node-1', 'compute', { name: 'kept', data: bytes('1') });
    const before = filesBelow(temp.root());
    const bad: [Promise<unknown>, string][] = [
      [checkpointStore.putCheckpoint('node-1', 'compute', { name: '', data: bytes('') }), 'name is required'],
      [checkpointStore.putCheckpoint('node-1', 'compute', { name: 'has space', data: bytes('') }), 'checkpoint name'],
      [checkpointStore.putCheckpoint('node-1', 'compute', { name: 'glob*', data: bytes('') }), 'checkpoint name'],
      [checkpointStore.putCheckpoint('node-1', 'compute', { name: 'n'.repeat(257), data: bytes('') }), '257 characters'],
      [checkpointStore.putCheckpoint('node-1', 'compute', { name: 'kept', data: new Uint8Array(DEFAULT_STORE_LIMITS.maxBlobBytes + 1) }), 'limit'],
      [checkpointStore.putCheckpoint('node-1', 'compute', { name: 'kept', data: bytes(''), expectedRevision: -2 }), 'expected_revision'],
      [checkpointStore.putCheckpoint('node-2', 'archive' as NodeDatabaseKind, { name: 'kept', data: bytes('') }), 'kind'],
      [checkpointStore.putCheckpoint('../x', 'compute', { name: 'kept', data: bytes('') }), 'node_id'],
      [checkpointStore.listCheckpoints('node-1', 'compute', { prefix: 'a?' }), 'prefix'],
      [checkpointStore.listCheckpoints('node-1', 'compute', { pageSize: 1001 }), 'page_size'],
      [checkpointStore.getCheckpoint('node-1', 'compute', '[abc]'), 'checkpoint name'],
    ];
    for (const [call, fragment] of bad) expect(await rejection(call, 'INVALID_ARGUMENT')).toContain(fragment);
    expect(filesBelow(temp.root())).toEqual(before);
    expect(await checkpointStore.getCheckpoint('node-1', 'compute', 'kept')).toEqual(kept);
  });

  it('refuses a put expecting an existing checkpoint on a node without that database, and creates no file', async () => {
    const { checkpointStore } = temp.open();
    const before = filesBelow(temp.root());
    const refused = await rejection(checkpointStore.putCheckpoint('never-seen', 'requester', { name: 'leader', data: bytes('a'), expectedRevision: 1 }), 'FAILED_PRECONDITION');
    expect(refused).toBe('checkpoint leader does not exist (current revision 0), not at the expected revision 1');
    expect(filesBelow(temp.root())).toEqual(before);
    expect((await checkpointStore.putCheckpoint('never-seen', 'requester', { name: 'leader', data: bytes('a'), expectedRevision: 0 })).revision).toBe(1);
  });

  it('answers reads of a node without that database with NOT_FOUND and creates no file', async () => {
    const { checkpointStore } = temp.open();
    const before = filesBelow(temp.root());
    await rejection(checkpointStore.getCheckpoint('never-seen', 'compute', 'x'), 'NOT_FOUND');
    await rejection(checkpointStore.listCheckpoints('never-seen', 'requester', {}), 'NOT_FOUND');
    expect(filesBelow(temp.root())).toEqual(before);
  });
});

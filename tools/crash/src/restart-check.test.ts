import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobState } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { checkDataDirFiles } from './file-check.js';
import { checkAfterRestart } from './restart-check.js';
import { killServer, type ServerProcess } from './server-process.js';
import { useFreshServers } from './test-support/fresh-servers.js';
import { LOAD_NODES, startWriteLoad } from './write-load.js';
import { WriteLedger } from './write-ledger.js';

// The checks must see what they are there to see: each case breaks one thing the server would
// have to break, and expects the finding.
describe('the checks of the crash suite', () => {
  const { start } = useFreshServers();

  /** A server over a new data directory, after a short load whose writes all were acknowledged. */
  async function loaded(): Promise<{ server: ServerProcess; dir: string; ledger: WriteLedger }> {
    const { server, dir } = await start();
    const ledger = new WriteLedger();
    const problems: string[] = [];
    const load = startWriteLoad(server.address, 4, 1, ledger, problems);
    await sleep(300);
    load.stop();
    await load.finished;
    expect(problems).toEqual([]);
    expect(ledger.inDoubt).toBe(0);
    return { server, dir, ledger };
  }

  it('find nothing when the server has every acknowledged write', async () => {
    const { server, ledger } = await loaded();
    const problems: string[] = [];
    await checkAfterRestart(server.address, ledger, problems, 1);
    expect(problems).toEqual([]);
    expect(ledger.verified).toBe(ledger.jobs.size);
  });

  it('read a node without a database yet as one without jobs: a kill can come before its first write', async () => {
    const { server } = await start();
    const problems: string[] = [];
    await checkAfterRestart(server.address, new WriteLedger(), problems, 1);
    expect(problems).toEqual([]);
  });

  it('report an acknowledged create that is gone, and a job the load never sent', async () => {
    const { server, ledger } = await loaded();
    const [first] = ledger.created();
    ledger.jobs.delete(first!.rid);
    ledger.track(0, 'w0-c1-lost', LOAD_NODES[0]!).id = 'j-lost';
    const problems: string[] = [];
    await checkAfterRestart(server.address, ledger, problems, 1);
    expect(problems).toEqual([
      expect.stringContaining(`carry rid "${first!.rid}", which the load never sent`),
      expect.stringContaining('job j-lost (create w0-c1-lost, acknowledged) is gone'),
    ]);
  });

  it('report an acknowledged state change the server does not show', async () => {
    const { server, ledger } = await loaded();
    const [job] = ledger.created();
    job!.state = JobState.HELD;
    job!.revision = job!.revision! + 1000n;
    const problems: string[] = [];
    await checkAfterRestart(server.address, ledger, problems, 1);
    expect(problems).toEqual([expect.stringMatching(new RegExp(`job ${job!.id} was acknowledged HELD at revision \\d+, but the server has`))]);
  });

  it('resolve a create in doubt by retrying it: the job it made, never a twin', async () => {
    const { server, ledger } = await loaded();
    const [job] = ledger.created();
    const id = job!.id;
    job!.createInDoubt = true;
    job!.id = undefined;
    const problems: string[] = [];
    await checkAfterRestart(server.address, ledger, problems, 1);
    expect(problems).toEqual([]);
    expect(job!.id).toBe(id);
    expect(ledger.inDoubtCommitted).toBe(1);
  });

  it('report a damaged database file', async () => {
    const { server, dir } = await loaded();
    await killServer(server);
    const file = path.join(dir, `${LOAD_NODES[0]}-requester.db`);
    // Overwrite a page in the middle of the file: the b-tree that lives there no longer parses.
    fs.rmSync(`${file}-wal`, { force: true });
    fs.rmSync(`${file}-shm`, { force: true });
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 8192) * 4096);
    fs.closeSync(fd);
    const problems: string[] = [];
    checkDataDirFiles(dir, problems, 'after the damage');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/^after the damage: crash-a-requester\.db: /);
  });
});

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUESTER, seed, useAdminCluster } from './test-support/admin-fixture.js';
import { runAdmin } from './test-support/admin-processes.js';

const COMMANDS = [
  ['check'],
  ['tables'],
  ['buckets'],
  ['stats'],
  ['keys'],
  ['get'],
  ['compact'],
  ['backup'],
  ['databases'],
  ['counters'],
  ['nodes'],
  ['locks'],
  ['locks', 'release'],
  ['history'],
  ['retention', 'run'],
  ['export'],
  ['import'],
  ['drain'],
  ['retire'],
];

describe('jobkeep-admin usage, help and exit codes', () => {
  const cluster = useAdminCluster();

  it('shows examples under every command’s --help, and the exit codes under the program’s', async () => {
    const main = await runAdmin(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+check found problems\n\s+2\s+usage error/);
    expect(main.stdout).toContain('--data-dir');
    expect(main.stdout).toMatch(/--job-store-path <template>[\s\S]*--compute-store-path <template>/);
    expect(main.stdout).toMatch(/\n\s+141\s+stdout was closed before the output was all written/);
    // A dry run offline is refused beside a live server like any write, and says so.
    expect((await runAdmin(['retention', 'run', '--help'])).stdout.replaceAll(/\s+/g, ' ')).toContain(
      'Offline, even --dry-run is refused while a server holds the data directory',
    );
    for (const command of COMMANDS) {
      const help = await runAdmin([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout, command.join(' ')).toMatch(/Examples:\n\s+\$ (jobkeep-admin )?\S/);
      expect(help.stdout).toContain('--json');
    }
  });

  it('exits 2 on bad usage, with one line in the tool’s format', async () => {
    const dir = cluster.processes.tempDir();
    const cases: [string[], RegExp][] = [
      [[], /.*/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['databases', '--bogus'], /unknown option '--bogus'/],
      [['history', 'j-1'], /--node/],
      [['keys', '--data-dir', dir, 'only-one'], /give NAME TABLE/],
      [['tables', '--server', '127.0.0.1:1', '--data-dir', dir, 'coordination'], /either --server .* or --data-dir/],
      [['databases', '--file', path.join(dir, 'x.db')], /works on a data directory or a server/],
      [['keys', '--file', path.join(dir, 'x.db'), 'a', 'b'], /with --file, give TABLE/],
      [['tables', '--data-dir', dir, 'no_such_kind'], /INVALID_ARGUMENT: database "no_such_kind" is not a database name/],
      [['keys', '--data-dir', dir, 'coordination', 'leases', '--limit', 'lots'], /--limit.*positive integer/],
      [['databases', '--data-dir', dir, '--job-store-path', path.join(dir, 'req.db')], /--job-store-path.*expected a path containing \{node\}/],
      [['databases', '--server', '127.0.0.1:1', '--compute-store-path', path.join(dir, '{node}.db')], /--compute-store-path is for --data-dir/],
      [['tables', '--file', path.join(dir, 'x.db'), '--job-store-path', path.join(dir, '{node}.db')], /with --file the database is the file/],
    ];
    for (const [args, message] of cases) {
      const result = await runAdmin(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stdout).toBe('');
    }
    expect((await runAdmin(['keys', '--data-dir', dir, 'coordination', 'leases'])).stderr).toMatch(/^jobkeep-admin: NOT_FOUND: /);
  });

  it('exits 3 on what does not exist, 5 when no server answers', async () => {
    const started = await cluster.start();
    const seeded = await seed(started);
    for (const target of [started.live, started.offline]) {
      for (const args of [
        ['tables', 'nobody-requester'],
        ['get', `${REQUESTER}-requester`, 'jobs', 'j-missing'],
        ['history', 'j-missing', '--node', REQUESTER],
      ]) {
        const result = await runAdmin([...target, ...args]);
        expect(result.code, `${target[0]} ${args.join(' ')}`).toBe(3);
        expect(result.stderr).toMatch(/^jobkeep-admin: NOT_FOUND: .+\n$/);
      }
      expect((await runAdmin([...target, 'get', `${REQUESTER}-requester`, 'no_table', seeded.queuedJobId])).code).not.toBe(0);
    }
    expect((await runAdmin([...started.live, 'locks', 'release', '/locks/never'])).code).toBe(3);
    const gone = await runAdmin(['--server', '127.0.0.1:1', 'databases']);
    expect(gone.code).toBe(5);
    expect(gone.stderr).toMatch(/^jobkeep-admin: UNAVAILABLE: no jobkeep server answers at 127\.0\.0\.1:1/);
    // The environment picks the target as the flags do.
    const fromEnv = await runAdmin(['databases', '--json'], { env: { JOBKEEP_DATA_DIR: started.dataDir } });
    expect(fromEnv.code).toBe(0);
  });
});

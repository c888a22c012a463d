import fs from 'node:fs';
import path from 'node:path';
import { openStorage } from '@jobkeep/store';
import { launchServer } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import type { AccessTokenView, CreatedAccessTokenView } from './admin-views.js';
import { useAdminCluster } from './test-support/admin-fixture.js';
import { adminJson, runAdmin } from './test-support/admin-processes.js';

const TOKEN_TEXT = /^jk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const SHOWN_ONCE = 'This is the only time the token is shown: jobkeep keeps only a hash of it. Store it now.';

const listed = async (target: string[], ...flags: string[]) => (await adminJson<{ accessTokens: AccessTokenView[] }>([...target, 'tokens', 'list', ...flags])).accessTokens;

describe('jobkeep-admin tokens, live and offline', () => {
  const cluster = useAdminCluster();

  it('makes the first admin token offline before the server ever started; the server then holds it', async () => {
    const dataDir = path.join(cluster.processes.tempDir(), 'data');
    const offline = ['--data-dir', dataDir];
    const refused = await runAdmin([...offline, 'tokens', 'create', '--role', 'admin', '--name', 'has space']);
    expect(refused).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^jobkeep-admin: INVALID_ARGUMENT: name "has space" is not valid/) });
    expect(fs.existsSync(dataDir)).toBe(false);

    const created = await runAdmin([...offline, 'tokens', 'create', '--role', 'admin', '--name', 'root']);
    expect(created.code).toBe(0);
    const [heading, root, notice, ...rest] = created.stdout.split('\n');
    expect(heading).toMatch(/^created access token [0-9a-f]{16} \(name root, role admin, nodes all\):$/);
    expect(root).toMatch(TOKEN_TEXT);
    expect(notice).toBe(SHOWN_ONCE);
    expect(rest).toEqual(['']);

    const { server, address } = await launchServer(cluster.processes, dataDir);
    const live = ['--server', address];
    const [rootView] = await listed(live);
    expect(rootView).toEqual({ id: TOKEN_TEXT.exec(root!)![1], name: 'root', role: 'admin', nodeIds: [], createTime: expect.any(String), revokeTime: null });
    expect(await listed(offline)).toEqual([rootView]);

    // Live, the text comes back once too; --json prints it in the document, the notice on stderr.
    const agentRun = await runAdmin([...live, 'tokens', 'create', '--role', 'agent', '--name', 'cmp-7', '--node', 'cmp-7', '--json']);
    expect(agentRun.code).toBe(0);
    expect(agentRun.stderr).toBe(`jobkeep-admin: ${SHOWN_ONCE}\n`);
    const agent = JSON.parse(agentRun.stdout) as CreatedAccessTokenView;
    expect(agent).toEqual({
      token: expect.stringMatching(TOKEN_TEXT),
      accessToken: { id: TOKEN_TEXT.exec(agent.token)![1], name: 'cmp-7', role: 'agent', nodeIds: ['cmp-7'], createTime: expect.any(String), revokeTime: null },
    });

    // Offline writes wait for the server to stop; reads do not.
    for (const attempt of [
      ['tokens', 'create', '--role', 'reader', '--name', 'other'],
      ['tokens', 'revoke', rootView!.id],
    ]) {
      const result = await runAdmin([...offline, ...attempt]);
      expect(result, attempt.join(' ')).toMatchObject({ code: 4, stdout: '', stderr: expect.stringContaining(`FAILED_PRECONDITION: the data directory ${dataDir} is held by a live jobkeep server (pid ${server.child.pid}`) });
    }
    expect(await listed(offline)).toEqual(await listed(live));

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const secrets = [root!, agent.token].map((token) => token.slice(-43));
    expect(secrets.some((secret) => JSON.stringify(server.lines).includes(secret))).toBe(false);
    const storage = openStorage({ dataDir });
    try {
      expect(await storage.accessTokens.authenticate(root!)).toMatchObject({ id: rootView!.id, role: 'admin' });
      expect(await storage.accessTokens.authenticate(agent.token)).toMatchObject({ id: agent.accessToken.id, role: 'agent', nodeIds: ['cmp-7'] });
    } finally {
      storage.close();
    }
  });

  it('lists and revokes live and offline, printing the same JSON either way', async () => {
    const started = await cluster.start();
    const create = (target: string[], ...args: string[]) => adminJson<CreatedAccessTokenView>([...target, 'tokens', 'create', ...args]);
    const dashboard = await create(started.live, '--role', 'reader', '--name', 'dashboard');
    const compute = await create(started.live, '--role', 'agent', '--name', 'compute', '--node', 'cmp-2', '--node', 'cmp-1');
    expect(compute.accessToken.nodeIds).toEqual(['cmp-1', 'cmp-2']);

    const revoked = await adminJson<{ accessToken: AccessTokenView }>([...started.live, 'tokens', 'revoke', dashboard.accessToken.id]);
    expect(revoked.accessToken).toEqual({ ...dashboard.accessToken, revokeTime: expect.any(String) });
    expect(await adminJson([...started.live, 'tokens', 'revoke', dashboard.accessToken.id])).toEqual(revoked);
    expect(await listed(started.live)).toEqual([compute.accessToken]);
    expect(await listed(started.live, '--all')).toEqual([compute.accessToken, revoked.accessToken]);
    expect(await listed(started.offline, '--all')).toEqual(await listed(started.live, '--all'));

    const human = await runAdmin([...started.live, 'tokens', 'list', '--all']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`${compute.accessToken.id}\\s.*compute\\s.*agent\\s.*cmp-1, cmp-2`));
    expect(human.stdout).toMatch(new RegExp(`${dashboard.accessToken.id}\\s.*dashboard\\s.*reader\\s.*all`));
    for (const secret of [dashboard.token, compute.token]) expect(human.stdout).not.toContain(secret.slice(-43));

    await started.stop();
    const again = await create(started.offline, '--role', 'reader', '--name', 'dashboard');
    expect(Object.keys(again.accessToken)).toEqual(Object.keys(dashboard.accessToken));
    const revokedOffline = await runAdmin([...started.offline, 'tokens', 'revoke', compute.accessToken.id]);
    expect(revokedOffline).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^revoked access token ${compute.accessToken.id} \\(name compute\\) at \\d{4}-`)) });
    expect(await listed(started.offline)).toEqual([again.accessToken]);
    // By name, then age.
    expect((await listed(started.offline, '--all')).map((token) => [token.name, token.revokeTime === null ? 'active' : 'revoked'])).toEqual([
      ['compute', 'revoked'],
      ['dashboard', 'revoked'],
      ['dashboard', 'active'],
    ]);
  });

  it('refuses bad input, a taken name and an unknown id with their exit codes, live and offline', async () => {
    const started = await cluster.start();
    await adminJson([...started.live, 'tokens', 'create', '--role', 'agent', '--name', 'ci']);
    await started.stop();
    const offlineList = await listed(started.offline, '--all');
    const restarted = await launchServer(cluster.processes, started.dataDir);
    const live = ['--server', restarted.address];
    // Offline, bad input is refused before a data directory is made for the token.
    const never = path.join(cluster.processes.tempDir(), 'never');
    const usage: [string[], RegExp][] = [
      [['create', '--name', 'x'], /required option '--role <role>'/],
      [['create', '--role', 'owner', '--name', 'x'], /Allowed choices are admin, agent, reader/],
      [['create', '--role', 'reader', '--name', 'x', '--node', 'cmp-1'], /INVALID_ARGUMENT: only agent tokens are scoped to nodes/],
      // Live, the server's request rules name the field by its path in the request.
      [['create', '--role', 'agent', '--name', 'x', '--node', '../etc'], /INVALID_ARGUMENT: node_ids?(\[0\])? "..\/etc" is not valid/],
    ];
    for (const target of [live, ['--data-dir', never]]) {
      for (const [args, message] of usage) {
        const result = await runAdmin([...target, 'tokens', ...args]);
        expect(result.code, `${target[0]} ${args.join(' ')}`).toBe(2);
        expect(result.stderr).toMatch(message);
        expect(result.stdout).toBe('');
      }
    }
    expect(fs.existsSync(never)).toBe(false);
    expect(await runAdmin([...live, 'tokens', 'create', '--role', 'reader', '--name', 'ci'])).toMatchObject({
      code: 4,
      stderr: expect.stringMatching(/ALREADY_EXISTS: the active access token [0-9a-f]{16} is already named ci/),
    });
    const revokeRefusals = async (target: string[]) => {
      expect(await runAdmin([...target, 'tokens', 'revoke', 'not-an-id'])).toMatchObject({ code: 2, stderr: expect.stringContaining('INVALID_ARGUMENT: access token id "not-an-id" is not valid') });
      expect(await runAdmin([...target, 'tokens', 'revoke', '0123456789abcdef'])).toMatchObject({ code: 3, stderr: expect.stringContaining('NOT_FOUND: access token 0123456789abcdef does not exist') });
    };
    await revokeRefusals(live);
    restarted.server.child.kill('SIGTERM');
    await restarted.server.exited;
    await revokeRefusals(started.offline);
    expect(await listed(started.offline, '--all')).toEqual(offlineList);
  });

  it('documents each subcommand under --help, with examples', async () => {
    for (const command of ['create', 'list', 'revoke']) {
      const help = await runAdmin(['tokens', command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(/Examples:\n\s+\$ jobkeep-admin tokens /);
      expect(help.stdout).toContain('--json');
    }
  });
});

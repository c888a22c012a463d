import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createExecExecutor } from './exec-executor.js';
import type { RunContext } from './executor.js';
import { eventually, processGone } from '@jobkeep/testing';

const node = process.execPath;
const exec = createExecExecutor({ envAllow: ['PATH', 'HOME', 'LANG'], killGraceMs: 300 });
const run = (argv: string[], extra: { timeoutMs?: number; env?: Record<string, string> } = {}, context: Partial<RunContext> = {}) =>
  exec({ executor: 'exec', argv, ...extra }, { signal: new AbortController().signal, ...context });

/** A script that starts a grandchild (in its own process group) that ignores SIGTERM, prints its pid, and waits. */
const PARENT_OF_STUBBORN_GRANDCHILD = `
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
  console.log('grandchild ' + child.pid);
  setInterval(() => {}, 1000);
`;

const grandchildPid = (stdout: string) => Number(/grandchild (\d+)/.exec(stdout)?.[1]);

describe('the exec executor', () => {
  it('runs argv without a shell and reports the exit code, the stderr tail and a one-line failure', async () => {
    const outcome = await run([node, '-e', "console.log('out $HOME'); console.error('first\\nthe last words'); process.exit(3)"]);
    expect(outcome).toEqual({ exitCode: 3, stdoutTail: 'out $HOME\n', stderrTail: 'first\nthe last words\n', failure: 'exit 3: the last words', stopped: false });

    expect(await run([node, '-e', "process.stdout.write('fine')"])).toEqual({ exitCode: 0, stdoutTail: 'fine', stderrTail: '', stopped: false });
  });

  it('keeps only the last 4 KiB of each stream, however much the program writes', async () => {
    const script = "process.stdout.write('a'.repeat(300000) + 'END-OUT'); process.stderr.write('é'.repeat(100000) + 'END-ERR')";
    const outcome = await run([node, '-e', script]);
    expect(outcome.exitCode).toBe(0);
    expect(Buffer.byteLength(outcome.stdoutTail)).toBe(4096);
    expect(outcome.stdoutTail.endsWith('aEND-OUT')).toBe(true);
    // Cut on a character boundary: no half of an 'é' at the start.
    expect(Buffer.byteLength(outcome.stderrTail)).toBeLessThanOrEqual(4096);
    expect(outcome.stderrTail).toMatch(/^é+END-ERR$/);
  });

  it('kills the whole process group at the timeout, with SIGKILL for what ignores SIGTERM', async () => {
    let pid = 0;
    const outcome = await run([node, '-e', PARENT_OF_STUBBORN_GRANDCHILD], { timeoutMs: 1000 }, { onSpawn: (started) => (pid = started) });
    expect(outcome).toMatchObject({ failure: 'timed out after 1000 ms', stopped: false });
    expect(outcome.exitCode).toBe(143);
    const grandchild = grandchildPid(outcome.stdoutTail);
    expect(grandchild).toBeGreaterThan(0);
    await eventually(() => expect(processGone(grandchild)).toBe(true));
    expect(processGone(pid)).toBe(true);
  });

  it('stops a run when its signal aborts, taking its processes with it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-exec-'));
    const pidFile = path.join(dir, 'grandchild');
    try {
      const controller = new AbortController();
      const script = `${PARENT_OF_STUBBORN_GRANDCHILD}; require('node:fs').writeFileSync(process.argv[1], String(child.pid));`;
      const running = run([node, '-e', script, pidFile], {}, { signal: controller.signal });
      // Read until the pid is there: between the file's creation and its write it is empty (0).
      const grandchild = await eventually(() => {
        const pid = Number(fs.readFileSync(pidFile, 'utf8'));
        return pid > 0 && pid;
      });
      expect(processGone(grandchild)).toBe(false);
      controller.abort();
      expect(await running).toMatchObject({ stopped: true, failure: 'stopped' });
      await eventually(() => expect(processGone(grandchild)).toBe(true));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kills what a finished program left running in its group', async () => {
    const script = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
      console.log('grandchild ' + child.pid);
      child.unref();
    `;
    const outcome = await run([node, '-e', script]);
    expect(outcome).toMatchObject({ exitCode: 0, stopped: false });
    expect(outcome.failure).toBeUndefined();
    await eventually(() => expect(processGone(grandchildPid(outcome.stdoutTail))).toBe(true));
  });

  it('passes only allow-listed variables of its own environment, and the spec\'s', async () => {
    const executor = createExecExecutor({
      envAllow: ['PATH', 'KEPT', 'UNSET'],
      baseEnv: { PATH: process.env.PATH, KEPT: 'yes', SECRET: 'token' },
      killGraceMs: 300,
    });
    const outcome = await executor(
      { executor: 'exec', argv: [node, '-e', 'console.log(JSON.stringify(process.env))'], env: { EXTRA: '1', KEPT: 'overridden' } },
      { signal: new AbortController().signal },
    );
    expect(JSON.parse(outcome.stdoutTail)).toEqual({ PATH: process.env.PATH, KEPT: 'overridden', EXTRA: '1' });
  });

  it('fails with 127 and says why when the program cannot be found', async () => {
    const outcome = await run(['/no/such/program', 'arg']);
    expect(outcome).toMatchObject({ exitCode: 127, stopped: false });
    expect(outcome.failure).toMatch(/^cannot run "\/no\/such\/program": .*ENOENT/);
  });
});

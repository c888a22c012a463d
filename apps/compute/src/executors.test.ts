import { describe, expect, it } from 'vitest';
import { createExecutors } from './executors.js';

const executors = createExecutors({ envAllow: ['PATH'], killGraceMs: 100 });
const context = () => ({ signal: new AbortController().signal });

describe('the executors a spec may name', () => {
  it('noop succeeds at once', async () => {
    expect(await executors.noop({ executor: 'noop' }, context())).toEqual({ exitCode: 0, stdoutTail: '', stderrTail: '', stopped: false });
  });

  it('sleep sleeps, and fails as timed out when its timeout is shorter than the sleep', async () => {
    expect(await executors.sleep({ executor: 'sleep', sleepMs: 20 }, context())).toMatchObject({ exitCode: 0, stopped: false, stdoutTail: 'slept 20 ms\n' });
    expect(await executors.sleep({ executor: 'sleep', sleepMs: 60_000, timeoutMs: 30 }, context())).toMatchObject({
      failure: 'timed out after 30 ms',
      stopped: false,
    });
  });

  it('sleep stops when its signal aborts', async () => {
    const controller = new AbortController();
    const sleeping = executors.sleep({ executor: 'sleep', sleepMs: 60_000 }, { signal: controller.signal });
    controller.abort();
    expect(await sleeping).toMatchObject({ stopped: true, failure: 'stopped' });
  });

  it('exec is there by its name', async () => {
    expect(await executors.exec({ executor: 'exec', argv: [process.execPath, '-e', "process.stdout.write('ran')"] }, context())).toMatchObject({
      exitCode: 0,
      stdoutTail: 'ran',
    });
  });
});

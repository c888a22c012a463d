import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { SPEC_LIMITS, type JobSpec } from '@jobkeep/client';
import { lastLine, type Executor, type RunContext, type RunOutcome } from './executor.js';
import { signalGroup } from './process-group.js';
import { OUTPUT_TAIL_BYTES, TailBuffer } from './tail-buffer.js';

export interface ExecExecutorOptions {
  /** Names of the variables of `baseEnv` that runs see; the spec's own `env` comes on top. */
  envAllow: readonly string[];
  /** The environment allow-listed variables are taken from: the agent's own by default. */
  baseEnv?: NodeJS.ProcessEnv;
  /** How long a stopped run's processes have between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** How much of each output stream is kept; 4 KiB by default. */
  tailBytes?: number;
}

/**
 * How long the output pipes may stay open after the run's process group was killed: only a
 * process that left the group (setsid) can hold them that long, and the run does not wait for it.
 */
const PIPE_CLOSE_WAIT_MS = 2000;

/**
 * The `exec` executor: runs `argv` without a shell, as the leader of a new process group, with
 * only the allow-listed environment and the spec's variables. A timeout, or the run's signal,
 * sends SIGTERM to the whole group and SIGKILL after the grace period. When the program itself
 * ends, whatever it left running in its group is killed: a run is over when its program is, and
 * nothing of it may live on unaccounted for. Only the last bytes of each output stream are kept.
 */
export function createExecExecutor(options: ExecExecutorOptions): Executor {
  const baseEnv = options.baseEnv ?? process.env;
  return (spec, context) => runExec(spec, context, { ...options, baseEnv });
}

function runExec(spec: JobSpec, context: RunContext, options: ExecExecutorOptions & { baseEnv: NodeJS.ProcessEnv }): Promise<RunOutcome> {
  const [program, ...args] = spec.argv ?? [];
  const stdout = new TailBuffer(options.tailBytes ?? OUTPUT_TAIL_BYTES);
  const stderr = new TailBuffer(options.tailBytes ?? OUTPUT_TAIL_BYTES);
  const tails = () => ({ stdoutTail: stdout.text(), stderrTail: stderr.text() });
  if (program === undefined || program === '') {
    return Promise.resolve({ exitCode: 127, ...tails(), failure: 'spec.argv names no program', stopped: false });
  }
  // Zero is read as "not given": a run killed the instant it starts is never what a spec means.
  const timeoutMs = spec.timeoutMs || SPEC_LIMITS.defaultTimeoutMs;
  if (context.signal.aborted) return Promise.resolve({ exitCode: 128 + signalNumber('SIGTERM'), ...tails(), failure: 'stopped before it started', stopped: true });

  let child: ChildProcess;
  try {
    child = spawn(program, args, { detached: true, env: runEnvironment(options.baseEnv, options.envAllow, spec.env), stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // Arguments spawn refuses outright, such as a NUL byte in one.
    return Promise.resolve({ exitCode: 127, ...tails(), failure: `cannot run ${JSON.stringify(program)}: ${(error as Error).message}`, stopped: false });
  }

  return new Promise<RunOutcome>((resolve) => {
    let stopReason: 'timeout' | 'stopped' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const pid = child.pid;

    child.stdout!.on('data', (chunk: Buffer) => stdout.write(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.write(chunk));

    const stop = (reason: 'timeout' | 'stopped') => {
      if (stopReason !== undefined || pid === undefined) return;
      stopReason = reason;
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), options.killGraceMs);
    };
    const timeout = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('stopped');
    context.signal.addEventListener('abort', onAbort, { once: true });
    const cleanUp = () => {
      clearTimeout(timeout);
      clearTimeout(killTimer);
      context.signal.removeEventListener('abort', onAbort);
    };

    child.once('spawn', () => {
      if (pid !== undefined) context.onSpawn?.(pid);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      // Only a failure to start ends the run here; once started, 'exit' does.
      if (child.pid !== undefined) return;
      cleanUp();
      const exitCode = error.code === 'EACCES' ? 126 : 127;
      resolve({ exitCode, ...tails(), failure: `cannot run ${JSON.stringify(program)}: ${error.message}`, stopped: false });
    });
    child.once('exit', (code, signal) => {
      cleanUp();
      // Read now: cleanUp has removed the timer and the listener, so nothing can change it any more.
      const reason = stopReason;
      // The program is done: what it left behind in its group goes with it.
      if (pid !== undefined) signalGroup(pid, 'SIGKILL');
      const finish = () => {
        const exitCode = code ?? 128 + signalNumber(signal ?? 'SIGKILL');
        const output = tails();
        resolve({ exitCode, ...output, ...outcomeOf(reason, code, signal, timeoutMs, output.stderrTail) });
      };
      // Output may still be in the pipes: wait for them to close, but not for a process that escaped the group.
      const closeWait = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish();
      }, PIPE_CLOSE_WAIT_MS);
      child.once('close', () => {
        clearTimeout(closeWait);
        finish();
      });
    });
  });
}

function outcomeOf(
  stopReason: 'timeout' | 'stopped' | undefined,
  code: number | null,
  signal: NodeJS.Signals | null,
  timeoutMs: number,
  stderrTail: string,
): Pick<RunOutcome, 'failure' | 'stopped'> {
  if (stopReason === 'stopped') return { failure: 'stopped', stopped: true };
  if (stopReason === 'timeout') return { failure: `timed out after ${timeoutMs} ms`, stopped: false };
  if (code === 0) return { stopped: false };
  const said = lastLine(stderrTail);
  const what = code === null ? `killed by ${signal}` : `exit ${code}`;
  return { failure: said === '' ? what : `${what}: ${said}`, stopped: false };
}

/** The allow-listed variables of `base` that are set, then the spec's own. */
export function runEnvironment(base: NodeJS.ProcessEnv, allow: readonly string[], extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of allow) {
    const value = base[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 9;
}

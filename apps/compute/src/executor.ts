import type { JobSpec } from '@jobkeep/client';

/** What a run left behind, whether it succeeded or not. */
export interface RunOutcome {
  /** The program's exit code; 128 + the signal's number when a signal ended it; 127 when it could not be started. */
  exitCode: number;
  /** The last 4 KiB of standard output and error. */
  stdoutTail: string;
  stderrTail: string;
  /** Why the run failed, in one line; undefined when it succeeded. */
  failure?: string;
  /** True when the run was stopped through its signal (cancel, shutdown) rather than ending by itself. */
  stopped: boolean;
}

export interface RunContext {
  /** Aborting it stops the run: its processes are killed and the outcome says `stopped`. */
  signal: AbortSignal;
  /** Told the process group of an exec run once it has started. */
  onSpawn?: (pid: number) => void;
}

/** Runs one job spec to its end. Never rejects: a run that cannot start is a failed outcome. */
export type Executor = (spec: JobSpec, context: RunContext) => Promise<RunOutcome>;

/** The last non-empty line of some output, shortened: what a failure message quotes. */
export function lastLine(text: string, max = 200): string {
  const line = text.trimEnd().split('\n').pop()?.trim() ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

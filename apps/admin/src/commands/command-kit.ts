import { invalidArgument } from '@jobkeep/errors';
import { Command, InvalidArgumentError } from 'commander';
import type { AdminBackend } from '../admin-backend.js';
import { chooseTarget, type AdminTarget } from '../admin-target.js';
import { errorCode, exitCodeFor } from '../exit-codes.js';
import { openBackend } from '../open-backend.js';

/**
 * A subcommand with --json and its examples under --help. Commander's parse errors become exit
 * code 2 and the tool's one-line error format (see adminProgram).
 */
export function adminCommand(name: string, description: string, examples: string[]): Command {
  return new Command(name)
    .description(description)
    .option('--json', 'print JSON instead of tables')
    .addHelpText('after', `\nExamples:\n${examples.map((example) => `  $ ${example.startsWith('jobkeep-admin') ? example : `jobkeep-admin ${example}`}`).join('\n')}\n\nExit codes: see jobkeep-admin --help.\n`);
}

/** What every action gets: the command's target and, once opened, its backend. */
export interface ActionContext {
  target: AdminTarget;
  backend: AdminBackend;
  json: boolean;
}

export interface RunOptions {
  /** Refuse a single --file: the command needs a data directory or a server. */
  needsDataDir?: boolean;
}

/**
 * Runs an action against the command's backend, closing it afterwards. A failure is one line on
 * stderr, `jobkeep-admin: CODE: message`, and the exit code its status deserves; nothing goes
 * to stdout, so a script reading --json never reads half a result.
 */
export async function runAction(self: Command, action: (context: ActionContext) => Promise<number | void>, options: RunOptions = {}): Promise<void> {
  let backend: AdminBackend | undefined;
  try {
    const target = chooseTarget(self);
    if (options.needsDataDir && target.mode === 'file') {
      throw invalidArgument(`${self.name()} works on a data directory or a server, not on one file: use --data-dir or --server`);
    }
    backend = await openBackend(target);
    const code = await action({ target, backend, json: self.optsWithGlobals<{ json?: boolean }>().json === true });
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    reportError(error);
  } finally {
    backend?.close();
  }
}

export function reportError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`jobkeep-admin: ${errorCode(error)}: ${message}\n`);
  process.exitCode = exitCodeFor(error);
}

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

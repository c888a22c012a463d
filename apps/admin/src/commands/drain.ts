import type { Command } from 'commander';
import { EXIT } from '../exit-codes.js';
import { printJson, printLine } from '../output.js';
import { progressBar } from '../progress.js';
import { printDatabases } from './databases.js';
import { adminCommand, runAction } from './command-kit.js';

export function drainCommand(): Command {
  return adminCommand(
    'drain',
    "moves every job that has not ended from one requester node's database to another's, then retires the source; run it again after an interruption and it carries on",
    ['drain --from node-1 --to node-2', 'drain --data-dir ./data --from node-1 --to node-2 --json'],
  )
    .requiredOption('--from <node>', 'the requester node to empty and retire')
    .requiredOption('--to <node>', 'the requester node that receives the jobs')
    .action((options: { from: string; to: string }, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          // SIGINT stops the drain after the job being moved: each step is whole, and a later
          // drain resumes where this one stopped.
          const interrupt = new AbortController();
          const onSigint = () => {
            process.stderr.write('jobkeep-admin: interrupted: stopping after the job being moved\n');
            interrupt.abort();
          };
          process.once('SIGINT', onSigint);
          const progress = progressBar(`drain ${options.from} -> ${options.to}`, 'jobs');
          let outcome;
          try {
            outcome = await backend.drainNode(options.from, options.to, {
              signal: interrupt.signal,
              onProgress: ({ moved, total }) => progress.update(moved, total),
            });
          } catch (error) {
            if (interrupt.signal.aborted) return EXIT.interrupted;
            throw error;
          } finally {
            progress.stop();
            process.off('SIGINT', onSigint);
          }
          if (interrupt.signal.aborted && !outcome.retired) return EXIT.interrupted;
          const result = { from: options.from, to: options.to, ...outcome };
          if (json) printJson(result);
          else printLine(`moved ${outcome.moved} jobs from ${options.from}-requester to ${options.to}-requester; ${options.from}-requester is ${outcome.retired ? 'RETIRED' : 'not retired'}`);
        },
        { needsDataDir: true },
      ),
    );
}

export function retireCommand(): Command {
  return adminCommand('retire', "marks a node's databases RETIRED; refused while any of them holds a job or an execution that has not ended", [
    'retire node-1',
    'retire --data-dir ./data node-1 --json',
  ])
    .argument('<node>', 'the node')
    .action((nodeId: string, _options: unknown, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const databases = await backend.retireNode(nodeId);
          if (json) printJson({ nodeId, databases });
          else printDatabases(databases);
        },
        { needsDataDir: true },
      ),
    );
}

import { notFound } from '@jobkeep/errors';
import { Command } from 'commander';
import { pairs, printJson, printLine, table } from '../output.js';
import { adminCommand, runAction } from './command-kit.js';

export function nodesCommand(): Command {
  return adminCommand('nodes', 'the node registry: every node, online or not, archived ones included', ['nodes', 'nodes --data-dir ./data --json']).action(
    (_options: unknown, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const nodes = await backend.listNodes();
          if (json) {
            printJson({ nodes });
            return;
          }
          printLine(
            table(
              ['ID', 'KIND', 'ADDRESS', 'ONLINE', 'ARCHIVED', 'SLOTS', 'LABELS', 'REGISTERED'],
              nodes.map((node) => [node.id, node.kind, node.address, node.online ? 'yes' : 'no', node.archived ? 'yes' : 'no', node.capacity.slots, pairs(node.labels), node.registerTime]),
            ),
          );
        },
        { needsDataDir: true },
      ),
  );
}

export function locksCommand(): Command {
  const locks = adminCommand('locks', 'the locks: holder lease, fencing token and waiters', ['locks', 'locks --json', 'locks release /locks/queue/ingest']).action(
    (_options: unknown, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const found = await backend.listLocks();
          if (json) {
            printJson({ locks: found });
            return;
          }
          printLine(
            table(
              ['NAME', 'HOLDER LEASE', 'TOKEN', 'WAITERS', 'ACQUIRED', 'AVAILABLE AT'],
              found.map((lock) => [lock.name, lock.holderLeaseId, lock.fencingToken, lock.waiterLeaseIds.join(', '), lock.acquireTime, lock.availableTime]),
            ),
          );
        },
        { needsDataDir: true },
      ),
  );
  locks.addCommand(
    adminCommand('release', "takes a lock from its holder (whose fenced writes then fail) and gives it to the next waiter", [
      'locks release /locks/queue/ingest',
      'locks release --data-dir ./data /locks/drain --json',
    ])
      .argument('<name>', 'the lock')
      .action((name: string, _options: unknown, self: Command) =>
        runAction(
          self,
          async ({ backend, json }) => {
            await backend.releaseLock(name);
            if (json) printJson({ name, released: true });
            else printLine(`released ${name}`);
          },
          { needsDataDir: true },
        ),
      ),
  );
  return locks;
}

export function historyCommand(): Command {
  return adminCommand('history', "a job's history: every change, in revision order", [
    'history j-1b2c3d --node node-1',
    'history j-1b2c3d --node node-1 --data-dir ./data --json',
  ])
    .argument('<job>', 'the job id')
    .requiredOption('--node <node>', 'the requester node whose database holds the job')
    .action((jobId: string, options: { node: string }, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const events = await backend.jobHistory(options.node, jobId);
          if (events.length === 0) throw notFound(`job ${jobId} has no history in ${options.node}-requester`);
          if (json) {
            printJson({ nodeId: options.node, jobId, events });
            return;
          }
          printLine(
            table(
              ['REVISION', 'TIME', 'EVENT', 'FROM', 'TO', 'EXECUTION', 'MESSAGE'],
              events.map((event) => [event.revision, event.time, event.type, event.previousState, event.newState, event.executionId, event.message]),
            ),
          );
        },
        { needsDataDir: true },
      ),
    );
}

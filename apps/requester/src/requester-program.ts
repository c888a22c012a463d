import { Command } from 'commander';
import { cancelCommand } from './commands/cancel.js';
import { daemonCommand } from './commands/daemon.js';
import { listCommand } from './commands/list.js';
import { logsCommand } from './commands/logs.js';
import { statusCommand } from './commands/status.js';
import { submitCommand } from './commands/submit.js';
import { addCommonOptions } from './requester-config.js';

/** The command line of jobkeep-requester: the daemon, and the commands people and scripts use. */
export function requesterProgram(): Command {
  const program = addCommonOptions(new Command('jobkeep-requester'))
    .description('the jobkeep requester node: submits jobs and places them on compute nodes')
    .showHelpAfterError();
  for (const command of [daemonCommand(), submitCommand(), statusCommand(), listCommand(), cancelCommand(), logsCommand()]) {
    program.addCommand(command);
  }
  return program;
}

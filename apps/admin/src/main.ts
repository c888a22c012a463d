#!/usr/bin/env node
import { runAdmin } from './admin-program.js';
import { EXIT } from './exit-codes.js';

// `jobkeep-admin export NAME | head` closes the pipe early. The reader may have all it wanted,
// but this process cannot know that: it ends quietly, with the code that says the output was
// cut short, never with 0, which would claim it was written whole.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT.brokenPipe);
});

await runAdmin(process.argv);

#!/usr/bin/env node
import { runAdmin } from './admin-program.js';

// `jobkeep-admin export NAME | head` closes the pipe early: the reader has what it wanted.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

await runAdmin(process.argv);

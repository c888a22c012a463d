#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runCrashSuite } from './crash-suite.js';

// The long crash run, on demand: `npm run crash -- --cycles 200 --writers 16`.
const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '100' },
    writers: { type: 'string', default: '16' },
    'data-dir': { type: 'string' },
  },
});

const cycles = Number(values.cycles);
const writers = Number(values.writers);
if (!Number.isInteger(cycles) || cycles < 1 || !Number.isInteger(writers) || writers < 1) {
  console.error('--cycles and --writers take whole numbers of at least 1');
  process.exit(2);
}

const started = Date.now();
const report = await runCrashSuite({ cycles, writers, dataDir: values['data-dir'], log: (line) => console.log(line) });
const seconds = ((Date.now() - started) / 1000).toFixed(0);
console.log(
  `\n${report.cycles} cycles of SIGKILL under ${writers} writers in ${seconds} s: ${report.acknowledged} writes acknowledged, ` +
    `${report.inDoubt} in doubt at a kill (${report.inDoubtCommitted} of them had committed), ${report.jobs} jobs, ` +
    `${report.verified} acknowledged jobs checked after restarts; ${report.locks.acknowledged} lease and lock writes acknowledged, ` +
    `${report.locks.inDoubt} in doubt, ${report.locks.verified} leases and locks checked after restarts; ${report.filesChecked} database files checked.`,
);
if (report.problems.length > 0) {
  console.log(`\n${report.problems.length} problems:`);
  for (const problem of report.problems) console.log(`- ${problem}`);
  process.exit(1);
}
console.log('No problems: every acknowledged write was there exactly once after every restart, and every file passed its checks.');

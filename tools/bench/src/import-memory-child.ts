import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { openStorage } from '@jobkeep/store';

/**
 * One run of import-memory-bench.ts, in a process of its own so that its peak RSS is the run's:
 * `read EXPORT` reads the export's lines and drops them (the floor of any reader of the file);
 * `import EXPORT DATA_DIR` imports it into a new database of a fresh store on DATA_DIR. Prints
 * {rows, seconds, peakRssMib} as one JSON line.
 */
const [mode, exportFile, dataDir] = process.argv.slice(2) as [string, string, string | undefined];
const started = performance.now();
const lines = createInterface({ input: fs.createReadStream(exportFile), crlfDelay: Infinity });
let rows = 0;
if (mode === 'read') {
  for await (const line of lines) if (line !== '') rows++;
  rows--; // the header
} else {
  const storage = openStorage({ dataDir: dataDir! });
  try {
    rows = (await storage.admin.importDatabase('imported-requester', lines)).rowsImported;
  } finally {
    storage.close();
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ rows, seconds, peakRssMib: process.resourceUsage().maxRSS / 1024 }));

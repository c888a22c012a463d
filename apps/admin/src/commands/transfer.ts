import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Command } from 'commander';
import { withDatabaseName } from '../admin-target.js';
import { printJson, printLine } from '../output.js';
import { progressBar, type Progress } from '../progress.js';
import { writeWholeFile } from '../whole-file.js';
import { adminCommand, runAction } from './command-kit.js';

/** Writes lines to a stream, waiting whenever it asks to (a slow pipe must not fill memory). */
async function writeLines(stream: NodeJS.WritableStream, lines: AsyncIterable<string>, progress: Progress, total: number): Promise<number> {
  let count = 0;
  for await (const line of lines) {
    if (!stream.write(`${line}\n`)) await once(stream, 'drain');
    count += 1;
    if (count % 1000 === 0) progress.update(count, total);
  }
  progress.update(count, total);
  return count;
}

export function exportCommand(): Command {
  return adminCommand('export', 'every row of a database as JSON lines (a header line first), on stdout or into a file', [
    'export node-1-requester > node-1.jsonl',
    'export node-1-requester -o node-1.jsonl --json',
    'export --file backup/node-1-compute.db -o node-1-compute.jsonl',
  ])
    .argument('[name]', 'the database (none with --file)')
    .option('-o, --output <file>', 'write the lines into this file (replaced whole) instead of stdout')
    .action((name: string | undefined, options: { output?: string }, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        const [database] = withDatabaseName(target, [name], []);
        const { totalRows, lines } = await backend.exportDatabase(database);
        // The header line, then one line per row.
        const total = totalRows + 1;
        const progress = progressBar(`export ${database}`, 'lines');
        const dest = options.output === undefined ? undefined : path.resolve(options.output);
        let written: number;
        try {
          if (dest === undefined) {
            await writeLines(process.stdout, lines, progress, total);
            return;
          }
          written = await writeWholeFile(dest, async (temp) => {
            const out = fs.createWriteStream(temp, { flags: 'wx' });
            try {
              return await writeLines(out, lines, progress, total);
            } finally {
              out.end();
              await once(out, 'close');
            }
          });
        } finally {
          progress.stop();
        }
        // After the bar is gone, so that the two never share a line.
        if (json) printJson({ database, file: dest, lines: written });
        else printLine(`${database}: ${written} lines -> ${dest}`);
      }),
    );
}

/** The lines of a file or of stdin, blank ones skipped; with a bar counting bytes for a file. */
async function* inputLines(file: string | undefined, progress: Progress): AsyncIterable<string> {
  const input = file === undefined ? process.stdin : fs.createReadStream(file);
  const total = file === undefined ? 0 : fs.statSync(file).size;
  let read = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    read += Buffer.byteLength(line) + 1;
    if (total > 0) progress.update(Math.min(read, total), total);
    if (line.trim() !== '') yield line;
  }
}

export function importCommand(): Command {
  return adminCommand('import', 'loads exported JSON lines into a new or empty node database; importing the same lines again changes nothing', [
    'import node-2-requester node-1.jsonl',
    'jobkeep-admin export node-1-requester | jobkeep-admin import node-2-requester',
    'import --data-dir ./data node-2-requester node-1.jsonl --json',
  ])
    .argument('<name>', 'the database to load: NODE-requester or NODE-compute')
    .argument('[file]', 'the JSON lines (stdin when none)')
    .action((name: string, file: string | undefined, _options: unknown, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          // Read before anything is written, so that a missing file is NOT_FOUND at once.
          if (file !== undefined) fs.accessSync(file, fs.constants.R_OK);
          const progress = progressBar(`import ${name}`, 'bytes');
          let outcome;
          try {
            outcome = await backend.importDatabase(name, inputLines(file, progress));
          } finally {
            progress.stop();
          }
          if (json) printJson({ database: name, ...outcome });
          else if (outcome.unchanged) printLine(`${name} already holds all ${outcome.rowsImported} rows: nothing changed`);
          else printLine(`imported ${outcome.rowsImported} rows into ${name}`);
        },
        { needsDataDir: true },
      ),
    );
}

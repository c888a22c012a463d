import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** tools/bench/results, beside src and dist. */
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** What a figure depends on besides the code: written with every result. */
export interface Machine {
  date: string;
  node: string;
  cpus: string;
  kernel: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine shows here. */
  loadAverage: number[];
  /** The JOBKEEP_BENCH_* settings of the run. */
  settings: Record<string, string>;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    settings: Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[0].startsWith('JOBKEEP_BENCH_'))),
  };
}

export function machineLine(machine: Machine): string {
  const settings = Object.entries(machine.settings).map(([name, value]) => `${name}=${value}`);
  return [
    `${machine.date}, node ${machine.node}, ${machine.cpus}, ${machine.kernel}`,
    `load average at start ${machine.loadAverage.join(' / ')}`,
    settings.length > 0 ? `settings ${settings.join(' ')}` : 'default settings',
  ].join('; ');
}

/** Writes results/<name>.json (everything) and results/<name>.md (what was printed); returns their paths. */
export function writeResults(name: string, data: unknown, markdown: string): string[] {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const files = [path.join(RESULTS_DIR, `${name}.json`), path.join(RESULTS_DIR, `${name}.md`)];
  fs.writeFileSync(files[0]!, `${JSON.stringify(data, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`);
  fs.writeFileSync(files[1]!, `${markdown}\n`);
  return files;
}

import fs from 'node:fs';

/**
 * Resident memory of a process now and at its peak, in MB (10^6 bytes, the unit of the issue's
 * target), from /proc/<pid>/status (Linux), which counts in KiB.
 */
export function processMemory(pid: number): { rssMb: number; peakRssMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (field: string) => (Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024) / 1e6;
  return { rssMb: mb('VmRSS'), peakRssMb: mb('VmHWM') };
}

/** File descriptors a process holds open now: its database files, sockets and the rest. */
export function openFiles(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

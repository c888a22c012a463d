import { describe, expect, it } from 'vitest';
import { runCrashSuite } from './crash-suite.js';

// The short run of the crash suite, in CI; `npm run crash` is the long one.
describe('the crash suite', () => {
  it('loses and doubles no acknowledged write (jobs, leases, locks) over 20 SIGKILLs under load, and every file passes its checks', async () => {
    const lines: string[] = [];
    const report = await runCrashSuite({ cycles: 20, writers: 16, log: (line) => lines.push(line) });

    expect(report.problems).toEqual([]);
    expect(report.cycles).toBe(20);
    // The kills landed under load: each came after at least 100 writes of its cycle were
    // acknowledged, and writes were in flight at the kills.
    expect(report.acknowledged).toBeGreaterThanOrEqual(20 * 100);
    expect(report.inDoubt).toBeGreaterThanOrEqual(20);
    expect(report.verified).toBeGreaterThan(report.jobs);
    // Leases and locks in coordination.db: granted, acquired and released under the same kills.
    expect(report.locks.acknowledged).toBeGreaterThanOrEqual(20 * 4);
    expect(report.locks.verified).toBeGreaterThan(20 * 4);
    // coordination.db and the requester files written so far, after each kill and after the final stop.
    expect(report.filesChecked).toBeGreaterThan(21 * 4);
    console.log(lines.at(-1), JSON.stringify({ ...report, dataDir: undefined }));
  });
});

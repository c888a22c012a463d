import fs from 'node:fs';
import path from 'node:path';
import { checkDatabaseFile, parseDatabaseName } from '@jobkeep/store';

/**
 * Runs the store's own checks (integrity_check, foreign keys, counters, revisions, and
 * coordination.db's leases and locks) on every database file of `dataDir`, read-only, while no
 * server has it open. Returns how many files it checked; findings go to `problems`.
 */
export function checkDataDirFiles(dataDir: string, problems: string[], when: string): number {
  const files = fs.readdirSync(dataDir).filter((name) => name.endsWith('.db'));
  for (const name of files) {
    const file = path.join(dataDir, name);
    const ref = parseDatabaseName(name.slice(0, -'.db'.length));
    for (const problem of checkDatabaseFile(ref.kind, file)) problems.push(`${when}: ${name}: ${problem.check}: ${problem.message}`);
  }
  if (!files.includes('coordination.db')) problems.push(`${when}: ${dataDir} has no coordination.db`);
  return files.length;
}

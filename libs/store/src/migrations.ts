import { failedPrecondition } from '@jobkeep/errors';
import type { SqliteDatabase } from './sqlite-connection.js';

/**
 * A database kind's schema as numbered steps: step N (1-based) takes a file from
 * `user_version` N-1 to N. Steps are only ever appended, never edited once released.
 */
export type Migrations = readonly string[];

/**
 * Brings `db` up to the latest version, each step in its own transaction so that a crash leaves
 * the file at a whole version. A file newer than this code is refused rather than guessed at.
 */
export function migrate(db: SqliteDatabase, migrations: Migrations, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw failedPrecondition(
      `database ${file} has schema version ${current}, newer than the ${migrations.length} this jobkeep ` +
        `knows: it was written by a newer jobkeep; upgrade jobkeep to open it`,
    );
  }
  for (let version = current + 1; version <= migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version - 1]!);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  }
}

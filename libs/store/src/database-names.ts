import fs from 'node:fs';
import { invalidArgument, notFound } from '@jobkeep/errors';
import type { DatabaseLocations, NodeDatabaseKind } from './database-locations.js';
import { checkNodeId } from './identifiers.js';

/** Which database an admin operation is about. */
export type DatabaseRef = { kind: 'coordination' } | { kind: NodeDatabaseKind; nodeId: string };

export const COORDINATION_NAME = 'coordination';

const NODE_KIND_SUFFIX = /^(.+)-(requester|compute)$/;

/**
 * Reads a database's name, which is its file name without `.db`: `coordination`,
 * `{node}-requester` or `{node}-compute`. The suffix is taken from the end, so node ids may
 * themselves contain `-requester` or `-compute`.
 */
export function parseDatabaseName(name: string): DatabaseRef {
  if (name === COORDINATION_NAME) return { kind: 'coordination' };
  const match = NODE_KIND_SUFFIX.exec(name);
  if (match?.[1] === undefined) {
    throw invalidArgument(`database ${JSON.stringify(name)} is not a database name: use coordination, NODE-requester or NODE-compute`);
  }
  return { kind: match[2] as NodeDatabaseKind, nodeId: checkNodeId(match[1]) };
}

export function databaseName(ref: DatabaseRef): string {
  return ref.kind === 'coordination' ? COORDINATION_NAME : `${ref.nodeId}-${ref.kind}`;
}

export function databasePath(locations: DatabaseLocations, ref: DatabaseRef): string {
  return ref.kind === 'coordination' ? locations.coordinationPath : locations.nodeDatabasePath(ref.kind, ref.nodeId);
}

/** A named database that exists: its ref and file. NOT_FOUND when the file does not exist. */
export function existingDatabase(locations: DatabaseLocations, name: string): { ref: DatabaseRef; file: string } {
  const ref = parseDatabaseName(name);
  const file = databasePath(locations, ref);
  if (!fs.existsSync(file)) throw notFound(`database ${name} does not exist (no file ${file})`);
  return { ref, file };
}

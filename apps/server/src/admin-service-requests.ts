import type { AdminService } from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import { ACCESS_TOKEN_LIMITS, CHECKPOINT_LIMITS, LOCK_LIMITS, MAX_IDENTIFIER_LENGTH, MAX_KEY_LIMIT, checkTokenId, parseDatabaseName } from '@jobkeep/store';
import { IMPORT_MESSAGE_LINES } from './admin-service.js';
import { anyValue, boundedByMessage, enumValue, identifier, integer, repeated, text, value, type ServiceRules } from './request-rules.js';

/** `coordination`, `{node}-requester` or `{node}-compute`. */
const databaseName = () =>
  value<string>((name, path) => {
    if (name === '') throw invalidArgument(`${path} is required: coordination, NODE-requester or NODE-compute`);
    parseDatabaseName(name);
  });

/** A database name, or the empty string where the request allows none. */
const optionalDatabaseName = () =>
  value<string>((name) => {
    if (name !== '') parseDatabaseName(name);
  });

/** A key's first column as text: the longest is a lock name; ids and checkpoint names are shorter. */
const MAX_KEY_TEXT = Math.max(MAX_IDENTIFIER_LENGTH, LOCK_LIMITS.maxNameLength, CHECKPOINT_LIMITS.nameLength);

/** Every field of every jobkeep.v1.AdminService request (each ImportDatabase message too). */
export const ADMIN_SERVICE_REQUESTS: ServiceRules<typeof AdminService> = {
  listDatabases: {},
  checkDatabase: { database: databaseName() },
  listTables: { database: databaseName() },
  getDatabaseStats: { database: databaseName() },
  listKeys: {
    database: databaseName(),
    table: identifier(),
    prefix: text(MAX_KEY_TEXT),
    // 0 is the default.
    limit: integer(0, MAX_KEY_LIMIT),
  },
  getRows: {
    database: databaseName(),
    table: identifier(),
    key: text(MAX_KEY_TEXT),
  },
  compactDatabase: { database: databaseName() },
  backupDatabase: { database: databaseName() },
  exportDatabase: { database: databaseName() },
  // The first message names the database, later ones may leave it empty; the handler checks the order.
  importDatabase: {
    database: optionalDatabaseName(),
    // A line is an exported row, as long as its spec or checkpoint data makes it: the message size bounds it.
    lines: repeated(IMPORT_MESSAGE_LINES, boundedByMessage()),
  },
  // Every node database when empty.
  runRetention: { database: optionalDatabaseName(), dryRun: anyValue() },
  drainNode: { sourceNodeId: identifier(), targetNodeId: identifier() },
  retireNode: { nodeId: identifier() },
  createAccessToken: {
    name: identifier(),
    role: enumValue({ required: true }),
    // Agent tokens only, which the store checks against the role.
    nodeIds: repeated(ACCESS_TOKEN_LIMITS.maxNodeIds, identifier()),
  },
  listAccessTokens: { includeRevoked: anyValue() },
  revokeAccessToken: { id: value<string>((id) => void checkTokenId(id)) },
};

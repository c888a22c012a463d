import type { Migrations } from './migrations.js';

/**
 * coordination.db: shared by every node: the catalogue of node databases, leases, locks, the node
 * registry and the access tokens.
 */
export const coordinationMigrations: Migrations = [
  `
  CREATE TABLE node_databases (
    node_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('requester', 'compute')),
    path        TEXT NOT NULL,
    lifecycle   TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (lifecycle IN ('ACTIVE', 'DRAINING', 'RETIRED')),
    create_time INTEGER NOT NULL,
    PRIMARY KEY (node_id, kind)
  ) STRICT, WITHOUT ROWID;
  `,
  `
  -- Leases: alive until expire_time unless kept alive. AUTOINCREMENT: an id is never reused,
  -- so a stale holder can never be mistaken for a new lease.
  CREATE TABLE leases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ttl_ms      INTEGER NOT NULL,
    grant_time  INTEGER NOT NULL,
    expire_time INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX leases_by_expiry ON leases (expire_time);

  -- Locks by name. A free lock keeps its row (and its last token) until it is needed again.
  CREATE TABLE locks (
    name            TEXT PRIMARY KEY,
    holder_lease_id INTEGER REFERENCES leases (id) ON DELETE SET NULL,
    fencing_token   INTEGER NOT NULL,
    acquire_time    INTEGER NOT NULL,
    lock_delay_ms   INTEGER NOT NULL,
    available_time  INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX locks_by_holder ON locks (holder_lease_id);

  -- Counters of coordination.db: 'fencing_token', the last token handed out, for every lock.
  CREATE TABLE coordination_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  INSERT INTO coordination_meta (key, value) VALUES ('fencing_token', 0);

  -- The node registry. A node is online while lease_id names a live lease; unregistering
  -- archives the row, which is never deleted.
  CREATE TABLE nodes (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('requester', 'compute')),
    address         TEXT NOT NULL,
    labels          TEXT NOT NULL,
    capacity        TEXT NOT NULL,
    lease_id        INTEGER REFERENCES leases (id) ON DELETE SET NULL,
    archived        INTEGER NOT NULL DEFAULT 0,
    register_time   INTEGER NOT NULL,
    unregister_time INTEGER
  ) STRICT;
  CREATE INDEX nodes_by_kind ON nodes (kind, archived, id);
  CREATE INDEX nodes_by_lease ON nodes (lease_id);
  CREATE TABLE node_labels (
    node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (node_id, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX node_labels_by_pair ON node_labels (key, value, node_id);
  `,
  `
  -- The requester databases in which a lease may hold claimed jobs, written before the claim
  -- commits. When the lease ends, its claims are returned in each of these databases, then its
  -- rows go; rows whose lease is gone are claims still to return after a crash.
  CREATE TABLE lease_claims (
    lease_id INTEGER NOT NULL,
    node_id  TEXT NOT NULL,
    PRIMARY KEY (lease_id, node_id)
  ) STRICT, WITHOUT ROWID;
  `,
  `
  -- Bearer tokens. Only a hash of each secret is kept: this file (or a backup of it) never holds
  -- a token anyone could use. node_ids is a JSON array of the nodes an agent token may write,
  -- '[]' for every node; only agent tokens are scoped. A revoked token keeps its row, and its
  -- name may then be given to a new one.
  CREATE TABLE access_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'reader')),
    node_ids    TEXT NOT NULL CHECK (json_valid(node_ids) AND json_type(node_ids) = 'array' AND (role = 'agent' OR node_ids = '[]')),
    secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
    create_time INTEGER NOT NULL,
    revoke_time INTEGER
  ) STRICT, WITHOUT ROWID;
  CREATE UNIQUE INDEX access_tokens_active_name ON access_tokens (name) WHERE revoke_time IS NULL;
  `,
  `
  -- Whose a lease is: the JSON array of the nodes the granting token was scoped to ('[]' for a
  -- token scoped to none), or NULL when the server checked no tokens (and for leases granted
  -- before this column), which leaves the lease to anyone. A node-scoped token may use only
  -- leases whose owner nodes are all its own (see the server's access policy). Never changed
  -- after the grant, and ids are never reused: a check of the owner holds for the lease's life.
  ALTER TABLE leases ADD COLUMN owner_node_ids TEXT
    CHECK (owner_node_ids IS NULL OR (json_valid(owner_node_ids) AND json_type(owner_node_ids) = 'array'));
  `,
];

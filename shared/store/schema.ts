import type { Sql } from "./sql.ts";

/**
 * The node's tables. Everything a node knows lives here (DESIGN.md invariant 2):
 * the keyspace, collection elements one row each, large payloads in chunks,
 * configuration and replication state in `meta`.
 *
 * Migrations are append-only: a node opened by a newer build upgrades in place.
 */
const MIGRATIONS: readonly string[][] = [
  [
    // One row per key. `key` holds the key bytes, or the SHA-256 of the key when
    // the key is longer than KEY_INLINE_MAX (`long_key` = 1; the bytes then live
    // in key_chunks). `slot` is CRC16 of the key's hash tag, computed once, so a
    // slot's keys can be counted and moved. `value` holds a string inline; a
    // larger string has value NULL and `chunks` rows in value_chunks.
    // `count` is the element count of a collection (O(1) HLEN/SCARD/...).
    // Ids only grow (AUTOINCREMENT): SCAN cursors and point-in-time snapshots
    // for full resync both rely on a key created later having a larger id.
    `CREATE TABLE keyspace (
       id INTEGER PRIMARY KEY AUTOINCREMENT,
       db INTEGER NOT NULL,
       key BLOB NOT NULL,
       long_key INTEGER NOT NULL DEFAULT 0,
       slot INTEGER NOT NULL,
       type INTEGER NOT NULL,
       expires_at INTEGER,
       value BLOB,
       chunks INTEGER NOT NULL DEFAULT 0,
       count INTEGER NOT NULL DEFAULT 0,
       modified_at INTEGER NOT NULL DEFAULT 0
     )`,
    `CREATE UNIQUE INDEX keyspace_by_name ON keyspace (db, key, long_key)`,
    `CREATE INDEX keyspace_by_slot ON keyspace (slot)`,
    `CREATE INDEX keyspace_by_expiry ON keyspace (expires_at) WHERE expires_at IS NOT NULL`,
    `CREATE TABLE key_chunks (key_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
       PRIMARY KEY (key_id, seq)) WITHOUT ROWID`,
    `CREATE TABLE value_chunks (key_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
       PRIMARY KEY (key_id, seq)) WITHOUT ROWID`,
    `CREATE TABLE hash_fields (key_id INTEGER NOT NULL, field BLOB NOT NULL, value BLOB NOT NULL,
       PRIMARY KEY (key_id, field)) WITHOUT ROWID`,
    // Lists: `pos` orders the elements; pushes take min-1 / max+1 (spaced so
    // LINSERT usually finds a free position between two neighbours).
    `CREATE TABLE list_items (key_id INTEGER NOT NULL, pos INTEGER NOT NULL, value BLOB NOT NULL,
       PRIMARY KEY (key_id, pos)) WITHOUT ROWID`,
    `CREATE TABLE set_members (key_id INTEGER NOT NULL, member BLOB NOT NULL,
       PRIMARY KEY (key_id, member)) WITHOUT ROWID`,
    // Sorted sets: by member for ZSCORE/ZADD, by (score, member) for ranges;
    // ties order by member bytes, as Redis orders them.
    `CREATE TABLE zset_members (key_id INTEGER NOT NULL, member BLOB NOT NULL, score REAL NOT NULL,
       PRIMARY KEY (key_id, member)) WITHOUT ROWID`,
    `CREATE INDEX zset_by_score ON zset_members (key_id, score, member)`,
    `CREATE TABLE meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID`,
    // The replication backlog (DESIGN.md invariant 5): the stream's bytes, one
    // row per top-level write, `start` = replication offset of the row's first
    // byte (offsets count bytes from 1, as Redis counts them).
    `CREATE TABLE repl_backlog (start INTEGER PRIMARY KEY, data BLOB NOT NULL)`,
    // Copy-on-write pre-images of keys changed while a full-sync snapshot is
    // being streamed: the snapshot sends these instead of the live key.
    `CREATE TABLE snapshot_preimages (snapshot INTEGER NOT NULL, key_id INTEGER NOT NULL, seq INTEGER NOT NULL,
       payload BLOB NOT NULL, PRIMARY KEY (snapshot, key_id, seq)) WITHOUT ROWID`,
  ],
  [
    // Counts of each sorted set's (score, member) order, for ranks without
    // walking the index (shared/commands/sorted-set/blocks.ts): blocks of
    // entries and groups of blocks, each holding what lies from its boundary
    // to the next; the first boundary is (-inf, x''). Sets that exist already
    // start as one block in one group, split to size by their next insert.
    `CREATE TABLE zset_blocks (key_id INTEGER NOT NULL, score REAL NOT NULL, member BLOB NOT NULL, n INTEGER NOT NULL,
       PRIMARY KEY (key_id, score, member)) WITHOUT ROWID`,
    `CREATE TABLE zset_groups (key_id INTEGER NOT NULL, score REAL NOT NULL, member BLOB NOT NULL, n INTEGER NOT NULL,
       blocks INTEGER NOT NULL, PRIMARY KEY (key_id, score, member)) WITHOUT ROWID`,
    `INSERT INTO zset_blocks (key_id, score, member, n)
       SELECT key_id, -9e999, x'', COUNT(*) FROM zset_members GROUP BY key_id`,
    `INSERT INTO zset_groups (key_id, score, member, n, blocks)
       SELECT key_id, -9e999, x'', COUNT(*), 1 FROM zset_members GROUP BY key_id`,
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the node's tables to the current schema. Cheap when already current. */
export function migrate(sql: Sql): void {
  sql.run(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
  const row = sql.one<{ version: number }>(`SELECT version FROM schema_version`);
  let version = row ? Number(row.version) : 0;
  if (version >= MIGRATIONS.length) return;
  sql.transaction(() => {
    for (; version < MIGRATIONS.length; version++) {
      for (const statement of MIGRATIONS[version]) sql.run(statement);
    }
    sql.run(`DELETE FROM schema_version`);
    sql.run(`INSERT INTO schema_version (version) VALUES (?)`, version);
  });
}

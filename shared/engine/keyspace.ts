import { sha256 } from "@noble/hashes/sha2.js";
import { keySlot } from "../cluster/slot.ts";
import { blob, num, type Row, type Sql } from "../store/sql.ts";
import { concat } from "../util/bytes.ts";
import { CommandError, Errors } from "./errors.ts";

/** Value types, as stored in keyspace.type. */
export const KeyType = { string: 0, list: 1, set: 2, zset: 3, hash: 4, stream: 5 } as const;
export type KeyType = (typeof KeyType)[keyof typeof KeyType];
export const TYPE_NAMES: Record<KeyType, string> = ["string", "list", "set", "zset", "hash", "stream"] as const as any;

/** Keys longer than this are stored by digest, their bytes in key_chunks (a row holds at most 2 MB). */
export const KEY_INLINE_MAX = 512 * 1024;
/** Strings longer than this are stored in value_chunks of this size. */
export const VALUE_INLINE_MAX = 1024 * 1024;

export interface KeyRecord {
  readonly id: number;
  readonly db: number;
  readonly key: Uint8Array;
  readonly type: KeyType;
  expiresAt: number | null;
  /** The inline string value; null for chunked strings and collections. */
  value: Uint8Array | null;
  chunks: number;
  /** Element count of a collection; 0 for strings. */
  count: number;
  modifiedAt: number;
}

/** What the keyspace tells the server about: the server turns these into effects and WATCH invalidation. */
export interface KeyspaceObserver {
  /** A key's value changed or it was deleted (Redis's signalModifiedKey). */
  keyModified(db: number, key: Uint8Array): void;
  /** A key was found expired and removed; the server propagates DEL. */
  keyExpired(db: number, key: Uint8Array): void;
  /** Replicas do not delete expired keys themselves: they wait for the master's DEL. */
  readonly expiresKeys: boolean;
  /** Called before an existing key's row changes or goes (full-sync snapshots keep its pre-image). */
  beforeChange?(record: KeyRecord): void;
}

/**
 * Databases from here up are invisible to clients: a replica loads a full-sync
 * snapshot into them and then switches them in atomically.
 */
export const HIDDEN_DB_BASE = 1_000_000;

/** Element tables of collection types, so removal and COPY reach every row of a key. */
const elementTables = new Map<KeyType, { table: string; columns: string }[]>();
export function registerElementTable(type: KeyType, table: string, columns: string): void {
  const list = elementTables.get(type) ?? [];
  if (!list.some((t) => t.table === table)) list.push({ table, columns });
  elementTables.set(type, list);
}
registerElementTable(KeyType.hash, "hash_fields", "field, value");
registerElementTable(KeyType.list, "list_items", "pos, value");
registerElementTable(KeyType.set, "set_members", "member");
registerElementTable(KeyType.zset, "zset_members", "member, score");
registerElementTable(KeyType.zset, "zset_blocks", "score, member, n");
registerElementTable(KeyType.zset, "zset_groups", "score, member, n, blocks");

const SELECT_COLUMNS = "id, type, expires_at, value, chunks, count, modified_at";

interface KeyRow extends Row {
  id: number;
  type: number;
  expires_at: number | null;
  value: Uint8Array | ArrayBuffer | null;
  chunks: number;
  count: number;
  modified_at: number;
}

/**
 * The keyspace of a node: every database, on SQL. All access to key rows goes
 * through here so that expiry, WATCH invalidation, size accounting and the
 * chunking of large keys and values each have one home.
 */
export class Keyspace {
  /** The command's clock (ms). The server sets it once per command, as Redis does. */
  now = Date.now();
  /** Called when a key gets a TTL, so the host can schedule active expiry. */
  onExpirySet: ((at: number) => void) | null = null;
  /** Per-db key counts, derived lazily from SQL and then maintained. */
  private sizes: Map<number, { keys: number; expires: number }> | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly observer: KeyspaceObserver,
  ) {}

  // ---- lookup -------------------------------------------------------------

  /** The key's row whether or not it has expired. */
  find(db: number, key: Uint8Array): KeyRecord | null {
    const [name, long] = storedName(key);
    const row = this.sql.one<KeyRow>(
      `SELECT ${SELECT_COLUMNS} FROM keyspace WHERE db = ? AND key = ? AND long_key = ?`,
      db, name, long,
    );
    return row ? toRecord(row, db, key) : null;
  }

  /** The live key, or null. An expired key is deleted (on a master) and reported. */
  lookup(db: number, key: Uint8Array): KeyRecord | null {
    const record = this.find(db, key);
    if (record === null) return null;
    if (record.expiresAt !== null && record.expiresAt <= this.now) {
      if (this.observer.expiresKeys) {
        this.remove(record);
        this.observer.keyExpired(db, key);
      }
      return null;
    }
    return record;
  }

  /** Hits and misses of reads, for INFO stats (Redis counts them in lookupKeyRead). */
  hits = 0;
  misses = 0;

  /** A read: like lookupType, and counted as a keyspace hit or miss. */
  read(db: number, key: Uint8Array, type?: KeyType): KeyRecord | null {
    const record = type === undefined ? this.lookup(db, key) : this.lookupType(db, key, type);
    if (record) this.hits++;
    else this.misses++;
    return record;
  }

  /** The live key if it has the given type; null if missing; WRONGTYPE otherwise. */
  lookupType(db: number, key: Uint8Array, type: KeyType): KeyRecord | null {
    const record = this.lookup(db, key);
    if (record !== null && record.type !== type) throw new CommandError(Errors.wrongType);
    return record;
  }

  exists(db: number, key: Uint8Array): boolean {
    return this.lookup(db, key) !== null;
  }

  isExpired(record: KeyRecord): boolean {
    return record.expiresAt !== null && record.expiresAt <= this.now;
  }

  // ---- strings ------------------------------------------------------------

  readString(record: KeyRecord): Uint8Array {
    if (record.chunks === 0) return record.value ?? new Uint8Array(0);
    const rows = this.sql.all<{ data: ArrayBuffer }>(
      `SELECT data FROM value_chunks WHERE key_id = ? ORDER BY seq`, record.id,
    );
    return concat(rows.map((r) => blob(r.data)));
  }

  stringLength(record: KeyRecord): number {
    if (record.chunks === 0) return record.value?.length ?? 0;
    const row = this.sql.one<{ n: number }>(`SELECT SUM(LENGTH(data)) AS n FROM value_chunks WHERE key_id = ?`, record.id);
    return num(row?.n);
  }

  /**
   * Stores a string at `key`, replacing any value of any type.
   * `expiresAt`: a time in ms, null for no expiry, or "keep" to keep the current TTL.
   */
  writeString(db: number, key: Uint8Array, value: Uint8Array, expiresAt: number | null | "keep"): void {
    const existing = this.find(db, key);
    const inline = value.length <= VALUE_INLINE_MAX ? value : null;
    const chunks = inline ? 0 : Math.ceil(value.length / VALUE_INLINE_MAX);
    if (existing) {
      this.observer.beforeChange?.(existing);
      const ttl = expiresAt === "keep" ? (this.isExpired(existing) ? null : existing.expiresAt) : expiresAt;
      if (existing.type !== KeyType.string) this.removeElements(existing);
      if (existing.chunks > 0) this.sql.run(`DELETE FROM value_chunks WHERE key_id = ?`, existing.id);
      this.sql.run(
        `UPDATE keyspace SET type = ?, value = ?, chunks = ?, count = 0, expires_at = ?, modified_at = ? WHERE id = ?`,
        KeyType.string, inline, chunks, ttl, this.now, existing.id,
      );
      this.adjustExpires(db, existing.expiresAt, ttl);
      if (!inline) this.writeChunks(existing.id, value);
    } else {
      const ttl = expiresAt === "keep" ? null : expiresAt;
      const id = this.insert(db, key, KeyType.string, inline, chunks, 0, ttl);
      if (!inline) this.writeChunks(id, value);
    }
    this.observer.keyModified(db, key);
  }

  private writeChunks(id: number, value: Uint8Array): void {
    for (let seq = 0, offset = 0; offset < value.length; seq++, offset += VALUE_INLINE_MAX) {
      this.sql.run(
        `INSERT INTO value_chunks (key_id, seq, data) VALUES (?, ?, ?)`,
        id, seq, value.subarray(offset, offset + VALUE_INLINE_MAX),
      );
    }
  }

  // ---- strings: byte ranges (APPEND, SETRANGE, GETRANGE) --------------------
  //
  // A chunked string keeps every chunk VALUE_INLINE_MAX bytes long except the
  // last, so byte i lives in chunk floor(i / VALUE_INLINE_MAX). These methods
  // read or rewrite only the chunks a range touches.

  /** Bytes [start, end) of a string (the caller clamps the range to its length). */
  readStringRange(record: KeyRecord, start: number, end: number): Uint8Array {
    if (end <= start) return new Uint8Array(0);
    if (record.chunks === 0) return (record.value ?? new Uint8Array(0)).slice(start, end);
    const first = Math.floor(start / VALUE_INLINE_MAX);
    const last = Math.floor((end - 1) / VALUE_INLINE_MAX);
    const rows = this.sql.all<{ seq: number; data: ArrayBuffer }>(
      `SELECT seq, data FROM value_chunks WHERE key_id = ? AND seq BETWEEN ? AND ? ORDER BY seq`,
      record.id, first, last,
    );
    const out = new Uint8Array(end - start);
    for (const row of rows) {
      const base = num(row.seq) * VALUE_INLINE_MAX;
      const data = blob(row.data);
      const from = Math.max(start, base);
      const to = Math.min(end, base + data.length);
      if (to > from) out.set(data.subarray(from - base, to - base), from - start);
    }
    return out;
  }

  /**
   * Writes `data` into the string at byte `offset`, zero-filling any gap past
   * its end and growing it as needed (SETRANGE; APPEND is offset = length).
   * Only the chunks the range touches are read and rewritten; an inline value
   * that grows past VALUE_INLINE_MAX becomes chunked. Returns the new length.
   */
  writeStringRange(record: KeyRecord, offset: number, data: Uint8Array): number {
    const oldLength = this.stringLength(record);
    const newLength = Math.max(oldLength, offset + data.length);
    if (data.length === 0) return oldLength;
    this.observer.beforeChange?.(record);
    if (record.chunks === 0 && newLength <= VALUE_INLINE_MAX) {
      const value = new Uint8Array(newLength);
      if (record.value) value.set(record.value);
      value.set(data, offset);
      this.sql.run(`UPDATE keyspace SET value = ?, modified_at = ? WHERE id = ?`, value, this.now, record.id);
      record.value = value;
    } else {
      let oldChunks = record.chunks;
      if (oldChunks === 0 && oldLength > 0) {
        // The inline value becomes chunk 0 (it is at most one chunk long).
        this.sql.run(`INSERT INTO value_chunks (key_id, seq, data) VALUES (?, ?, ?)`, record.id, 0, record.value!);
        oldChunks = 1;
      }
      const lo = Math.min(offset, oldLength);
      const hi = offset + data.length;
      for (let seq = Math.floor(lo / VALUE_INLINE_MAX); seq * VALUE_INLINE_MAX < hi; seq++) {
        const base = seq * VALUE_INLINE_MAX;
        const length = Math.min(VALUE_INLINE_MAX, newLength - base);
        const chunk = new Uint8Array(length);
        const from = Math.max(offset, base);
        const to = Math.min(hi, base + length);
        const covered = from === base && to === base + length;
        if (seq < oldChunks && !covered) {
          const row = this.sql.one<{ data: ArrayBuffer }>(
            `SELECT data FROM value_chunks WHERE key_id = ? AND seq = ?`, record.id, seq,
          );
          chunk.set(blob(row?.data));
        }
        if (to > from) chunk.set(data.subarray(from - offset, to - offset), from - base);
        if (seq < oldChunks) {
          this.sql.run(`UPDATE value_chunks SET data = ? WHERE key_id = ? AND seq = ?`, chunk, record.id, seq);
        } else {
          this.sql.run(`INSERT INTO value_chunks (key_id, seq, data) VALUES (?, ?, ?)`, record.id, seq, chunk);
        }
      }
      const chunks = Math.ceil(newLength / VALUE_INLINE_MAX);
      this.sql.run(
        `UPDATE keyspace SET value = NULL, chunks = ?, modified_at = ? WHERE id = ?`, chunks, this.now, record.id,
      );
      record.value = null;
      record.chunks = chunks;
    }
    record.modifiedAt = this.now;
    this.observer.keyModified(record.db, record.key);
    return newLength;
  }

  // ---- collections --------------------------------------------------------

  /** Creates an empty collection key (the caller adds elements and sets the count). */
  createCollection(db: number, key: Uint8Array, type: KeyType): KeyRecord {
    const id = this.insert(db, key, type, null, 0, 0, null);
    return { id, db, key, type, expiresAt: null, value: null, chunks: 0, count: 0, modifiedAt: this.now };
  }

  /**
   * Records a collection's new element count after the caller changed its rows.
   * A collection that became empty is deleted, as Redis deletes empty keys.
   */
  updateCount(record: KeyRecord, count: number): void {
    if (count <= 0) {
      this.remove(record);
    } else {
      record.count = count;
      record.modifiedAt = this.now;
      this.sql.run(`UPDATE keyspace SET count = ?, modified_at = ? WHERE id = ?`, count, this.now, record.id);
    }
    this.observer.keyModified(record.db, record.key);
  }

  // ---- generic ------------------------------------------------------------

  /** Deletes a key and everything it owns. Does not notify: see delete(). */
  remove(record: KeyRecord): void {
    this.observer.beforeChange?.(record);
    this.removeElements(record);
    if (record.chunks > 0) this.sql.run(`DELETE FROM value_chunks WHERE key_id = ?`, record.id);
    if (record.key.length > KEY_INLINE_MAX) this.sql.run(`DELETE FROM key_chunks WHERE key_id = ?`, record.id);
    this.sql.run(`DELETE FROM keyspace WHERE id = ?`, record.id);
    const size = this.sizes?.get(record.db);
    if (size) {
      size.keys--;
      if (record.expiresAt !== null) size.expires--;
    }
  }

  /** DEL: removes a live key and notifies watchers. Returns whether it existed. */
  delete(db: number, key: Uint8Array): boolean {
    const record = this.lookup(db, key);
    if (!record) return false;
    this.remove(record);
    this.observer.keyModified(db, key);
    return true;
  }

  setExpiry(record: KeyRecord, expiresAt: number | null): void {
    this.observer.beforeChange?.(record);
    this.adjustExpires(record.db, record.expiresAt, expiresAt);
    record.expiresAt = expiresAt;
    this.sql.run(`UPDATE keyspace SET expires_at = ?, modified_at = ? WHERE id = ?`, expiresAt, this.now, record.id);
    this.observer.keyModified(record.db, record.key);
  }

  /** Moves a key to a new name and/or db, keeping its id, value and TTL. The target must be free. */
  rename(record: KeyRecord, db: number, key: Uint8Array): void {
    this.observer.beforeChange?.(record);
    const [name, long] = storedName(key);
    if (record.key.length > KEY_INLINE_MAX) this.sql.run(`DELETE FROM key_chunks WHERE key_id = ?`, record.id);
    this.sql.run(
      `UPDATE keyspace SET db = ?, key = ?, long_key = ?, slot = ?, modified_at = ? WHERE id = ?`,
      db, name, long, keySlot(key), this.now, record.id,
    );
    if (long) this.writeKeyChunks(record.id, key);
    if (this.sizes && db !== record.db) {
      this.sizeOf(record.db).keys--;
      this.sizeOf(db).keys++;
      if (record.expiresAt !== null) {
        this.sizeOf(record.db).expires--;
        this.sizeOf(db).expires++;
      }
    }
    this.observer.keyModified(record.db, record.key);
    this.observer.keyModified(db, key);
  }

  /** Copies a key (any type) to a free target name, with its TTL. */
  copy(record: KeyRecord, db: number, key: Uint8Array): void {
    const id = this.insert(db, key, record.type, record.value, record.chunks, record.count, record.expiresAt);
    if (record.chunks > 0) {
      this.sql.run(`INSERT INTO value_chunks (key_id, seq, data) SELECT ?, seq, data FROM value_chunks WHERE key_id = ?`, id, record.id);
    }
    for (const { table, columns } of elementTables.get(record.type) ?? []) {
      this.sql.run(`INSERT INTO ${table} (key_id, ${columns}) SELECT ?, ${columns} FROM ${table} WHERE key_id = ?`, id, record.id);
    }
    this.observer.keyModified(db, key);
  }

  /** Removes every key of one db (or of all dbs when db is null). */
  flush(db: number | null): void {
    if (db === null) this.flushRange(0, HIDDEN_DB_BASE);
    else this.flushRange(db, db + 1);
  }

  /** Removes every key of the dbs in [from, to). */
  private flushRange(from: number, to: number): void {
    const where = " WHERE key_id IN (SELECT id FROM keyspace WHERE db >= ? AND db < ?)";
    for (const list of elementTables.values()) {
      for (const { table } of list) this.sql.run(`DELETE FROM ${table}${where}`, from, to);
    }
    this.sql.run(`DELETE FROM value_chunks${where}`, from, to);
    this.sql.run(`DELETE FROM key_chunks${where}`, from, to);
    this.sql.run(`DELETE FROM keyspace WHERE db >= ? AND db < ?`, from, to);
    this.sizes = null;
  }

  /** Empties the hidden dbs (a full sync starts loading). */
  clearHidden(): void {
    this.flushRange(HIDDEN_DB_BASE, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Replaces every visible db with its hidden counterpart (db + HIDDEN_DB_BASE)
   * in one step: the end of a full-sync load.
   */
  replaceWithHidden(): void {
    this.flushRange(0, HIDDEN_DB_BASE);
    this.sql.run(`UPDATE keyspace SET db = db - ? WHERE db >= ?`, HIDDEN_DB_BASE, HIDDEN_DB_BASE);
    this.sizes = null;
  }

  /** Exchanges two databases (SWAPDB). */
  swap(a: number, b: number): void {
    // Through a db no client can select: SQLite checks the (db, key) unique
    // index row by row, so a key present in both dbs would collide midway.
    const parked = -1;
    this.sql.run(`UPDATE keyspace SET db = ? WHERE db = ?`, parked, a);
    this.sql.run(`UPDATE keyspace SET db = ? WHERE db = ?`, a, b);
    this.sql.run(`UPDATE keyspace SET db = ? WHERE db = ?`, b, parked);
    if (this.sizes) {
      const sa = this.sizes.get(a), sb = this.sizes.get(b);
      this.sizes.delete(a);
      this.sizes.delete(b);
      if (sa) this.sizes.set(b, sa);
      if (sb) this.sizes.set(a, sb);
    }
  }

  // ---- iteration ------------------------------------------------------------

  /**
   * One page of a db's keys in id order, starting after `cursor`: the SCAN
   * primitive. Keys that stay in the db keep their id, so a full iteration
   * returns every key that existed throughout it.
   */
  page(db: number, cursor: number, limit: number): { records: KeyRecord[]; next: number } {
    const rows = this.sql.all<KeyRow & { key: ArrayBuffer; long_key: number }>(
      `SELECT ${SELECT_COLUMNS}, key, long_key FROM keyspace WHERE db = ? AND id > ? ORDER BY id LIMIT ?`,
      db, cursor, limit,
    );
    const records = rows.map((row) => toRecord(row, db, row.long_key ? this.readKeyChunks(row.id) : blob(row.key)));
    const next = rows.length < limit ? 0 : rows[rows.length - 1].id;
    return { records, next };
  }

  /**
   * The first key of any db below `dbBelow` with afterId < id <= maxId, in id
   * order (full-sync snapshots walk the whole keyspace with this).
   */
  pageAll(afterId: number, maxId: number, dbBelow: number): KeyRecord | null {
    const row = this.sql.one<KeyRow & { db: number; key: ArrayBuffer; long_key: number }>(
      `SELECT ${SELECT_COLUMNS}, db, key, long_key FROM keyspace WHERE id > ? AND id <= ? AND db < ? ORDER BY id LIMIT 1`,
      afterId, maxId, dbBelow,
    );
    if (!row) return null;
    return toRecord(row, num(row.db), row.long_key ? this.readKeyChunks(row.id) : blob(row.key));
  }

  /** A random live key of the db, or null when it has none. */
  randomKey(db: number, random: () => number): KeyRecord | null {
    for (let attempt = 0; attempt < 100; attempt++) {
      const bounds = this.sql.one<{ lo: number | null; hi: number | null }>(
        `SELECT MIN(id) AS lo, MAX(id) AS hi FROM keyspace WHERE db = ?`, db,
      );
      if (!bounds || bounds.lo === null || bounds.hi === null) return null;
      const pick = bounds.lo + Math.floor(random() * (bounds.hi - bounds.lo + 1));
      const row = this.sql.one<KeyRow & { key: ArrayBuffer; long_key: number }>(
        `SELECT ${SELECT_COLUMNS}, key, long_key FROM keyspace WHERE db = ? AND id >= ? ORDER BY id LIMIT 1`, db, pick,
      );
      if (!row) continue;
      const record = toRecord(row, db, row.long_key ? this.readKeyChunks(row.id) : blob(row.key));
      if (!this.isExpired(record)) return record;
      if (this.observer.expiresKeys) {
        this.remove(record);
        this.observer.keyExpired(db, record.key);
      } else {
        return record; // a replica reports keys it cannot expire itself, as Redis does
      }
    }
    return null;
  }

  /** Keys whose TTL has passed, oldest first, for the active expiry cycle. */
  expiredBatch(limit: number): { db: number; key: Uint8Array; record: KeyRecord }[] {
    const rows = this.sql.all<KeyRow & { db: number; key: ArrayBuffer; long_key: number }>(
      `SELECT ${SELECT_COLUMNS}, db, key, long_key FROM keyspace WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`,
      this.now, limit,
    );
    return rows.map((row) => {
      const key = row.long_key ? this.readKeyChunks(row.id) : blob(row.key);
      return { db: row.db, key, record: toRecord(row, row.db, key) };
    });
  }

  /** The earliest expiry time in the keyspace, for scheduling the next active cycle. */
  nextExpiry(): number | null {
    const row = this.sql.one<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM keyspace WHERE expires_at IS NOT NULL`);
    return row?.at ?? null;
  }

  // ---- sizes ----------------------------------------------------------------

  /** Forgets counters derived from SQL (after a rollback); they are recomputed on next use. */
  invalidateDerived(): void {
    this.sizes = null;
  }

  dbSize(db: number): number {
    return this.sizeOf(db).keys;
  }

  /** keys/expires per non-empty db, for INFO keyspace. */
  dbSizes(): Map<number, { keys: number; expires: number }> {
    this.loadSizes();
    return new Map([...this.sizes!].filter(([db, s]) => s.keys > 0 && db >= 0 && db < HIDDEN_DB_BASE).sort(([a], [b]) => a - b));
  }

  private sizeOf(db: number): { keys: number; expires: number } {
    this.loadSizes();
    let size = this.sizes!.get(db);
    if (!size) this.sizes!.set(db, (size = { keys: 0, expires: 0 }));
    return size;
  }

  private loadSizes(): void {
    if (this.sizes) return;
    this.sizes = new Map();
    const rows = this.sql.all<{ db: number; keys: number; expires: number }>(
      `SELECT db, COUNT(*) AS keys, COUNT(expires_at) AS expires FROM keyspace GROUP BY db`,
    );
    for (const row of rows) this.sizes.set(num(row.db), { keys: num(row.keys), expires: num(row.expires) });
  }

  private adjustExpires(db: number, before: number | null, after: number | null): void {
    if (after !== null) this.onExpirySet?.(after);
    if (!this.sizes || (before === null) === (after === null)) return;
    this.sizeOf(db).expires += after === null ? -1 : 1;
  }

  // ---- rows -------------------------------------------------------------------

  private insert(
    db: number, key: Uint8Array, type: KeyType, value: Uint8Array | null,
    chunks: number, count: number, expiresAt: number | null,
  ): number {
    const [name, long] = storedName(key);
    const row = this.sql.one<{ id: number }>(
      `INSERT INTO keyspace (db, key, long_key, slot, type, value, chunks, count, expires_at, modified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      db, name, long, keySlot(key), type, value, chunks, count, expiresAt, this.now,
    );
    const id = num(row!.id);
    if (long) this.writeKeyChunks(id, key);
    if (expiresAt !== null) this.onExpirySet?.(expiresAt);
    if (this.sizes) {
      const size = this.sizeOf(db);
      size.keys++;
      if (expiresAt !== null) size.expires++;
    }
    return id;
  }

  private removeElements(record: KeyRecord): void {
    for (const { table } of elementTables.get(record.type) ?? []) {
      this.sql.run(`DELETE FROM ${table} WHERE key_id = ?`, record.id);
    }
  }

  private writeKeyChunks(id: number, key: Uint8Array): void {
    for (let seq = 0, offset = 0; offset < key.length; seq++, offset += KEY_INLINE_MAX) {
      this.sql.run(`INSERT INTO key_chunks (key_id, seq, data) VALUES (?, ?, ?)`, id, seq, key.subarray(offset, offset + KEY_INLINE_MAX));
    }
  }

  private readKeyChunks(id: number): Uint8Array {
    const rows = this.sql.all<{ data: ArrayBuffer }>(`SELECT data FROM key_chunks WHERE key_id = ? ORDER BY seq`, id);
    return concat(rows.map((r) => blob(r.data)));
  }
}

/** The stored form of a key name: the bytes themselves, or a digest for very long keys. */
function storedName(key: Uint8Array): [Uint8Array, 0 | 1] {
  return key.length > KEY_INLINE_MAX ? [sha256(key), 1] : [key, 0];
}

function toRecord(row: KeyRow, db: number, key: Uint8Array): KeyRecord {
  return {
    id: num(row.id),
    db,
    key,
    type: num(row.type) as KeyType,
    expiresAt: row.expires_at === null ? null : num(row.expires_at),
    value: row.value === null ? null : blob(row.value),
    chunks: num(row.chunks),
    count: num(row.count),
    modifiedAt: num(row.modified_at),
  };
}

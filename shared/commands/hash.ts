/**
 * Hash commands (Redis 7.0 t_hash.c), on SQL.
 *
 * Storage: one row per field in `hash_fields(key_id, field, value)`, primary
 * key (key_id, field), so every single-field operation is one indexed
 * statement. The key's `count` column is the field count (HLEN is O(1)); it is
 * kept by Keyspace.createCollection / updateCount, and updateCount deletes the
 * key when the last field goes, as Redis deletes empty hashes.
 *
 * Nothing here loads a whole hash to work on one field. HGETALL, HKEYS and
 * HVALS return everything, so they read everything, but in bounded SQL pages.
 * HRANDFIELD picks rows by random offsets; HSCAN pages in field (byte) order.
 *
 * Order: Redis returns a small (listpack) hash in insertion order and a large
 * one in hash-table order; tidekv always returns fields in byte order.
 */
import {
  array, bulk, EMPTY_ARRAY, integer, map, NULL, OK, ONE, ZERO,
  type BulkReply, type Reply,
} from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import type { Config } from "../engine/config.ts";
import { Errors, fail, wrongArity } from "../engine/errors.ts";
import { KeyType, type KeyRecord } from "../engine/keyspace.ts";
import { blob, type Sql } from "../store/sql.ts";
import { globMatch } from "../util/glob.ts";
import {
  addLongDouble, formatLongDouble, isFiniteLongDouble, parseInt64, parseLongDouble,
} from "../util/numbers.ts";
import { registerObjectEncoding } from "./generic.ts";
import type { HandlerTable } from "./spec.ts";

/**
 * The largest field or value a hash accepts. A field and its value share one
 * SQLite row, and a Durable Object row holds at most 2 MB: two elements of at
 * most 1 MiB each (plus the key id) always fit. Larger elements are refused
 * with Errors.elementTooLarge before anything is written. (Strings have no such
 * limit: they are chunked across rows.)
 */
export const HASH_ELEMENT_MAX = 1024 * 1024;

const ERR_NAN_OR_INFINITY = "ERR value is NaN or Infinity";
const ERR_OUT_OF_RANGE = "ERR value is out of range";
const ERR_INVALID_CURSOR = "ERR invalid cursor";
const LONG_MAX = 2n ** 63n - 1n;
const ERR_COUNT_RANGE = `ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`;

/** Rows per SQL page when a command walks a whole hash (HGETALL, HKEYS, HVALS). */
const PAGE_ROWS = 512;

const encoder = new TextEncoder();
const HSET_NAME = encoder.encode("HSET");

interface FieldRow {
  [column: string]: ArrayBuffer | Uint8Array | number | null;
  field: ArrayBuffer | Uint8Array;
  value: ArrayBuffer | Uint8Array;
}

// ---- single-field SQL --------------------------------------------------------

function getValue(sql: Sql, id: number, field: Uint8Array): Uint8Array | null {
  const row = sql.one<{ value: ArrayBuffer | Uint8Array }>(
    `SELECT value FROM hash_fields WHERE key_id = ? AND field = ?`, id, field,
  );
  return row ? blob(row.value) : null;
}

function hasField(sql: Sql, id: number, field: Uint8Array): boolean {
  return sql.one(`SELECT 1 AS x FROM hash_fields WHERE key_id = ? AND field = ?`, id, field) !== undefined;
}

/** Sets one field; returns true when the field is new. */
function setValue(sql: Sql, id: number, field: Uint8Array, value: Uint8Array): boolean {
  const inserted = sql.all(
    `INSERT OR IGNORE INTO hash_fields (key_id, field, value) VALUES (?, ?, ?) RETURNING 1 AS x`, id, field, value,
  );
  if (inserted.length > 0) return true;
  sql.run(`UPDATE hash_fields SET value = ? WHERE key_id = ? AND field = ?`, value, id, field);
  return false;
}

function deleteField(sql: Sql, id: number, field: Uint8Array): boolean {
  return sql.all(`DELETE FROM hash_fields WHERE key_id = ? AND field = ? RETURNING 1 AS x`, id, field).length > 0;
}

function checkElementSize(...elements: Uint8Array[]): void {
  for (const element of elements) if (element.length > HASH_ELEMENT_MAX) fail(Errors.elementTooLarge);
}

// ---- paging --------------------------------------------------------------------

/**
 * Rows in field order: after `after` (exclusive) when given, else from the
 * start skipping `offset` rows. At most `limit` rows.
 */
function fieldPage(
  sql: Sql, id: number, after: Uint8Array | null, offset: number, limit: number, withValues = true,
): { field: Uint8Array; value: Uint8Array | null }[] {
  const columns = withValues ? "field, value" : "field";
  const rows = after === null
    ? sql.all<FieldRow>(
      `SELECT ${columns} FROM hash_fields WHERE key_id = ? ORDER BY field LIMIT ? OFFSET ?`, id, limit, offset,
    )
    : sql.all<FieldRow>(
      `SELECT ${columns} FROM hash_fields WHERE key_id = ? AND field > ? ORDER BY field LIMIT ? OFFSET ?`,
      id, after, limit, offset,
    );
  return rows.map((row) => ({ field: blob(row.field), value: withValues ? blob(row.value) : null }));
}

/** Calls `visit` for every field of the hash in field order, reading PAGE_ROWS rows at a time. */
function forEachField(
  sql: Sql, id: number, withValues: boolean, visit: (field: Uint8Array, value: Uint8Array | null) => void,
): void {
  let after: Uint8Array | null = null;
  for (;;) {
    const rows = fieldPage(sql, id, after, 0, PAGE_ROWS, withValues);
    for (const row of rows) visit(row.field, row.value);
    if (rows.length < PAGE_ROWS) return;
    after = rows[rows.length - 1].field;
  }
}

// ---- encoding ----------------------------------------------------------------------

/**
 * OBJECT ENCODING of a hash, by Redis's rules: "hashtable" once the hash has
 * more than hash-max-listpack-entries fields or any field or value longer than
 * hash-max-listpack-value bytes, else "listpack". The length test is one SQL
 * query that stops at the first long element, and runs only on hashes small
 * enough to be listpacks.
 *
 * Redis never converts a hash back to a listpack; tidekv derives the encoding
 * from the current contents, so a hash that shrank answers "listpack" where
 * Redis would still say "hashtable".
 */
export function hashEncoding(record: KeyRecord, config: Config, sql: Sql): "listpack" | "hashtable" {
  if (record.count > config.int("hash-max-listpack-entries")) return "hashtable";
  const max = config.int("hash-max-listpack-value");
  const long = sql.one(
    `SELECT 1 AS x FROM hash_fields WHERE key_id = ? AND (LENGTH(field) > ? OR LENGTH(value) > ?) LIMIT 1`,
    record.id, max, max,
  );
  return long ? "hashtable" : "listpack";
}

registerObjectEncoding(KeyType.hash, (call, record) => hashEncoding(record, call.server.config, call.server.sql));

// ---- HSCAN cursors -------------------------------------------------------------------

/**
 * HSCAN's cursor is a number (Redis clients parse it as one), while tidekv
 * pages by field. A cursor is `tag * 2^32 + rank`: `rank` is how many fields
 * the iteration had returned, and `tag` names an entry in a small per-node
 * memory that holds the last field returned. With that entry the next page is
 * an indexed seek (`field > last`), which never misses a field that existed
 * throughout the iteration, whatever is inserted or deleted meanwhile. A
 * cursor whose entry is gone (the node restarted, was evicted, or the entry
 * aged out) resumes at `OFFSET rank`: still a complete iteration unless fields
 * before the position were deleted in between. Cursors stay below 2^52.
 */
interface ScanPosition {
  readonly db: number;
  readonly keyId: number;
  readonly last: Uint8Array;
  readonly rank: number;
}

const RANK_SPAN = 2 ** 32;
const TAG_LIMIT = 2 ** 20;
const CURSOR_ENTRIES_MAX = 4096;
const CURSOR_BYTES_MAX = 8 * 1024 * 1024;
/** Fields longer than this are not remembered; their cursor resumes by offset. */
const CURSOR_FIELD_MAX = 64 * 1024;
/** Rows HSCAN returns at most per call, whatever COUNT asks (COUNT is a hint). */
const SCAN_PAGE_MAX = 1024;
/** And at most about this many bytes per call (at least one field). */
const SCAN_BYTES_MAX = 8 * 1024 * 1024;
const SCAN_BATCH = 32;

class ScanCursors {
  private readonly entries = new Map<number, ScanPosition>();
  private bytes = 0;
  private tag = 0;

  issue(position: ScanPosition): number {
    this.tag = (this.tag % (TAG_LIMIT - 1)) + 1;
    const cursor = this.tag * RANK_SPAN + Math.min(position.rank, RANK_SPAN - 1);
    if (position.last.length > CURSOR_FIELD_MAX) return cursor;
    this.drop(cursor);
    this.entries.set(cursor, position);
    this.bytes += position.last.length;
    while (this.entries.size > CURSOR_ENTRIES_MAX || this.bytes > CURSOR_BYTES_MAX) {
      this.drop(this.entries.keys().next().value!);
    }
    return cursor;
  }

  find(cursor: bigint): ScanPosition | undefined {
    return cursor < BigInt(Number.MAX_SAFE_INTEGER) ? this.entries.get(Number(cursor)) : undefined;
  }

  private drop(cursor: number): void {
    const entry = this.entries.get(cursor);
    if (!entry) return;
    this.bytes -= entry.last.length;
    this.entries.delete(cursor);
  }
}

const scanCursors = new WeakMap<object, ScanCursors>();
function cursorsOf(server: object): ScanCursors {
  let cursors = scanCursors.get(server);
  if (!cursors) scanCursors.set(server, (cursors = new ScanCursors()));
  return cursors;
}

const MAX_ULONG = 2n ** 64n - 1n;

/**
 * Redis's parseScanCursorOrReply: strtoul base 10 of the whole argument (up to
 * a NUL byte). Leading whitespace is refused, a sign is allowed ("-1" wraps),
 * the empty string is cursor 0, and anything past 2^64-1 is out of range.
 */
function parseScanCursor(arg: Uint8Array): bigint | null {
  let end = arg.indexOf(0);
  if (end < 0) end = arg.length;
  if (end === 0) return 0n;
  const first = arg[0];
  if (first === 0x20 || (first >= 0x09 && first <= 0x0d)) return null;
  let i = 0;
  let negative = false;
  if (first === 0x2b || first === 0x2d) {
    negative = first === 0x2d;
    i = 1;
  }
  if (i >= end) return null; // a sign alone: strtoul converts nothing and stops at the sign
  let value = 0n;
  for (; i < end; i++) {
    const c = arg[i];
    if (c < 0x30 || c > 0x39) return null;
    value = value * 10n + BigInt(c - 0x30);
    if (value > MAX_ULONG) return null;
  }
  return negative && value !== 0n ? 2n ** 64n - value : value;
}

// ---- random picks ----------------------------------------------------------------------

const randomBelow = (n: number): number => Math.floor(Math.random() * n);

/** `k` distinct integers in [0, n), by Floyd's algorithm (memory O(k)). */
function distinctOffsets(k: number, n: number): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = randomBelow(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen];
}

/**
 * The rows at the given offsets (in field order) of a hash of `size` fields.
 * Sparse offsets are reached by seeks that skip the gaps inside SQLite
 * (`field > previous ... OFFSET gap`); dense ones by reading the hash in pages.
 * Either way the work is bounded by the hash's size, never by memory.
 */
function rowsAtOffsets(
  sql: Sql, id: number, size: number, offsets: number[], withValues: boolean,
): Map<number, { field: Uint8Array; value: Uint8Array | null }> {
  const sorted = [...offsets].sort((a, b) => a - b);
  const found = new Map<number, { field: Uint8Array; value: Uint8Array | null }>();
  if (sorted.length * 4 > size) {
    let next = 0;
    let position = 0;
    let after: Uint8Array | null = null;
    while (next < sorted.length) {
      const rows = fieldPage(sql, id, after, 0, PAGE_ROWS, withValues);
      for (const row of rows) {
        if (position === sorted[next]) {
          found.set(position, row);
          next++;
        }
        position++;
      }
      if (rows.length < PAGE_ROWS) break;
      after = rows[rows.length - 1].field;
    }
    return found;
  }
  let after: Uint8Array | null = null;
  let previous = -1;
  for (const offset of sorted) {
    const rows = fieldPage(sql, id, after, offset - previous - 1, 1, withValues);
    if (rows.length === 0) break;
    found.set(offset, rows[0]);
    after = rows[0].field;
    previous = offset;
  }
  return found;
}

/**
 * HRANDFIELD with a negative count repeats fields, so its reply does not
 * depend on the hash's size and could be made arbitrarily large (Redis would
 * stream it until memory runs out). tidekv refuses replies of more than
 * RANDOM_REPLY_ELEMENTS_MAX fields or about RANDOM_REPLY_BYTES_MAX bytes.
 */
const RANDOM_REPLY_ELEMENTS_MAX = 1_000_000;
const RANDOM_REPLY_BYTES_MAX = 64 * 1024 * 1024;
const ERR_RANDOM_REPLY_TOO_LARGE =
  `ERR HRANDFIELD reply too large (at most ${RANDOM_REPLY_ELEMENTS_MAX} fields and ${RANDOM_REPLY_BYTES_MAX} bytes)`;

function hrandfieldWithCount(call: CommandCall, count: bigint, withValues: boolean): Reply {
  const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
  if (!record) return EMPTY_ARRAY;
  const size = record.count;
  const unique = count >= 0n;
  const magnitude = unique ? count : -count;
  if (magnitude === 0n) return EMPTY_ARRAY;
  const resp3 = call.client.protocol === 3;
  const sql = call.server.sql;

  // A pair as the protocol wants it: [field, value] in RESP3, two flat elements in RESP2.
  const out: Reply[] = [];
  const emit = (field: BulkReply, value: BulkReply | null) => {
    if (value === null) out.push(field);
    else if (resp3) out.push(array([field, value]));
    else out.push(field, value);
  };

  if (!unique || magnitude === 1n) {
    // Fields may repeat, in random order.
    if (magnitude > BigInt(RANDOM_REPLY_ELEMENTS_MAX)) fail(ERR_RANDOM_REPLY_TOO_LARGE);
    const n = Number(magnitude);
    const picks = new Uint32Array(n);
    for (let i = 0; i < n; i++) picks[i] = randomBelow(size);
    const distinct = new Set(picks);
    const rows = rowsAtOffsets(sql, record.id, size, [...distinct], withValues);
    const replies = new Map<number, [BulkReply, BulkReply | null]>();
    let bytes = 0;
    for (const [offset, row] of rows) replies.set(offset, [bulk(row.field), row.value === null ? null : bulk(row.value)]);
    const fallback = replies.values().next().value;
    if (!fallback) return EMPTY_ARRAY; // the hash vanished under us: cannot happen inside one command
    for (let i = 0; i < n; i++) {
      const [field, value] = replies.get(picks[i]) ?? fallback;
      bytes += field.value.length + (value ? value.value.length : 0) + 16;
      if (bytes > RANDOM_REPLY_BYTES_MAX) fail(ERR_RANDOM_REPLY_TOO_LARGE);
      emit(field, value);
    }
    return array(out);
  }

  if (magnitude >= BigInt(size)) {
    // The whole hash.
    forEachField(sql, record.id, withValues, (field, value) => emit(bulk(field), value === null ? null : bulk(value)));
    return array(out);
  }

  // Distinct fields, fewer than the hash has, in random order.
  const offsets = distinctOffsets(Number(magnitude), size);
  const rows = rowsAtOffsets(sql, record.id, size, offsets, withValues);
  const picked = [...rows.values()];
  for (let i = picked.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [picked[i], picked[j]] = [picked[j], picked[i]];
  }
  for (const row of picked) emit(bulk(row.field), row.value === null ? null : bulk(row.value));
  return array(out);
}

// ---- commands ----------------------------------------------------------------------------

function hset(call: CommandCall, isHmset: boolean): Reply {
  const argv = call.argv;
  if (argv.length % 2 === 1) fail(wrongArity(call.command.fullName));
  const record = hashForWrite(call, ...argv.slice(2));
  const sql = call.server.sql;
  let created = 0;
  for (let i = 2; i < argv.length; i += 2) if (setValue(sql, record.id, argv[i], argv[i + 1])) created++;
  call.keys.updateCount(record, record.count + created);
  call.dirty += (argv.length - 2) / 2;
  return isHmset ? OK : integer(created);
}

/**
 * The hash at argv[1] for a write, created empty when missing (Redis's
 * hashTypeLookupWriteOrCreate). The elements about to be written are checked
 * after the type (WRONGTYPE first, as Redis) and before anything is written.
 */
function hashForWrite(call: CommandCall, ...elements: Uint8Array[]): KeyRecord {
  const record = call.keys.lookupType(call.db, call.argv[1], KeyType.hash);
  checkElementSize(...elements);
  return record ?? call.keys.createCollection(call.db, call.argv[1], KeyType.hash);
}

export const hashCommands: HandlerTable = {
  hset: (call) => hset(call, false),
  hmset: (call) => hset(call, true),

  hsetnx: (call) => {
    const [, key, field, value] = call.argv;
    let record = call.keys.lookupType(call.db, key, KeyType.hash);
    const sql = call.server.sql;
    if (record && hasField(sql, record.id, field)) return ZERO;
    checkElementSize(field, value);
    record ??= call.keys.createCollection(call.db, key, KeyType.hash);
    setValue(sql, record.id, field, value);
    call.keys.updateCount(record, record.count + 1);
    call.dirty++;
    return ONE;
  },

  hget: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    if (!record) return NULL;
    const value = getValue(call.server.sql, record.id, call.argv[2]);
    return value === null ? NULL : bulk(value);
  },

  hmget: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    const sql = call.server.sql;
    const out: Reply[] = [];
    for (let i = 2; i < call.argv.length; i++) {
      const value = record ? getValue(sql, record.id, call.argv[i]) : null;
      out.push(value === null ? NULL : bulk(value));
    }
    return array(out);
  },

  hdel: (call) => {
    const record = call.keys.lookupType(call.db, call.argv[1], KeyType.hash);
    if (!record) return ZERO;
    const sql = call.server.sql;
    let deleted = 0;
    let count = record.count;
    for (let i = 2; i < call.argv.length && count > 0; i++) {
      if (deleteField(sql, record.id, call.argv[i])) {
        deleted++;
        count--;
      }
    }
    if (deleted > 0) {
      call.keys.updateCount(record, count);
      call.dirty += deleted;
    }
    return integer(deleted);
  },

  hexists: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    return record && hasField(call.server.sql, record.id, call.argv[2]) ? ONE : ZERO;
  },

  hlen: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    return integer(record ? record.count : 0);
  },

  hstrlen: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    if (!record) return ZERO;
    const row = call.server.sql.one<{ n: number }>(
      `SELECT LENGTH(value) AS n FROM hash_fields WHERE key_id = ? AND field = ?`, record.id, call.argv[2],
    );
    return integer(row ? Number(row.n) : 0);
  },

  hkeys: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    if (!record) return EMPTY_ARRAY;
    const out: Reply[] = [];
    forEachField(call.server.sql, record.id, false, (field) => out.push(bulk(field)));
    return array(out);
  },

  hvals: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    if (!record) return EMPTY_ARRAY;
    const out: Reply[] = [];
    forEachField(call.server.sql, record.id, true, (_field, value) => out.push(bulk(value!)));
    return array(out);
  },

  hgetall: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
    const pairs: [Reply, Reply][] = [];
    if (record) forEachField(call.server.sql, record.id, true, (field, value) => pairs.push([bulk(field), bulk(value!)]));
    return map(pairs);
  },

  hincrby: (call) => {
    const [, , field, incrArg] = call.argv;
    const increment = parseInt64(incrArg);
    if (increment === null) fail(Errors.notInteger);
    const record = hashForWrite(call, field);
    const sql = call.server.sql;
    const current = getValue(sql, record.id, field);
    let value = 0n;
    if (current !== null) {
      const parsed = parseInt64(current);
      if (parsed === null) fail(Errors.hashValueNotInteger);
      value = parsed;
    }
    const result = value + increment;
    if (result > LONG_MAX || result < -LONG_MAX - 1n) fail(Errors.overflow);
    const created = setValue(sql, record.id, field, encoder.encode(result.toString()));
    call.keys.updateCount(record, record.count + (created ? 1 : 0));
    call.dirty++;
    return integer(result >= -9007199254740991n && result <= 9007199254740991n ? Number(result) : result);
  },

  hincrbyfloat: (call) => {
    const [, key, field, incrArg] = call.argv;
    const increment = parseLongDouble(incrArg);
    if (increment === null) fail(Errors.notFloat);
    if (!isFiniteLongDouble(increment)) fail(ERR_NAN_OR_INFINITY);
    const record = hashForWrite(call, field);
    const sql = call.server.sql;
    const current = getValue(sql, record.id, field);
    let value = parseLongDouble("0")!;
    if (current !== null) {
      const parsed = parseLongDouble(current);
      if (parsed === null) fail(Errors.hashValueNotFloat);
      value = parsed;
    }
    const sum = addLongDouble(value, increment);
    if (!isFiniteLongDouble(sum)) fail(Errors.incrFloatNanOrInf);
    const result = encoder.encode(formatLongDouble(sum));
    const created = setValue(sql, record.id, field, result);
    call.keys.updateCount(record, record.count + (created ? 1 : 0));
    call.dirty++;
    // Replicated as HSET with the result, as Redis 7.0 does, so that replicas
    // never redo float arithmetic.
    call.rewrite([HSET_NAME, key, field, result]);
    return bulk(result);
  },

  hrandfield: (call) => {
    const argv = call.argv;
    if (argv.length >= 3) {
      const count = parseInt64(argv[2]);
      if (count === null) fail(Errors.notInteger);
      if (count < -LONG_MAX) fail(ERR_COUNT_RANGE);
      if (argv.length > 4 || (argv.length === 4 && call.option(3) !== "withvalues")) fail(Errors.syntax);
      const withValues = argv.length === 4;
      if (withValues && (count < -LONG_MAX / 2n || count > LONG_MAX / 2n)) fail(ERR_OUT_OF_RANGE);
      return hrandfieldWithCount(call, count, withValues);
    }
    const record = call.keys.read(call.db, argv[1], KeyType.hash);
    if (!record) return NULL;
    const sql = call.server.sql;
    const rows = rowsAtOffsets(sql, record.id, record.count, [randomBelow(record.count)], false);
    const row = rows.values().next().value ?? fieldPage(sql, record.id, null, 0, 1, false)[0];
    return row ? bulk(row.field) : NULL;
  },

  hscan: (call) => {
    const argv = call.argv;
    const cursor = parseScanCursor(argv[2]);
    if (cursor === null) fail(ERR_INVALID_CURSOR);
    const record = call.keys.read(call.db, argv[1], KeyType.hash);
    if (!record) return array([bulk("0"), EMPTY_ARRAY]);
    let count = 10n;
    let pattern: Uint8Array | null = null;
    for (let i = 3; i < argv.length; i += 2) {
      const option = call.option(i);
      const hasValue = i + 1 < argv.length;
      if (option === "count" && hasValue) {
        const n = parseInt64(argv[i + 1]);
        if (n === null) fail(Errors.notInteger);
        if (n < 1n) fail(Errors.syntax);
        count = n;
      } else if (option === "match" && hasValue) {
        const p = argv[i + 1];
        pattern = p.length === 1 && p[0] === 0x2a ? null : p; // "*" matches everything
      } else {
        fail(Errors.syntax);
      }
    }
    const sql = call.server.sql;
    const items: Reply[] = [];
    const add = (field: Uint8Array, value: Uint8Array) => {
      if (pattern === null || globMatch(pattern, field)) items.push(bulk(field), bulk(value));
    };

    // Redis answers a small (listpack) hash whole, with cursor 0, whatever the cursor.
    if (record.count <= SCAN_PAGE_MAX && hashEncoding(record, call.server.config, sql) === "listpack") {
      forEachField(sql, record.id, true, (field, value) => add(field, value!));
      return array([bulk("0"), array(items)]);
    }

    const cursors = cursorsOf(call.server);
    const resumed = cursor === 0n ? undefined : cursors.find(cursor);
    let after: Uint8Array | null = null;
    let skip = 0;
    let rank = 0;
    if (resumed && resumed.db === call.db && resumed.keyId === record.id) {
      after = resumed.last;
      rank = resumed.rank;
    } else if (cursor !== 0n) {
      rank = Number(cursor % BigInt(RANK_SPAN));
      skip = rank;
    }
    const wanted = Number(count < BigInt(SCAN_PAGE_MAX) ? count : BigInt(SCAN_PAGE_MAX));
    let taken = 0;
    let bytes = 0;
    let last: Uint8Array | null = null;
    let exhausted = false;
    while (taken < wanted && bytes < SCAN_BYTES_MAX) {
      const limit = Math.min(SCAN_BATCH, wanted - taken);
      const rows = fieldPage(sql, record.id, after, skip, limit);
      skip = 0;
      let used = 0;
      for (const row of rows) {
        add(row.field, row.value!);
        bytes += row.field.length + row.value!.length;
        last = after = row.field;
        taken++;
        used++;
        if (bytes >= SCAN_BYTES_MAX) break;
      }
      if (used === rows.length && rows.length < limit) {
        exhausted = true;
        break;
      }
    }
    if (!exhausted && last !== null) {
      exhausted = fieldPage(sql, record.id, last, 0, 1, false).length === 0;
    }
    if (exhausted || last === null) return array([bulk("0"), array(items)]);
    const next = cursors.issue({ db: call.db, keyId: record.id, last, rank: rank + taken });
    return array([bulk(String(next)), array(items)]);
  },
};


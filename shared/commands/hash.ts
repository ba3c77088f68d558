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
import {
  addLongDouble, formatLongDouble, isFiniteLongDouble, parseInt64, parseLongDouble,
} from "../util/numbers.ts";
import {
  distinctPicks, randomBelow, RandomReplyLimit, randomReplyTooLarge, repeatedPicks, rowsAtOffsets,
} from "./collection-random.ts";
import {
  CollectionScan, EMPTY_SCAN, openScan, SCAN_PAGE_MAX, scanMatches, scanReply, type ScanSource,
} from "./collection-scan.ts";
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

// ---- HSCAN and random picks --------------------------------------------------------------

/** HSCAN's cursor memory (see collection-scan.ts); 32 rows per SQL statement. */
const hscanPages = new CollectionScan(32);

interface FieldEntry {
  field: Uint8Array;
  value: Uint8Array | null;
}

/** The hash's rows in field order (with or without values), for HSCAN and HRANDFIELD. */
function fieldRows(sql: Sql, id: number, withValues: boolean): ScanSource<FieldEntry> {
  return {
    page: (after, skip, limit) => fieldPage(sql, id, after, skip, limit, withValues),
    hasMoreAfter: (after) => fieldPage(sql, id, after, 0, 1, false).length > 0,
    member: (row) => row.field,
    bytes: (row) => row.field.length + row.value!.length,
  };
}

/** The rows at the given offsets (in field order) of a hash of `size` fields (see rowsAtOffsets). */
function fieldsAtOffsets(
  sql: Sql, id: number, size: number, offsets: number[], withValues: boolean,
): Map<number, FieldEntry> {
  return rowsAtOffsets(fieldRows(sql, id, withValues), size, offsets, PAGE_ROWS);
}

const ERR_RANDOM_REPLY_TOO_LARGE = randomReplyTooLarge("HRANDFIELD", "fields");

function hrandfieldWithCount(call: CommandCall, count: bigint, withValues: boolean): Reply {
  const record = call.keys.read(call.db, call.argv[1], KeyType.hash);
  if (!record) return EMPTY_ARRAY;
  const size = record.count;
  const unique = count >= 0n;
  const magnitude = unique ? count : -count;
  if (magnitude === 0n) return EMPTY_ARRAY;
  const resp3 = call.client.protocol === 3;
  const sql = call.server.sql;
  const rowsAt = (offsets: number[]) => fieldsAtOffsets(sql, record.id, size, offsets, withValues);

  // A pair as the protocol wants it: [field, value] in RESP3, two flat elements in RESP2.
  const out: Reply[] = [];
  const emit = (field: BulkReply, value: BulkReply | null) => {
    if (value === null) out.push(field);
    else if (resp3) out.push(array([field, value]));
    else out.push(field, value);
  };

  if (!unique || magnitude === 1n) {
    // Fields may repeat, in random order.
    const limit = new RandomReplyLimit(ERR_RANDOM_REPLY_TOO_LARGE);
    limit.checkCount(magnitude);
    for (const row of repeatedPicks(Number(magnitude), size, rowsAt)) {
      limit.addBytes(row.field.length + (row.value ? row.value.length : 0) + 16);
      emit(bulk(row.field), row.value === null ? null : bulk(row.value));
    }
    return array(out);
  }

  if (magnitude >= BigInt(size)) {
    // The whole hash.
    forEachField(sql, record.id, withValues, (field, value) => emit(bulk(field), value === null ? null : bulk(value)));
    return array(out);
  }

  // Distinct fields, fewer than the hash has, in random order.
  for (const row of distinctPicks(Number(magnitude), size, rowsAt)) {
    emit(bulk(row.field), row.value === null ? null : bulk(row.value));
  }
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
    const rows = fieldsAtOffsets(sql, record.id, record.count, [randomBelow(record.count)], false);
    const row = rows.values().next().value ?? fieldPage(sql, record.id, null, 0, 1, false)[0];
    return row ? bulk(row.field) : NULL;
  },

  hscan: (call) => {
    const opened = openScan(call, KeyType.hash);
    if (!opened) return EMPTY_SCAN;
    const { record, scan } = opened;
    const sql = call.server.sql;

    // Redis answers a small (listpack) hash whole, with cursor 0, whatever the cursor.
    if (record.count <= SCAN_PAGE_MAX && hashEncoding(record, call.server.config, sql) === "listpack") {
      const items: Reply[] = [];
      forEachField(sql, record.id, true, (field, value) => {
        if (scanMatches(scan, field)) items.push(bulk(field), bulk(value!));
      });
      return scanReply(0, items);
    }

    const { cursor, rows } = hscanPages.page(call, record.id, scan, fieldRows(sql, record.id, true));
    return scanReply(cursor, rows.flatMap((row) => [bulk(row.field), bulk(row.value!)]));
  },
};


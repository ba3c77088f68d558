import { encodeCommand } from "../resp/encode.ts";
import { blob, num, type Sql } from "../store/sql.ts";
import { KeyType, type KeyRecord, type Keyspace } from "../engine/keyspace.ts";
import { formatDouble } from "../util/numbers.ts";

/** Most bytes one serialized command carries (keeps every piece well under a row and a frame). */
const BATCH_BYTES = 512 * 1024;
/** Most elements one serialized command carries. */
const BATCH_ELEMENTS = 1000;

const encoder = new TextEncoder();

/**
 * Writes a key as the commands that recreate it: SET (+APPEND for large
 * strings), RPUSH, SADD, ZADD, HSET in bounded batches, then PEXPIREAT.
 * Used by full-sync snapshots and their copy-on-write pre-images. `emit` gets
 * one encoded command at a time, so memory stays bounded whatever the key's
 * size.
 */
export function serializeKey(sql: Sql, keys: Keyspace, record: KeyRecord, emit: (command: Uint8Array) => void): void {
  for (const command of keyCommands(sql, record)) emit(command);
  void keys;
}

/**
 * The commands that recreate a key, one at a time, read from SQL page by page
 * as they are taken: a caller may stop between two (a key migration sends them
 * in chunks, awaiting each).
 */
export function* keyCommands(sql: Sql, record: KeyRecord): Generator<Uint8Array> {
  const key = record.key;
  switch (record.type) {
    case KeyType.string: {
      if (record.chunks === 0) {
        yield encodeCommand(["SET", key, record.value ?? new Uint8Array(0)]);
      } else {
        let first = true;
        for (let seq = 0; ; seq++) {
          const row = sql.one<{ data: ArrayBuffer }>(`SELECT data FROM value_chunks WHERE key_id = ? AND seq = ?`, record.id, seq);
          if (!row) break;
          const data = blob(row.data);
          for (let at = 0; at < data.length || (first && at === 0); at += BATCH_BYTES) {
            yield encodeCommand([first ? "SET" : "APPEND", key, data.subarray(at, at + BATCH_BYTES)]);
            first = false;
          }
        }
      }
      break;
    }
    case KeyType.hash:
      for (const rows of page(sql, "hash_fields", "field", "value", record.id)) {
        yield encodeCommand(["HSET", key, ...rows.flatMap((r) => [blob(r.a), blob(r.b as ArrayBuffer)])]);
      }
      break;
    case KeyType.set:
      for (const rows of page(sql, "set_members", "member", null, record.id)) {
        yield encodeCommand(["SADD", key, ...rows.map((r) => blob(r.a))]);
      }
      break;
    case KeyType.zset:
      for (const rows of page(sql, "zset_members", "member", "score", record.id)) {
        yield encodeCommand(["ZADD", key, ...rows.flatMap((r) => [encoder.encode(formatDouble(num(r.b as number))), blob(r.a)])]);
      }
      break;
    case KeyType.list:
      for (const values of pageByPosition(sql, record.id)) yield encodeCommand(["RPUSH", key, ...values]);
      break;
    default:
      throw new Error(`cannot serialize keys of type ${record.type}`);
  }
  if (record.expiresAt !== null) yield encodeCommand(["PEXPIREAT", key, String(record.expiresAt)]);
}

type PairRow = { a: ArrayBuffer; b?: ArrayBuffer | number };

/**
 * Pages a collection's element table in primary-key order (`column` after the
 * key id), batching by element count and bytes. The first page has no lower
 * bound: an element may be the empty string.
 */
function* page(sql: Sql, table: string, column: string, other: string | null, keyId: number): Generator<PairRow[]> {
  const select = `SELECT ${column} AS a${other ? `, ${other} AS b` : ""} FROM ${table} WHERE key_id = ?`;
  let cursor: Uint8Array | null = null;
  for (;;) {
    const rows: PairRow[] = cursor === null
      ? sql.all<PairRow>(`${select} ORDER BY ${column} LIMIT ?`, keyId, BATCH_ELEMENTS)
      : sql.all<PairRow>(`${select} AND ${column} > ? ORDER BY ${column} LIMIT ?`, keyId, cursor, BATCH_ELEMENTS);
    if (rows.length === 0) return;
    let batch: PairRow[] = [];
    let bytes = 0;
    for (const row of rows) {
      const size = blob(row.a).length + (typeof row.b === "number" ? 24 : row.b ? blob(row.b).length : 0);
      if (batch.length > 0 && bytes + size > BATCH_BYTES) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(row);
      bytes += size;
    }
    if (batch.length > 0) yield batch;
    cursor = blob(rows[rows.length - 1].a);
    if (rows.length < BATCH_ELEMENTS) return;
  }
}

function* pageByPosition(sql: Sql, keyId: number): Generator<Uint8Array[]> {
  let cursor: number | null = null;
  for (;;) {
    const rows: { pos: number; value: ArrayBuffer }[] = cursor === null
      ? sql.all(`SELECT pos, value FROM list_items WHERE key_id = ? ORDER BY pos LIMIT ?`, keyId, BATCH_ELEMENTS)
      : sql.all(`SELECT pos, value FROM list_items WHERE key_id = ? AND pos > ? ORDER BY pos LIMIT ?`, keyId, cursor, BATCH_ELEMENTS);
    if (rows.length === 0) return;
    let batch: Uint8Array[] = [];
    let bytes = 0;
    for (const row of rows) {
      const value = blob(row.value);
      if (batch.length > 0 && bytes + value.length > BATCH_BYTES) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(value);
      bytes += value.length;
    }
    if (batch.length > 0) yield batch;
    cursor = num(rows[rows.length - 1].pos);
    if (rows.length < BATCH_ELEMENTS) return;
  }
}

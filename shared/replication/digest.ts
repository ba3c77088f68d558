import { sha256 } from "@noble/hashes/sha2.js";
import { blob, num, type Sql } from "../store/sql.ts";
import { HIDDEN_DB_BASE, type Keyspace } from "../engine/keyspace.ts";
import { serializeKey } from "./serialize.ts";

const PAGE = 500;

/**
 * A digest of the whole visible dataset (every db, key, type, value and TTL),
 * independent of insertion order and key ids, for DEBUG DIGEST: two nodes with
 * equal digests hold the same data. Pages through SQL in (db, key) order.
 */
export function datasetDigest(sql: Sql, keys: Keyspace): string {
  const hash = sha256.create();
  const encoder = new TextEncoder();
  let cursor: { db: number; key: Uint8Array; long: number } | null = null;
  let any = false;
  for (;;) {
    const rows: { id: number; db: number; key: ArrayBuffer; long_key: number }[] = cursor === null
      ? sql.all(`SELECT id, db, key, long_key FROM keyspace WHERE db < ? ORDER BY db, key, long_key LIMIT ?`, HIDDEN_DB_BASE, PAGE)
      : sql.all(
          `SELECT id, db, key, long_key FROM keyspace WHERE db < ? AND (db, key, long_key) > (?, ?, ?) ORDER BY db, key, long_key LIMIT ?`,
          HIDDEN_DB_BASE, cursor.db, cursor.key, cursor.long, PAGE,
        );
    for (const row of rows) {
      const db = num(row.db);
      const record = keys.pageAll(num(row.id) - 1, num(row.id), HIDDEN_DB_BASE);
      if (!record) continue;
      any = true;
      hash.update(encoder.encode(`db${db}\n`));
      serializeKey(sql, keys, record, (command) => hash.update(command));
    }
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1];
    cursor = { db: num(last.db), key: blob(last.key), long: num(last.long_key) };
  }
  if (!any) return "0".repeat(40);
  return Array.from(hash.digest().subarray(0, 20), (b) => b.toString(16).padStart(2, "0")).join("");
}

import { encodeCommand } from "../resp/encode.ts";
import { blob, num, type Sql } from "../store/sql.ts";
import { concat } from "../util/bytes.ts";
import { HIDDEN_DB_BASE, type KeyRecord, type Keyspace } from "../engine/keyspace.ts";
import { serializeKey } from "./serialize.ts";

/** Snapshot data is applied into hidden dbs on a replica, then switched in atomically. */
export const STAGING_DB_BASE = HIDDEN_DB_BASE;

/** The command that ends a snapshot in the stream (never a real command name). */
export const SNAPSHOT_END = "TIDEKV-SNAPSHOT-END";

/** Keys with more elements than this are staged as pre-images and streamed in pieces. */
const LARGE_KEY_ELEMENTS = 1000;

let nextSessionId = 1;

/**
 * A point-in-time snapshot of the keyspace for one full sync, streamed in
 * bounded chunks while the master keeps serving.
 *
 * The snapshot is "the keyspace as it was at `offset`". Keys are sent in id
 * order; ids only grow, so keys created later (id > maxKeyId) are left to the
 * stream. A key about to change before it was sent has its pre-image saved
 * first (copy on write, in SQL), and the snapshot sends the pre-image. So the
 * replica loads exactly the state at `offset` and then applies the stream from
 * there: nothing lost, nothing applied twice.
 */
export class SnapshotSession {
  readonly id = nextSessionId++;
  private readonly maxKeyId: number;
  /** Every key with id <= cursor has been sent (or is being sent from its pre-image). */
  private cursor = 0;
  /** A pre-image being streamed: its key id and the next payload row. */
  private streaming: { keyId: number; seq: number } | null = null;
  private finished = false;
  keysSent = 0;
  /** Keys saved as pre-images because they changed before being sent (copy on write). */
  preimages = 0;
  bytesSent = 0;

  constructor(
    private readonly sql: Sql,
    private readonly keys: Keyspace,
    readonly offset: number,
  ) {
    const row = sql.one<{ seq: number }>(`SELECT seq FROM sqlite_sequence WHERE name = 'keyspace'`);
    this.maxKeyId = row ? num(row.seq) : 0;
  }

  get done(): boolean {
    return this.finished;
  }

  /** Called before a key changes: keeps its pre-image if the snapshot still has to send it. */
  preserve(record: KeyRecord): void {
    if (this.finished || record.id > this.maxKeyId || record.id <= this.cursor) return;
    if (record.db >= STAGING_DB_BASE) return;
    if (this.sql.one(`SELECT 1 AS yes FROM snapshot_preimages WHERE snapshot = ? AND key_id = ? LIMIT 1`, this.id, record.id)) return;
    this.stage(record);
    this.preimages++;
  }

  /** The next piece of the snapshot (about `maxBytes`), ending with SNAPSHOT_END; null once sent. */
  next(maxBytes: number): Uint8Array | null {
    if (this.finished) return null;
    const parts: Uint8Array[] = [];
    let total = 0;
    const push = (bytes: Uint8Array) => {
      parts.push(bytes);
      total += bytes.length;
    };
    while (total < maxBytes) {
      if (this.streaming) {
        const row = this.sql.one<{ payload: ArrayBuffer }>(
          `SELECT payload FROM snapshot_preimages WHERE snapshot = ? AND key_id = ? AND seq = ?`,
          this.id, this.streaming.keyId, this.streaming.seq,
        );
        if (row) {
          push(blob(row.payload));
          this.streaming.seq++;
          continue;
        }
        this.sql.run(`DELETE FROM snapshot_preimages WHERE snapshot = ? AND key_id = ?`, this.id, this.streaming.keyId);
        this.streaming = null;
        this.keysSent++;
        continue;
      }
      const staged = this.sql.one<{ key_id: number }>(
        `SELECT key_id FROM snapshot_preimages WHERE snapshot = ? AND key_id > ? ORDER BY key_id LIMIT 1`, this.id, this.cursor,
      );
      const live = this.keys.pageAll(this.cursor, this.maxKeyId, STAGING_DB_BASE);
      const stagedId = staged ? num(staged.key_id) : Infinity;
      if (live === null && stagedId === Infinity) {
        push(encodeCommand([SNAPSHOT_END, String(this.keysSent)]));
        this.finished = true;
        this.release();
        break;
      }
      if (stagedId <= (live?.id ?? Infinity)) {
        // Changed (or deleted) after the snapshot began: send what it was.
        this.cursor = stagedId;
        this.streaming = { keyId: stagedId, seq: 0 };
        continue;
      }
      const record = live!;
      if (this.keys.isExpired(record)) {
        // Already expired: the master's DEL for it follows in the stream.
        this.cursor = record.id;
        continue;
      }
      if (record.count > LARGE_KEY_ELEMENTS || record.chunks > 0) {
        this.stage(record);
        this.cursor = record.id;
        this.streaming = { keyId: record.id, seq: 0 };
        continue;
      }
      this.cursor = record.id;
      push(encodeCommand(["SELECT", String(record.db)]));
      serializeKey(this.sql, this.keys, record, push);
      this.keysSent++;
    }
    this.bytesSent += total;
    return concat(parts, total);
  }

  /** Forgets the session's pre-images (finished or abandoned). */
  release(): void {
    this.sql.run(`DELETE FROM snapshot_preimages WHERE snapshot = ?`, this.id);
  }

  private stage(record: KeyRecord): void {
    let seq = 0;
    const insert = (payload: Uint8Array) =>
      this.sql.run(`INSERT INTO snapshot_preimages (snapshot, key_id, seq, payload) VALUES (?, ?, ?, ?)`, this.id, record.id, seq++, payload);
    insert(encodeCommand(["SELECT", String(record.db)]));
    serializeKey(this.sql, this.keys, record, insert);
  }
}

/** Pre-images left by a master that stopped mid-snapshot are useless after a restart. */
export function clearSnapshots(sql: Sql): void {
  sql.run(`DELETE FROM snapshot_preimages`);
}

import { blob, num, type Sql } from "../store/sql.ts";
import { concat } from "../util/bytes.ts";

/**
 * The replication backlog, in SQL. It holds the most recent bytes of the
 * replication stream (at least `repl-backlog-size` of them once that many were
 * written) so a replica that lost its link, or a master that was evicted or
 * restarted, can still continue with a partial resync.
 *
 * The master offset is derived from the rows (the end of the last one) or,
 * when none is left after a full sync, from `meta`: appending costs one row
 * insert and nothing else.
 */
export class Backlog {
  private offset: number;
  private first: number;
  private active: boolean;

  constructor(private readonly sql: Sql) {
    const last = sql.one<{ start: number; len: number }>(
      `SELECT start, LENGTH(data) AS len FROM repl_backlog ORDER BY start DESC LIMIT 1`,
    );
    const base = sql.one<{ value: string }>(`SELECT value FROM meta WHERE name = 'repl:offset_base'`);
    const baseOffset = base ? Number(base.value) : 0;
    this.offset = last ? Math.max(baseOffset, num(last.start) + num(last.len) - 1) : baseOffset;
    const firstRow = sql.one<{ start: number }>(`SELECT start FROM repl_backlog ORDER BY start LIMIT 1`);
    this.first = firstRow ? num(firstRow.start) : this.offset + 1;
    this.active = sql.one(`SELECT 1 AS yes FROM meta WHERE name = 'repl:backlog'`) !== undefined;
  }

  /** master_repl_offset: bytes of stream produced (or, on a replica, processed). */
  get masterOffset(): number {
    return this.offset;
  }

  /** Whether the backlog exists (Redis creates it when the first replica attaches). */
  get isActive(): boolean {
    return this.active;
  }

  /** Offset of the oldest byte held (repl_backlog_first_byte_offset). */
  get firstByteOffset(): number {
    return this.active ? this.first : 0;
  }

  /** Bytes held (repl_backlog_histlen). */
  get historyLength(): number {
    return this.active ? this.offset - this.first + 1 : 0;
  }

  activate(): void {
    if (this.active) return;
    this.active = true;
    this.first = this.offset + 1;
    this.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES ('repl:backlog', '1')`);
  }

  /** Frees the backlog (repl-backlog-ttl passed with no replica). The offset stays. */
  deactivate(): void {
    if (!this.active) return;
    this.rebase(this.offset);
    this.active = false;
    this.sql.run(`DELETE FROM meta WHERE name = 'repl:backlog'`);
  }

  /** Appends stream bytes and trims what falls beyond `maxBytes` of history. */
  append(bytes: Uint8Array, maxBytes: number): void {
    if (bytes.length === 0) return;
    this.sql.run(`INSERT INTO repl_backlog (start, data) VALUES (?, ?)`, this.offset + 1, bytes);
    this.offset += bytes.length;
    const keepFrom = this.offset - maxBytes + 1;
    if (this.first < keepFrom) {
      // Drop whole rows that end before the retained window starts.
      const cut = this.sql.one<{ start: number }>(
        `SELECT start FROM repl_backlog WHERE start <= ? ORDER BY start DESC LIMIT 1`, keepFrom,
      );
      if (cut && num(cut.start) > this.first) {
        this.sql.run(`DELETE FROM repl_backlog WHERE start < ?`, num(cut.start));
        this.first = num(cut.start);
      }
    }
  }

  /** Whether a replica asking for bytes from `offset` on can be served from here. */
  canServeFrom(offset: number): boolean {
    return this.active && offset >= this.first && offset <= this.offset + 1;
  }

  /** Up to `maxBytes` (at least one row's worth) of stream starting at `offset`. */
  read(offset: number, maxBytes: number): Uint8Array {
    if (offset > this.offset) return new Uint8Array(0);
    const rows = this.sql.all<{ start: number; data: ArrayBuffer }>(
      `SELECT start, data FROM repl_backlog WHERE start >= (SELECT MAX(start) FROM repl_backlog WHERE start <= ?)
       ORDER BY start LIMIT 1000`,
      offset,
    );
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const row of rows) {
      const data = blob(row.data);
      const skip = Math.max(0, offset - num(row.start));
      const part = skip > 0 ? data.subarray(skip) : data;
      if (total > 0 && total + part.length > maxBytes) break;
      parts.push(part);
      total += part.length;
    }
    return concat(parts, total);
  }

  /**
   * Starts the history over at `offset` (a full sync: the stream continues
   * from the snapshot's offset, and nothing before it can be served).
   */
  rebase(offset: number): void {
    this.sql.run(`DELETE FROM repl_backlog`);
    this.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES ('repl:offset_base', ?)`, String(offset));
    this.offset = offset;
    this.first = offset + 1;
  }
}

import { num, type Sql } from "../store/sql.ts";

/** Redis's "no second replication id" value. */
export const NULL_REPLID = "0000000000000000000000000000000000000000";

/**
 * A node's replication identity, persisted in `meta` so it survives restarts
 * and evictions (DESIGN.md invariant 5). The same fields serve masters and
 * replicas, as in PSYNC2: a replica carries its master's replid and offset.
 */
export class ReplicationState {
  private values = new Map<string, string>();

  constructor(private readonly sql: Sql, randomId: () => string) {
    for (const row of sql.all<{ name: string; value: string }>(`SELECT name, value FROM meta WHERE name LIKE 'repl:%'`)) {
      this.values.set(String(row.name), String(row.value));
    }
    if (!this.values.has("repl:replid")) this.set("repl:replid", randomId());
  }

  get replid(): string {
    return this.values.get("repl:replid")!;
  }
  set replid(value: string) {
    this.set("repl:replid", value);
  }

  get replid2(): string {
    return this.values.get("repl:replid2") ?? NULL_REPLID;
  }
  set replid2(value: string) {
    this.set("repl:replid2", value);
  }

  /** Offset up to which replid2 is valid, plus one (Redis's second_replid_offset); -1 when none. */
  get secondOffset(): number {
    return Number(this.values.get("repl:second_offset") ?? -1);
  }
  set secondOffset(value: number) {
    this.set("repl:second_offset", String(value));
  }

  /** The db the stream last SELECTed (-1: the next effect must SELECT). */
  get streamDb(): number {
    return Number(this.values.get("repl:stream_db") ?? -1);
  }
  set streamDb(value: number) {
    if (value !== this.streamDb) this.set("repl:stream_db", String(value));
  }

  /** A stored string value, for role and link settings (master target, ...). */
  get(name: string): string | null {
    return this.values.get(`repl:${name}`) ?? null;
  }

  put(name: string, value: string | null): void {
    if (value === null) {
      this.values.delete(`repl:${name}`);
      this.sql.run(`DELETE FROM meta WHERE name = ?`, `repl:${name}`);
    } else {
      this.set(`repl:${name}`, value);
    }
  }

  private set(name: string, value: string): void {
    this.values.set(name, value);
    this.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, name, value);
  }
}

export { num };

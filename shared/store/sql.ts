/**
 * The SQL surface the engine runs on. Durable Object SQLite (`ctx.storage.sql`)
 * and `node:sqlite` are both synchronous, which is what lets a command run to
 * completion inside one call (DESIGN.md invariant 1). Adapters live with their
 * runtime (durable/, deno/); the engine only sees this interface.
 */
export type SqlParam = null | number | bigint | string | Uint8Array;
/** BLOB columns come back as Uint8Array (node:sqlite) or ArrayBuffer (workerd). */
export type SqlValue = null | number | bigint | string | Uint8Array | ArrayBuffer;
export type Row = Record<string, SqlValue>;

export interface Sql {
  /** Runs one statement and returns every row. Use LIMIT for anything that can grow. */
  all<T extends Row = Row>(query: string, ...params: SqlParam[]): T[];
  /** The first row, or undefined. */
  one<T extends Row = Row>(query: string, ...params: SqlParam[]): T | undefined;
  /** Runs a statement for its effect; returns the number of rows written. */
  run(query: string, ...params: SqlParam[]): number;
  /**
   * Runs `fn` atomically: on a throw every write made inside is rolled back and
   * the error rethrown. Nested calls nest (savepoints).
   */
  transaction<T>(fn: () => T): T;
}

/** A BLOB column as bytes, without copying. */
export function blob(value: SqlValue | undefined): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value == null) return new Uint8Array(0);
  if (typeof value === "string") return new TextEncoder().encode(value);
  throw new TypeError(`expected a BLOB column, got ${typeof value}`);
}

export function num(value: SqlValue | undefined): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value == null) return 0;
  throw new TypeError(`expected an INTEGER column, got ${typeof value}`);
}

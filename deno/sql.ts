/// <reference path="./node-sqlite.d.ts" />
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Row, Sql, SqlParam } from "../shared/store/sql.ts";

/** Prepared statements kept per database (queries with inlined values would otherwise pile up). */
export const STATEMENT_CACHE = 512;

/**
 * `synchronous` for the WAL: "full" syncs the log at every commit (a write is
 * on disk before its reply leaves: survives power loss); "normal" syncs at
 * checkpoints only (survives a crash or kill of the process, not of the OS).
 */
export type SyncMode = "full" | "normal";

export interface DenoSql extends Sql {
  readonly path: string;
  /** Prepared statements held in the cache (bounded). */
  readonly cachedStatements: number;
  close(): void;
}

/**
 * The engine's Sql interface over `node:sqlite`. One connection per file,
 * held exclusively (a second process cannot open the same node), WAL
 * journal. Transactions nest with SAVEPOINTs, as `transactionSync` does on
 * Durable Objects. Integers come back as numbers (as on workerd), BLOBs as
 * Uint8Array.
 */
export function openSql(path: string, sync: SyncMode = "full"): DenoSql {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
  db.exec("PRAGMA locking_mode = EXCLUSIVE");
  db.exec("PRAGMA foreign_keys = OFF");
  // Take the lock now: a node already open elsewhere fails here, not mid-command.
  db.exec("BEGIN IMMEDIATE; COMMIT");

  const cache = new Map<string, StatementSync>();
  const statement = (query: string): StatementSync => {
    let stmt = cache.get(query);
    if (stmt) {
      cache.delete(query); // most recently used goes last
    } else {
      stmt = db.prepare(query);
      // Integers beyond 2^53 would make node:sqlite throw; read every integer as a bigint and convert.
      stmt.setReadBigInts(true);
      if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
    }
    cache.set(query, stmt);
    return stmt;
  };

  let depth = 0;
  const transaction = <T>(fn: () => T): T => {
    const savepoint = `tidekv_${depth}`;
    statement(depth === 0 ? "BEGIN" : `SAVEPOINT ${savepoint}`).run();
    depth++;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      depth--;
      // A failed statement may already have ended the whole transaction (SQLITE_FULL and the like).
      if (db.isTransaction) {
        if (depth === 0) statement("ROLLBACK").run();
        else {
          statement(`ROLLBACK TO ${savepoint}`).run();
          statement(`RELEASE ${savepoint}`).run();
        }
      }
      throw e;
    }
    depth--;
    try {
      statement(depth === 0 ? "COMMIT" : `RELEASE ${savepoint}`).run();
    } catch (e) {
      if (depth === 0 && db.isTransaction) statement("ROLLBACK").run();
      throw e;
    }
    return result;
  };

  return {
    path,
    all: <T extends Row = Row>(query: string, ...params: SqlParam[]) => {
      const rows = statement(query).all(...params) as Row[];
      for (const row of rows) numbers(row);
      return rows as T[];
    },
    one: <T extends Row = Row>(query: string, ...params: SqlParam[]) => {
      const row = statement(query).get(...params) as Row | undefined;
      return (row ? numbers(row) : undefined) as T | undefined;
    },
    run: (query, ...params) => Number(statement(query).run(...params).changes),
    transaction,
    get cachedStatements() {
      return cache.size;
    },
    close: () => {
      cache.clear();
      if (db.isOpen) db.close();
    },
  };
}

/** bigint columns to numbers (lossy beyond 2^53, exactly as workerd returns them). */
function numbers(row: Row): Row {
  for (const key in row) {
    const value = row[key];
    if (typeof value === "bigint") row[key] = Number(value);
  }
  return row;
}

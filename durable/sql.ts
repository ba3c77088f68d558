import type { Sql, SqlParam } from "../shared/store/sql.ts";

/** The engine's Sql interface over a Durable Object's synchronous SQLite. */
export function durableSql(storage: DurableObjectStorage): Sql {
  const sql = storage.sql;
  return {
    all: (query, ...params) => sql.exec(query, ...(params as SqlParam[])).toArray() as never,
    one: (query, ...params) => sql.exec(query, ...(params as SqlParam[])).toArray()[0] as never,
    run: (query, ...params) => {
      const cursor = sql.exec(query, ...(params as SqlParam[]));
      cursor.toArray();
      return cursor.rowsWritten;
    },
    transaction: (fn) => storage.transactionSync(fn),
  };
}

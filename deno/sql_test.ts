import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { openSql, STATEMENT_CACHE, type DenoSql } from "./sql.ts";
import { blob, num } from "../shared/store/sql.ts";

function withSql(fn: (sql: DenoSql, dir: string) => void): () => void {
  return () => {
    const dir = Deno.makeTempDirSync({ prefix: "tidekv-deno-sql-" });
    const sql = openSql(`${dir}/t.sqlite`);
    try {
      sql.run(`CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB, n INTEGER)`);
      fn(sql, dir);
    } finally {
      sql.close();
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

const count = (sql: DenoSql) => num(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM t`)?.n);

Deno.test("all, one and run: rows, first row, rows changed", withSql((sql) => {
  assertEquals(sql.run(`INSERT INTO t (k, n) VALUES (?, ?), (?, ?)`, "a", 1, "b", 2), 2);
  assertEquals(sql.all(`SELECT k, n FROM t ORDER BY k`).map((r) => ({ ...r })), [{ k: "a", n: 1 }, { k: "b", n: 2 }]);
  assertEquals({ ...sql.one(`SELECT n FROM t WHERE k = ?`, "b") }, { n: 2 });
  assertEquals(sql.one(`SELECT n FROM t WHERE k = ?`, "zz"), undefined);
  assertEquals(sql.run(`UPDATE t SET n = n + 1`), 2);
  assertEquals(sql.run(`DELETE FROM t WHERE k = 'nothing'`), 0);
  // RETURNING rows come back through all()
  assertEquals(sql.all(`DELETE FROM t WHERE k = ? RETURNING 1 AS x`, "a").length, 1);
}));

Deno.test("BLOBs go in and come back as Uint8Array, byte for byte", withSql((sql) => {
  const bytes = new Uint8Array(256).map((_, i) => i);
  sql.run(`INSERT INTO t (k, v) VALUES (?, ?), (?, ?)`, "bin", bytes, "empty", new Uint8Array(0));
  const row = sql.one(`SELECT v FROM t WHERE k = ?`, "bin")!;
  if (!(row.v instanceof Uint8Array)) throw new Error(`expected Uint8Array, got ${Object.prototype.toString.call(row.v)}`);
  assertEquals([...blob(row.v)], [...bytes]);
  assertEquals(blob(sql.one(`SELECT v FROM t WHERE k = ?`, "empty")!.v).length, 0);
  // A BLOB parameter compares as a BLOB (keys are BLOBs in the keyspace)
  assertEquals(num(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM t WHERE v = ?`, bytes)!.n), 1);
}));

Deno.test("integers are numbers; beyond 2^53 the nearest double (as on workerd), no throw", withSql((sql) => {
  sql.run(`INSERT INTO t (k, n) VALUES (?, ?), (?, ?)`, "small", 42, "big", 2n ** 62n);
  assertEquals(sql.one(`SELECT n FROM t WHERE k = ?`, "small")!.n, 42);
  assertEquals(sql.one(`SELECT n FROM t WHERE k = ?`, "big")!.n, 2 ** 62);
  assertEquals(typeof sql.one(`SELECT COUNT(*) AS n FROM t`)!.n, "number");
}));

Deno.test("transaction commits, and rolls back everything on a throw", withSql((sql) => {
  assertEquals(sql.transaction(() => {
    sql.run(`INSERT INTO t (k) VALUES ('a')`);
    return "done";
  }), "done");
  assertEquals(count(sql), 1);
  throws(() =>
    sql.transaction(() => {
      sql.run(`INSERT INTO t (k) VALUES ('b')`);
      sql.run(`UPDATE t SET n = 7 WHERE k = 'a'`);
      throw new Error("boom");
    }), /boom/);
  assertEquals(count(sql), 1);
  assertEquals(sql.one(`SELECT n FROM t WHERE k = 'a'`)!.n, null);
  // A failing statement (constraint) rolls back the writes before it too
  throws(() =>
    sql.transaction(() => {
      sql.run(`INSERT INTO t (k) VALUES ('c')`);
      sql.run(`INSERT INTO t (k) VALUES ('a')`);
    }), /UNIQUE/);
  assertEquals(count(sql), 1);
  // and the connection is usable afterwards, outside any transaction
  sql.run(`INSERT INTO t (k) VALUES ('d')`);
  assertEquals(count(sql), 2);
}));

Deno.test("nested transactions are savepoints: an inner throw undoes only the inner writes", withSql((sql) => {
  sql.transaction(() => {
    sql.run(`INSERT INTO t (k) VALUES ('outer1')`);
    throws(() =>
      sql.transaction(() => {
        sql.run(`INSERT INTO t (k) VALUES ('inner')`);
        sql.transaction(() => sql.run(`INSERT INTO t (k) VALUES ('innermost')`));
        throw new Error("inner fails");
      }), /inner fails/);
    assertEquals(sql.transaction(() => sql.run(`INSERT INTO t (k) VALUES ('inner-ok')`)), 1);
    sql.run(`INSERT INTO t (k) VALUES ('outer2')`);
  });
  assertEquals(sql.all<{ k: string }>(`SELECT k FROM t ORDER BY k`).map((r) => r.k), ["inner-ok", "outer1", "outer2"]);

  // An outer throw undoes inner writes that were already released
  throws(() =>
    sql.transaction(() => {
      sql.transaction(() => sql.run(`INSERT INTO t (k) VALUES ('gone')`));
      throw new Error("outer fails");
    }), /outer fails/);
  assertEquals(count(sql), 3);
}));

Deno.test("committed writes survive closing and reopening the file; the file is held exclusively", () => {
  const dir = Deno.makeTempDirSync({ prefix: "tidekv-deno-sql-" });
  try {
    const first = openSql(`${dir}/n.sqlite`);
    first.run(`CREATE TABLE t (k TEXT PRIMARY KEY)`);
    first.transaction(() => first.run(`INSERT INTO t VALUES ('kept')`));
    throws(() => first.transaction(() => {
      first.run(`INSERT INTO t VALUES ('dropped')`);
      throw new Error("no");
    }));
    // A second opener (another process, or this one) is refused while the first holds it
    throws(() => openSql(`${dir}/n.sqlite`), /locked/);
    first.close();
    const second = openSql(`${dir}/n.sqlite`);
    assertEquals(second.all<{ k: string }>(`SELECT k FROM t`).map((r) => r.k), ["kept"]);
    second.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the statement cache stays bounded and correct under many distinct queries", withSql((sql) => {
  sql.transaction(() => {
    for (let i = 0; i < 2000; i++) sql.run(`INSERT INTO t (k, n) VALUES ('k${i}', ${i})`);
  });
  assertEquals(sql.cachedStatements, STATEMENT_CACHE);
  assertEquals(count(sql), 2000);
  // statements evicted long ago and statements still cached both still work
  assertEquals(sql.one(`SELECT n FROM t WHERE k = 'k1999'`)!.n, 1999);
  assertEquals(sql.run(`INSERT INTO t (k, n) VALUES ('k0', 0) ON CONFLICT DO NOTHING`), 0);
  assertEquals(sql.run(`INSERT INTO t (k, n) VALUES ('k1999', 1999) ON CONFLICT DO NOTHING`), 0);
}));

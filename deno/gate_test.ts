import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { OutputGate } from "./gate.ts";
import { openSql, type DenoSql } from "./sql.ts";

function withSql(fn: (sql: DenoSql) => void): () => void {
  return () => {
    const dir = Deno.makeTempDirSync({ prefix: "tidekv-deno-gate-" });
    const sql = openSql(`${dir}/g.sqlite`);
    try {
      sql.run(`CREATE TABLE t (k TEXT PRIMARY KEY)`);
      fn(sql);
    } finally {
      sql.close();
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

const keys = (sql: DenoSql) => sql.all<{ k: string }>(`SELECT k FROM t ORDER BY k`).map((r) => r.k);

Deno.test("what an event sends leaves after its commit, in order; outside an event at once", withSql((sql) => {
  const sent: string[] = [];
  const gate = new OutputGate(sql, () => sent.push("lost"));
  gate.event(() => {
    sql.transaction(() => sql.run(`INSERT INTO t VALUES ('a')`));
    gate.out(() => sent.push("reply a"));
    // One transaction for the whole event: the commands' own transactions are savepoints in it.
    throws(() => sql.transaction(() => {
      sql.run(`INSERT INTO t VALUES ('b')`);
      throw new Error("command failed");
    }));
    gate.out(() => sent.push("reply b"));
    gate.event(() => gate.out(() => sent.push("nested event"))); // already inside: no second commit
    assertEquals(sent, []);
  });
  assertEquals(sent, ["reply a", "reply b", "nested event"]);
  assertEquals(keys(sql), ["a"]);
  gate.out(() => sent.push("outside"));
  assertEquals(sent.at(-1), "outside");
}));

Deno.test("an event that throws keeps what it wrote, releases what it sent, then rethrows", withSql((sql) => {
  const sent: string[] = [];
  const gate = new OutputGate(sql, () => sent.push("lost"));
  throws(() =>
    gate.event(() => {
      sql.transaction(() => sql.run(`INSERT INTO t VALUES ('kept')`));
      gate.out(() => sent.push("reply"));
      throw new Error("bug");
    }), /bug/);
  assertEquals(sent, ["reply"]);
  assertEquals(keys(sql), ["kept"]);
}));

Deno.test("a failed commit sends nothing of the event and reports it", () => {
  const sent: string[] = [];
  const failing = {
    transaction: (fn: () => void) => {
      fn();
      throw new Error("disk I/O error");
    },
  } as unknown as DenoSql;
  const gate = new OutputGate(failing, (e) => sent.push(`lost: ${(e as Error).message}`));
  throws(() => gate.event(() => gate.out(() => sent.push("reply"))), /disk I\/O error/);
  assertEquals(sent, ["lost: disk I/O error"]);
});

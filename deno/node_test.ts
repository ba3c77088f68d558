// The engine on Deno: a Node over the node:sqlite adapter and the Deno host, driven through a fake transport.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { Node } from "../shared/engine/node.ts";
import { DenoHost } from "./host.ts";
import { openSql, type DenoSql } from "./sql.ts";
import { FakeClient, infoField, until } from "./testing.ts";

interface Opened {
  node: Node;
  sql: DenoSql;
  host: DenoHost;
  close(): void;
}

function openNode(path: string, name = "smoke"): Opened {
  const sql = openSql(path, "normal");
  const host = new DenoHost({ nodeName: name });
  const node = new Node(sql, host);
  host.onWake = () => node.alarm();
  return {
    node,
    sql,
    host,
    close: () => {
      host.close();
      sql.close();
    },
  };
}

function withNode(fn: (opened: Opened, path: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "tidekv-deno-node-" });
    const opened = openNode(`${dir}/smoke.sqlite`);
    try {
      await fn(opened, `${dir}/smoke.sqlite`);
    } finally {
      opened.close();
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test("SET, GET, DEL, INCR and errors", withNode(({ node }) => {
  const c = new FakeClient(node);
  assertEquals(c.call("PING"), "PONG");
  assertEquals(c.call("SET", "k", "v"), "OK");
  assertEquals(c.call("GET", "k"), "v");
  assertEquals(c.call("GET", "missing"), null);
  assertEquals(c.call("INCR", "n"), 1);
  assertEquals(c.call("INCRBY", "n", 41), 42);
  assertEquals(c.call("INCR", "k"), { error: "ERR value is not an integer or out of range" });
  assertEquals(c.call("GET"), { error: "ERR wrong number of arguments for 'get' command" });
  assertEquals(c.call("DEL", "k", "n", "missing"), 2);
  assertEquals(c.call("DBSIZE"), 0);
  assertEquals(infoField(c.call("INFO", "server"), "runtime"), "deno");
}));

Deno.test("binary keys and values round-trip", withNode(({ node }) => {
  const c = new FakeClient(node);
  const key = new Uint8Array([0, 255, 13, 10, 128]);
  const value = new Uint8Array(70_000).map((_, i) => (i * 7) & 255); // past the inline size: chunked
  assertEquals(c.call("SET", key, value), "OK");
  assertEquals(c.call("STRLEN", key), 70_000);
  assertEquals(c.call("GETRANGE", key, 69_998, 69_999), new TextDecoder().decode(value.subarray(69_998)));
}));

Deno.test("EXPIRE: TTL, lazy expiry, and active expiry on the host's timer", withNode(async ({ node }) => {
  const c = new FakeClient(node);
  c.call("SET", "a", "1");
  assertEquals(c.call("EXPIRE", "a", 100), 1);
  const ttl = c.call("TTL", "a") as number;
  ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
  assertEquals(c.call("PERSIST", "a"), 1);
  assertEquals(c.call("TTL", "a"), -1);
  // Nobody reads these keys: only the wake-up (setTimeout standing in for the alarm) can remove them.
  c.pipeline([["SET", "b", "1", "PX", "30"], ["SET", "c", "1", "PX", "60"], ["SET", "keep", "1"]]);
  assertEquals(c.call("DBSIZE"), 4);
  await until("active expiry", () => c.call("DBSIZE") === 2);
  assertEquals(c.call("EXISTS", "a", "keep"), 2);
  assertEquals(infoField(c.call("INFO", "stats"), "expired_keys"), "2");
}));

Deno.test("MULTI/EXEC: queued, atomic, a failing command keeps the others; DISCARD; WATCH", withNode(({ node }) => {
  const c = new FakeClient(node);
  const other = new FakeClient(node);
  assertEquals(c.pipeline([["MULTI"], ["SET", "x", "a"], ["INCR", "x"], ["RPUSH", "l", "1", "2"], ["EXEC"]]), [
    "OK", "QUEUED", "QUEUED", "QUEUED",
    ["OK", { error: "ERR value is not an integer or out of range" }, 2],
  ]);
  assertEquals(c.call("GET", "x"), "a");
  assertEquals(c.call("LRANGE", "l", 0, -1), ["1", "2"]);
  assertEquals(c.pipeline([["MULTI"], ["SET", "x", "b"], ["DISCARD"]]), ["OK", "QUEUED", "OK"]);
  assertEquals(c.call("GET", "x"), "a");
  // A syntax error while queueing aborts the whole transaction
  assertEquals(c.pipeline([["MULTI"], ["SET", "x", "c"], ["NOSUCHCOMMAND"], ["EXEC"]]).at(-1), {
    error: "EXECABORT Transaction discarded because of previous errors.",
  });
  assertEquals(c.call("GET", "x"), "a");
  // WATCH: another client's write makes EXEC return null
  assertEquals(c.pipeline([["WATCH", "x"], ["MULTI"], ["SET", "x", "d"]]), ["OK", "OK", "QUEUED"]);
  ok(node.hasTransientState);
  assertEquals(other.call("SET", "x", "other"), "OK");
  assertEquals(c.call("EXEC"), null);
  assertEquals(c.call("GET", "x"), "other");
}));

Deno.test("a restart keeps the data and the replication id", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "tidekv-deno-node-" });
  const path = `${dir}/n.sqlite`;
  try {
    let opened = openNode(path, "n");
    let c = new FakeClient(opened.node);
    c.call("SET", "k", "v");
    c.call("HSET", "h", "f", "1", "g", "2");
    c.call("SET", "ttl", "1", "EX", "1000");
    const replid = infoField(c.call("INFO", "replication"), "master_replid");
    opened.close();

    opened = openNode(path, "n");
    c = new FakeClient(opened.node);
    assertEquals(c.call("GET", "k"), "v");
    assertEquals(c.call("HGETALL", "h"), ["f", "1", "g", "2"]);
    ok((c.call("TTL", "ttl") as number) > 990);
    assertEquals(infoField(c.call("INFO", "replication"), "master_replid"), replid);
    opened.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

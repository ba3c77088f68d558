/**
 * Connection commands inside workerd: HELLO, AUTH, SELECT, RESET and CLIENT,
 * with several real WebSocket connections to one node.
 */
import { describe, expect, it } from "vitest";
import { NodeClient, plain, uniqueNode } from "./support.ts";

async function two(prefix: string) {
  const name = uniqueNode(prefix);
  const a = await NodeClient.node(name);
  const b = await NodeClient.node(name);
  return { name, a, b };
}

/** Parses one CLIENT LIST / CLIENT INFO line into its fields. */
function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of line.trim().split(" ")) {
    const eq = part.indexOf("=");
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function lines(text: unknown): string[] {
  return String(text).split("\n").filter((l) => l !== "");
}

const CLIENT_LINE_FIELDS = [
  "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi", "qbuf", "qbuf-free",
  "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp",
];

describe("HELLO", () => {
  it("reports the current protocol without arguments and switches with 2 or 3", async () => {
    const c = await NodeClient.node(uniqueNode("hello"));
    const id = plain(await c.call("CLIENT", "ID"));
    const hello2 = await c.call("HELLO");
    expect(hello2.type).toBe("array"); // a map, flattened in RESP2
    expect(plain(hello2)).toEqual(["server", "redis", "version", "7.0.15", "proto", 2, "id", id, "mode", "standalone", "role", "master", "modules", []]);
    const hello3 = await c.call("HELLO", "3");
    expect(hello3.type).toBe("map");
    expect(plain(hello3)).toContainEqual(["proto", 3]);
    // RESP3 is now in force: a null is "_", a map stays a map.
    expect((await c.call("GET", "missing")).type).toBe("null");
    expect((await c.call("HELLO")).type).toBe("map");
    expect(plain(await c.call("HELLO", "2"))).toContain(2);
    expect((await c.call("HELLO")).type).toBe("array");
  });

  it("answers Redis's errors", async () => {
    const c = await NodeClient.node(uniqueNode("hello"));
    expect(plain(await c.call("HELLO", "4"))).toEqual({ error: "NOPROTO unsupported protocol version" });
    expect(plain(await c.call("HELLO", "1"))).toEqual({ error: "NOPROTO unsupported protocol version" });
    expect(plain(await c.call("HELLO", "abc"))).toEqual({ error: "ERR Protocol version is not an integer or out of range" });
    expect(plain(await c.call("HELLO", "3", "FOO"))).toEqual({ error: "ERR Syntax error in HELLO option 'FOO'" });
    expect(plain(await c.call("HELLO", "3", "AUTH", "default"))).toEqual({ error: "ERR Syntax error in HELLO option 'AUTH'" });
    expect(plain(await c.call("HELLO", "3", "SETNAME"))).toEqual({ error: "ERR Syntax error in HELLO option 'SETNAME'" });
    expect(plain(await c.call("HELLO", "3", "SETNAME", "a b"))).toEqual({
      error: "ERR Client names cannot contain spaces, newlines or special characters.",
    });
    expect(plain(await c.call("HELLO", "3", "AUTH", "someone", "pw"))).toEqual({
      error: "WRONGPASS invalid username-password pair or user is disabled.",
    });
    // None of these switched the protocol.
    expect((await c.call("HELLO")).type).toBe("array");
  });

  it("AUTH default <any password> and SETNAME, the name staying set when a later option fails", async () => {
    const c = await NodeClient.node(uniqueNode("hello"));
    const reply = await c.call("HELLO", "3", "AUTH", "default", "whatever", "SETNAME", "app-1");
    expect(reply.type).toBe("map");
    expect(plain(await c.call("CLIENT", "GETNAME"))).toBe("app-1");
    expect(plain(await c.call("HELLO", "3", "SETNAME", "app-2", "BOGUS"))).toEqual({ error: "ERR Syntax error in HELLO option 'BOGUS'" });
    expect(plain(await c.call("CLIENT", "GETNAME"))).toBe("app-2");
  });
});

describe("AUTH", () => {
  it("models Redis's default user without a password", async () => {
    const c = await NodeClient.node(uniqueNode("auth"));
    expect(plain(await c.call("AUTH", "secret"))).toEqual({
      error: "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    });
    expect(plain(await c.call("AUTH", "default", "anything"))).toBe("OK");
    expect(plain(await c.call("AUTH", "bob", "anything"))).toEqual({ error: "WRONGPASS invalid username-password pair or user is disabled." });
    expect(plain(await c.call("AUTH", "a", "b", "c"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await c.call("AUTH"))).toEqual({ error: "ERR wrong number of arguments for 'auth' command" });
  });
});

describe("SELECT and RESET", () => {
  it("SELECT has Redis's errors", async () => {
    const c = await NodeClient.node(uniqueNode("select"));
    expect(plain(await c.call("SELECT", "abc"))).toEqual({ error: "ERR value is not an integer or out of range" });
    expect(plain(await c.call("SELECT", "99999999999"))).toEqual({
      error: "ERR value is out of range, value must between -2147483648 and 2147483647",
    });
    expect(plain(await c.call("SELECT", "16"))).toEqual({ error: "ERR DB index is out of range" });
    expect(plain(await c.call("SELECT", "-1"))).toEqual({ error: "ERR DB index is out of range" });
    expect(plain(await c.call("SELECT", "15"))).toBe("OK");
  });

  it("RESET brings back db 0, RESP2, no name, no MULTI", async () => {
    const c = await NodeClient.node(uniqueNode("reset"));
    await c.call("HELLO", "3", "SETNAME", "x");
    await c.call("SELECT", "3");
    await c.call("MULTI");
    expect(plain(await c.call("RESET"))).toBe("RESET");
    expect(plain(await c.call("CLIENT", "GETNAME"))).toBeNull();
    const info = fields(String(plain(await c.call("CLIENT", "INFO"))));
    expect(info.db).toBe("0");
    expect(info.resp).toBe("2");
    expect(info.multi).toBe("-1");
    expect(info.user).toBe("default");
  });
});

describe("CLIENT", () => {
  it("ID, SETNAME, GETNAME", async () => {
    const { a, b } = await two("client");
    const idA = plain(await a.call("CLIENT", "ID"));
    const idB = plain(await b.call("CLIENT", "ID"));
    expect(typeof idA).toBe("number");
    expect(idB).not.toBe(idA);
    expect(plain(await a.call("CLIENT", "GETNAME"))).toBeNull();
    expect(plain(await a.call("CLIENT", "SETNAME", "worker-a"))).toBe("OK");
    expect(plain(await a.call("CLIENT", "GETNAME"))).toBe("worker-a");
    for (const bad of ["a b", "new\nline", "tab\t", "é"]) {
      expect(plain(await a.call("CLIENT", "SETNAME", bad))).toEqual({
        error: "ERR Client names cannot contain spaces, newlines or special characters.",
      });
    }
    expect(plain(await a.call("CLIENT", "GETNAME"))).toBe("worker-a");
    expect(plain(await a.call("CLIENT", "SETNAME", ""))).toBe("OK");
    expect(plain(await a.call("CLIENT", "GETNAME"))).toBeNull();
    expect(plain(await a.call("CLIENT", "SETNAME", "x", "y"))).toEqual({ error: "ERR wrong number of arguments for 'client|setname' command" });
    expect(plain(await a.call("CLIENT", "FOO"))).toEqual({ error: "ERR unknown subcommand 'FOO'. Try CLIENT HELP." });
  });

  it("LIST shows both connections in Redis's line format", async () => {
    const { a, b } = await two("client");
    await b.call("CLIENT", "SETNAME", "other");
    await b.call("SELECT", "2");
    const idA = plain(await a.call("CLIENT", "ID"));
    const idB = plain(await b.call("CLIENT", "ID"));
    const list = await a.call("CLIENT", "LIST");
    expect(list.type).toBe("bulk");
    const rows = lines(plain(list)).map(fields);
    expect(rows.map((r) => Number(r.id)).sort()).toEqual([idA, idB].sort());
    for (const line of lines(plain(list))) expect(line.split(" ").map((p) => p.split("=")[0])).toEqual(CLIENT_LINE_FIELDS);
    const rowA = rows.find((r) => Number(r.id) === idA)!;
    const rowB = rows.find((r) => Number(r.id) === idB)!;
    expect(rowA.cmd).toBe("client|list");
    expect(rowA.name).toBe("");
    expect(rowA.flags).toBe("N");
    expect(rowA["argv-mem"]).toBe("10");
    expect(rowB.name).toBe("other");
    expect(rowB.db).toBe("2");
    expect(rowB.cmd).toBe("client|id");
    // Filters.
    expect(lines(plain(await a.call("CLIENT", "LIST", "TYPE", "normal")))).toHaveLength(2);
    expect(plain(await a.call("CLIENT", "LIST", "TYPE", "pubsub"))).toBe("");
    expect(plain(await a.call("CLIENT", "LIST", "TYPE", "bogus"))).toEqual({ error: "ERR Unknown client type 'bogus'" });
    const byId = lines(plain(await a.call("CLIENT", "LIST", "ID", String(idB), "999999")));
    expect(byId.map((l) => fields(l).id)).toEqual([String(idB)]);
    expect(plain(await a.call("CLIENT", "LIST", "ID", "x"))).toEqual({ error: "ERR Invalid client ID" });
    expect(plain(await a.call("CLIENT", "LIST", "ID"))).toEqual({ error: "ERR syntax error" });
    // RESP3: a verbatim string.
    await a.call("HELLO", "3");
    expect((await a.call("CLIENT", "LIST")).type).toBe("verbatim");
    expect((await a.call("CLIENT", "INFO")).type).toBe("verbatim");
  });

  it("INFO and LIST reflect NO-EVICT, MULTI and WATCH", async () => {
    const { a, b } = await two("client");
    expect(plain(await a.call("CLIENT", "NO-EVICT", "on"))).toBe("OK");
    expect(fields(String(plain(await a.call("CLIENT", "INFO")))).flags).toBe("e");
    expect(plain(await a.call("CLIENT", "NO-EVICT", "maybe"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await a.call("CLIENT", "NO-EVICT", "OFF"))).toBe("OK");
    const idA = plain(await a.call("CLIENT", "ID"));
    await a.call("SET", "w", "1");
    await a.call("WATCH", "w");
    await a.call("MULTI");
    await a.call("SET", "k", "v");
    await a.call("GET", "k");
    const rowOf = async () => lines(plain(await b.call("CLIENT", "LIST"))).map(fields).find((r) => Number(r.id) === idA)!;
    let row = await rowOf();
    expect(row.flags).toBe("x");
    expect(row.multi).toBe("2");
    expect(Number(row["multi-mem"])).toBeGreaterThan(0);
    await b.call("SET", "w", "2"); // touches the watched key
    row = await rowOf();
    expect(row.flags).toBe("xd");
    expect(plain(await a.call("EXEC"))).toBeNull();
    row = await rowOf();
    expect(row.flags).toBe("N");
    expect(row.multi).toBe("-1");
  });

  it("KILL ID closes the other connection", async () => {
    const { a, b } = await two("kill");
    const idB = plain(await b.call("CLIENT", "ID"));
    expect(plain(await a.call("CLIENT", "KILL", "ID", String(idB)))).toBe(1);
    const closed = await b.closed;
    expect(closed.code).toBe(1000);
    expect(lines(plain(await a.call("CLIENT", "LIST")))).toHaveLength(1);
    expect(plain(await a.call("CLIENT", "KILL", "ID", String(idB)))).toBe(0);
    expect(plain(await a.call("PING"))).toBe("PONG");
  });

  it("KILL skips the caller unless SKIPME no, and the caller gets its reply before closing", async () => {
    const { a, b } = await two("kill");
    const idA = plain(await a.call("CLIENT", "ID"));
    expect(plain(await a.call("CLIENT", "KILL", "ID", String(idA)))).toBe(0);
    expect(plain(await a.call("CLIENT", "KILL", "USER", "default"))).toBe(1); // b, not a
    await b.closed;
    expect(plain(await a.call("CLIENT", "KILL", "ID", String(idA), "SKIPME", "no"))).toBe(1);
    await a.closed;
  });

  it("KILL by address (old and new form) and its errors", async () => {
    const { a, b } = await two("kill");
    const addrB = fields(String(plain(await b.call("CLIENT", "INFO")))).addr;
    expect(plain(await a.call("CLIENT", "KILL", "10.9.8.7:1"))).toEqual({ error: "ERR No such client" });
    expect(plain(await a.call("CLIENT", "KILL", "ID", "0"))).toEqual({ error: "ERR client-id should be greater than 0" });
    expect(plain(await a.call("CLIENT", "KILL", "ID", "x"))).toEqual({ error: "ERR client-id should be greater than 0" });
    expect(plain(await a.call("CLIENT", "KILL", "TYPE", "x"))).toEqual({ error: "ERR Unknown client type 'x'" });
    expect(plain(await a.call("CLIENT", "KILL", "USER", "bob"))).toEqual({ error: "ERR No such user 'bob'" });
    expect(plain(await a.call("CLIENT", "KILL", "SKIPME", "maybe"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await a.call("CLIENT", "KILL", "a", "b", "c"))).toEqual({ error: "ERR syntax error" });
    // Both connections come from the same address in tests: the new form skips the caller.
    expect(plain(await a.call("CLIENT", "KILL", "ADDR", addrB))).toBe(1);
    await b.closed;
  });

  it("PAUSE, UNPAUSE, UNBLOCK, GETREDIR, TRACKINGINFO, HELP", async () => {
    const c = await NodeClient.node(uniqueNode("client"));
    expect(plain(await c.call("CLIENT", "PAUSE", "0"))).toBe("OK");
    expect(plain(await c.call("CLIENT", "PAUSE", "10", "WRITE"))).toBe("OK");
    expect(plain(await c.call("CLIENT", "PAUSE", "abc"))).toEqual({ error: "ERR timeout is not an integer or out of range" });
    expect(plain(await c.call("CLIENT", "PAUSE", "-1"))).toEqual({ error: "ERR timeout is negative" });
    expect(plain(await c.call("CLIENT", "PAUSE", "10", "foo"))).toEqual({ error: "ERR CLIENT PAUSE mode must be WRITE or ALL" });
    expect(plain(await c.call("CLIENT", "PAUSE", "10", "ALL", "x"))).toEqual({
      error: "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
    });
    expect(plain(await c.call("CLIENT", "UNPAUSE"))).toBe("OK");
    expect(plain(await c.call("CLIENT", "UNBLOCK", "5"))).toBe(0);
    expect(plain(await c.call("CLIENT", "UNBLOCK", "x"))).toEqual({ error: "ERR value is not an integer or out of range" });
    expect(plain(await c.call("CLIENT", "UNBLOCK", "1", "foo"))).toEqual({ error: "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR" });
    expect(plain(await c.call("CLIENT", "GETREDIR"))).toBe(-1);
    expect(plain(await c.call("CLIENT", "TRACKINGINFO"))).toEqual(["flags", ["off"], "redirect", -1, "prefixes", []]);
    const help = plain(await c.call("CLIENT", "HELP")) as string[];
    expect(help[0]).toBe("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    expect(help.slice(-2)).toEqual(["HELP", "    Prints this help."]);
    expect(help).toHaveLength(48);
  });
});

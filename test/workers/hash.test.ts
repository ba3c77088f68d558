import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashEncoding, HASH_ELEMENT_MAX } from "../../shared/commands/hash.ts";
import type { Server } from "../../shared/engine/server.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withKeyspace } from "./effects.ts";

const WRONGTYPE = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
const NOT_INTEGER = { error: "ERR value is not an integer or out of range" };
const SYNTAX = { error: "ERR syntax error" };

async function open() {
  const name = uniqueNode("hash");
  const c = await NodeClient.node(name);
  const fx = await captureEffects(name);
  return { name, c, fx };
}

/** Whether the key has a row in the keyspace at all (an emptied hash must not). */
async function keyRowExists(name: string, key: string): Promise<boolean> {
  return withKeyspace(name, (keys) => keys.find(0, new TextEncoder().encode(key)) !== null);
}

async function withServer<T>(name: string, fn: (server: Server) => T): Promise<T> {
  const stub = (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
  return runInDurableObject(stub, (instance: unknown) => fn((instance as { node: { server: Server } }).node.server));
}

const fieldName = (i: number) => `f${String(i).padStart(5, "0")}`;

async function fill(c: NodeClient, key: string, n: number, prefix = ""): Promise<void> {
  for (let start = 0; start < n; start += 200) {
    const argv: string[] = ["HSET", key];
    for (let i = start; i < Math.min(n, start + 200); i++) argv.push(prefix + fieldName(i), `v${i}`);
    await c.call(...argv);
  }
}

describe("HSET, HGET, HMSET, HMGET, HSETNX", () => {
  it("counts new fields, updates existing ones and propagates as called", async () => {
    const { c, fx } = await open();
    expect(plain(await c.call("HSET", "h", "a", "1", "b", "2"))).toBe(2);
    expect(plain(await c.call("HSET", "h", "a", "10", "c", "3"))).toBe(1);
    expect(plain(await c.call("HSET", "h", "d", "4", "d", "5"))).toBe(1);
    expect(plain(await c.call("HGET", "h", "a"))).toBe("10");
    expect(plain(await c.call("HGET", "h", "d"))).toBe("5");
    expect(plain(await c.call("HGET", "h", "zz"))).toBe(null);
    expect(plain(await c.call("HGET", "nokey", "a"))).toBe(null);
    expect(plain(await c.call("HLEN", "h"))).toBe(4);
    expect(fx.take()).toEqual([
      ["HSET", "h", "a", "1", "b", "2"],
      ["HSET", "h", "a", "10", "c", "3"],
      ["HSET", "h", "d", "4", "d", "5"],
    ]);
    c.close();
  });

  it("HSET and HMSET refuse an odd number of arguments, writing nothing", async () => {
    const { name, c, fx } = await open();
    expect(plain(await c.call("HSET", "h", "a", "1", "b"))).toEqual({ error: "ERR wrong number of arguments for 'hset' command" });
    expect(plain(await c.call("HMSET", "h", "a", "1", "b"))).toEqual({ error: "ERR wrong number of arguments for 'hmset' command" });
    expect(plain(await c.call("HSET", "h", "a"))).toEqual({ error: "ERR wrong number of arguments for 'hset' command" });
    expect(await keyRowExists(name, "h")).toBe(false);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("HMSET answers OK and is propagated as HMSET", async () => {
    const { c, fx } = await open();
    expect(plain(await c.call("HMSET", "h", "a", "1", "b", "2"))).toBe("OK");
    expect(plain(await c.call("HMGET", "h", "a", "nope", "b", "a"))).toEqual(["1", null, "2", "1"]);
    expect(plain(await c.call("HMGET", "nokey", "a", "b"))).toEqual([null, null]);
    expect(fx.take()).toEqual([["HMSET", "h", "a", "1", "b", "2"]]);
    c.close();
  });

  it("HSETNX sets only missing fields, and propagates only when it did", async () => {
    const { c, fx } = await open();
    expect(plain(await c.call("HSETNX", "h", "a", "1"))).toBe(1);
    expect(plain(await c.call("HSETNX", "h", "a", "2"))).toBe(0);
    expect(plain(await c.call("HSETNX", "h", "b", "3"))).toBe(1);
    expect(plain(await c.call("HGET", "h", "a"))).toBe("1");
    expect(plain(await c.call("HLEN", "h"))).toBe(2);
    expect(fx.take()).toEqual([
      ["HSETNX", "h", "a", "1"],
      ["HSETNX", "h", "b", "3"],
    ]);
    c.close();
  });

  it("keeps binary fields and values exactly, empty ones included", async () => {
    const { c } = await open();
    const field = Uint8Array.from([0, 255, 13, 10, 0x80]);
    const value = Uint8Array.from([1, 0, 2, 0xfe]);
    expect(plain(await c.call("HSET", "h", field, value, "", ""))).toBe(2);
    const reply = await c.call("HGET", "h", field);
    expect(reply.type).toBe("bulk");
    expect(reply.type === "bulk" && [...reply.value]).toEqual([...value]);
    expect(plain(await c.call("HGET", "h", ""))).toBe("");
    expect(plain(await c.call("HEXISTS", "h", ""))).toBe(1);
    expect(plain(await c.call("HSTRLEN", "h", field))).toBe(4);
    c.close();
  });
});

describe("HDEL, HEXISTS, HLEN, HSTRLEN", () => {
  it("deletes fields, deletes the key with its last field, and propagates as called", async () => {
    const { name, c, fx } = await open();
    await c.call("HSET", "h", "a", "1", "b", "2", "c", "3");
    fx.take();
    expect(plain(await c.call("HDEL", "h", "a", "zz", "a"))).toBe(1);
    expect(plain(await c.call("HDEL", "h", "zz"))).toBe(0);
    expect(plain(await c.call("HDEL", "nokey", "a"))).toBe(0);
    expect(plain(await c.call("HEXISTS", "h", "a"))).toBe(0);
    expect(plain(await c.call("HEXISTS", "h", "b"))).toBe(1);
    expect(plain(await c.call("HLEN", "h"))).toBe(2);
    expect(await keyRowExists(name, "h")).toBe(true);
    expect(plain(await c.call("HDEL", "h", "b", "c", "d"))).toBe(2);
    expect(await keyRowExists(name, "h")).toBe(false);
    expect(plain(await c.call("HLEN", "h"))).toBe(0);
    expect(plain(await c.call("HGETALL", "h"))).toEqual([]);
    expect(fx.take()).toEqual([
      ["HDEL", "h", "a", "zz", "a"],
      ["HDEL", "h", "b", "c", "d"],
    ]);
    c.close();
  });

  it("HSTRLEN gives the value's length in bytes, 0 when missing", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "héllo", "n", "-12345");
    expect(plain(await c.call("HSTRLEN", "h", "a"))).toBe(6);
    expect(plain(await c.call("HSTRLEN", "h", "n"))).toBe(6);
    expect(plain(await c.call("HSTRLEN", "h", "zz"))).toBe(0);
    expect(plain(await c.call("HSTRLEN", "nokey", "zz"))).toBe(0);
    c.close();
  });
});

describe("HINCRBY and HINCRBYFLOAT", () => {
  it("HINCRBY creates, adds, checks integers and overflow, and propagates as called", async () => {
    const { name, c, fx } = await open();
    expect(plain(await c.call("HINCRBY", "h", "n", "5"))).toBe(5);
    expect(plain(await c.call("HINCRBY", "h", "n", "-7"))).toBe(-2);
    expect(plain(await c.call("HINCRBY", "h", "n", "x"))).toEqual(NOT_INTEGER);
    expect(plain(await c.call("HINCRBY", "nokey", "n", "1.5"))).toEqual(NOT_INTEGER);
    expect(await keyRowExists(name, "nokey")).toBe(false);
    await c.call("HSET", "h", "s", "abc", "big", "9223372036854775806", "z", "007");
    fx.take();
    expect(plain(await c.call("HINCRBY", "h", "s", "1"))).toEqual({ error: "ERR hash value is not an integer" });
    expect(plain(await c.call("HINCRBY", "h", "z", "1"))).toEqual({ error: "ERR hash value is not an integer" });
    expect(plain(await c.call("HINCRBY", "h", "big", "1"))).toBe(9223372036854775807n);
    expect(plain(await c.call("HINCRBY", "h", "big", "1"))).toEqual({ error: "ERR increment or decrement would overflow" });
    expect(plain(await c.call("HSET", "h", "neg", "-9223372036854775808"))).toBe(1);
    expect(plain(await c.call("HINCRBY", "h", "neg", "-1"))).toEqual({ error: "ERR increment or decrement would overflow" });
    expect(plain(await c.call("HINCRBY", "h", "neg", "9223372036854775807"))).toBe(-1);
    expect(plain(await c.call("HGET", "h", "big"))).toBe("9223372036854775807");
    expect(fx.take()).toEqual([
      ["HINCRBY", "h", "big", "1"],
      ["HSET", "h", "neg", "-9223372036854775808"],
      ["HINCRBY", "h", "neg", "9223372036854775807"],
    ]);
    c.close();
  });

  it("HINCRBYFLOAT computes like Redis and is propagated as HSET with the result", async () => {
    const { name, c, fx } = await open();
    expect(plain(await c.call("HINCRBYFLOAT", "h", "x", "0.1"))).toBe("0.1");
    expect(plain(await c.call("HINCRBYFLOAT", "h", "x", "0.2"))).toBe("0.3");
    expect(plain(await c.call("HINCRBYFLOAT", "h", "x", "-0.3"))).toBe("0");
    expect(plain(await c.call("HINCRBYFLOAT", "h", "y", "1e3"))).toBe("1000");
    expect(plain(await c.call("HINCRBYFLOAT", "h", "y", "0x10"))).toBe("1016");
    expect(fx.take()).toEqual([
      ["HSET", "h", "x", "0.1"],
      ["HSET", "h", "x", "0.3"],
      ["HSET", "h", "x", "0"],
      ["HSET", "h", "y", "1000"],
      ["HSET", "h", "y", "1016"],
    ]);
    await c.call("HSET", "h", "s", "abc", "i", "inf");
    fx.take();
    expect(plain(await c.call("HINCRBYFLOAT", "h", "s", "1"))).toEqual({ error: "ERR hash value is not a float" });
    expect(plain(await c.call("HINCRBYFLOAT", "h", "x", "abc"))).toEqual({ error: "ERR value is not a valid float" });
    expect(plain(await c.call("HINCRBYFLOAT", "h", "x", "inf"))).toEqual({ error: "ERR value is NaN or Infinity" });
    expect(plain(await c.call("HINCRBYFLOAT", "h", "i", "1"))).toEqual({ error: "ERR increment would produce NaN or Infinity" });
    expect(plain(await c.call("HINCRBYFLOAT", "nokey", "x", "nan"))).toEqual({ error: "ERR value is not a valid float" });
    expect(await keyRowExists(name, "nokey")).toBe(false);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("replaying the effects rebuilds the same hash", async () => {
    const { c, fx } = await open();
    await c.call("HSET", "h", "a", "1", "b", "2", "c", "3");
    await c.call("HINCRBYFLOAT", "h", "f", "1.1");
    await c.call("HINCRBYFLOAT", "h", "f", "2.2");
    await c.call("HINCRBY", "h", "a", "41");
    await c.call("HSETNX", "h", "d", "4");
    await c.call("HDEL", "h", "b");
    await c.call("HMSET", "g", "x", "y");
    await c.call("HDEL", "g", "x");
    const copy = uniqueNode("hash-replay");
    await replay(copy, fx.takeRaw());
    const r = await NodeClient.node(copy);
    expect(plain(await r.call("HGETALL", "h"))).toEqual(plain(await c.call("HGETALL", "h")));
    expect(plain(await r.call("HGETALL", "h"))).toEqual(["a", "42", "c", "3", "d", "4", "f", "3.3"]);
    expect(plain(await r.call("HLEN", "g"))).toBe(0);
    r.close();
    c.close();
  });
});

describe("HGETALL, HKEYS, HVALS", () => {
  it("return fields in byte order, as a map in RESP3", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "b", "2", "a", "1", "c", "3");
    expect(plain(await c.call("HGETALL", "h"))).toEqual(["a", "1", "b", "2", "c", "3"]);
    expect(plain(await c.call("HKEYS", "h"))).toEqual(["a", "b", "c"]);
    expect(plain(await c.call("HVALS", "h"))).toEqual(["1", "2", "3"]);
    expect(plain(await c.call("HGETALL", "nokey"))).toEqual([]);
    expect(plain(await c.call("HKEYS", "nokey"))).toEqual([]);
    expect(plain(await c.call("HVALS", "nokey"))).toEqual([]);
    await c.call("HELLO", "3");
    const all = await c.call("HGETALL", "h");
    expect(all.type).toBe("map");
    expect(plain(all)).toEqual([["a", "1"], ["b", "2"], ["c", "3"]]);
    const empty = await c.call("HGETALL", "nokey");
    expect(empty.type).toBe("map");
    expect(plain(empty)).toEqual([]);
    expect((await c.call("HKEYS", "h")).type).toBe("array");
    c.close();
  });

  it("read hashes larger than one SQL page completely", async () => {
    const { c } = await open();
    await fill(c, "big", 1300);
    const keys = plain(await c.call("HKEYS", "big")) as string[];
    expect(keys).toHaveLength(1300);
    expect(keys[0]).toBe(fieldName(0));
    expect(keys[1299]).toBe(fieldName(1299));
    expect(new Set(keys).size).toBe(1300);
    const vals = plain(await c.call("HVALS", "big")) as string[];
    expect(vals[512]).toBe("v512");
    const all = plain(await c.call("HGETALL", "big")) as string[];
    expect(all).toHaveLength(2600);
    expect(all.slice(1024, 1028)).toEqual([fieldName(512), "v512", fieldName(513), "v513"]);
    c.close();
  });
});

describe("HRANDFIELD", () => {
  it("without count: one field, null on a missing key", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "1", "b", "2", "c", "3");
    const seen = new Set<unknown>();
    for (let i = 0; i < 60; i++) seen.add(plain(await c.call("HRANDFIELD", "h")));
    expect([...seen].sort()).toEqual(["a", "b", "c"]);
    expect(plain(await c.call("HRANDFIELD", "nokey"))).toBe(null);
    c.close();
  });

  it("positive count: distinct fields; the whole hash when count >= size", async () => {
    const { c } = await open();
    await fill(c, "h", 50);
    for (const count of [1, 2, 10, 17, 49]) {
      const fields = plain(await c.call("HRANDFIELD", "h", count)) as string[];
      expect(fields).toHaveLength(count);
      expect(new Set(fields).size).toBe(count);
      for (const f of fields) expect(f).toMatch(/^f000[0-4]\d$/);
    }
    const whole = plain(await c.call("HRANDFIELD", "h", 50)) as string[];
    expect([...whole].sort()).toEqual(Array.from({ length: 50 }, (_, i) => fieldName(i)));
    expect(plain(await c.call("HRANDFIELD", "h", 1000))).toHaveLength(50);
    const pairs = plain(await c.call("HRANDFIELD", "h", 5, "WITHVALUES")) as string[];
    expect(pairs).toHaveLength(10);
    for (let i = 0; i < 10; i += 2) expect(pairs[i + 1]).toBe(`v${Number(pairs[i].slice(1))}`);
    expect(plain(await c.call("HRANDFIELD", "h", 0))).toEqual([]);
    expect(plain(await c.call("HRANDFIELD", "nokey", 5))).toEqual([]);
    c.close();
  });

  it("eventually returns every field of a large hash, and covers distinct picks spread over it", async () => {
    const { c } = await open();
    await fill(c, "h", 600);
    const seen = new Set<string>();
    for (let i = 0; i < 400 && seen.size < 600; i++) {
      for (const f of plain(await c.call("HRANDFIELD", "h", 100)) as string[]) seen.add(f);
    }
    expect(seen.size).toBe(600);
    c.close();
  });

  it("negative count: that many fields, repeats allowed", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "1", "b", "2");
    const fields = plain(await c.call("HRANDFIELD", "h", -20)) as string[];
    expect(fields).toHaveLength(20);
    expect(new Set(fields).size).toBeLessThanOrEqual(2);
    for (const f of fields) expect(["a", "b"]).toContain(f);
    const pairs = plain(await c.call("HRANDFIELD", "h", -7, "withvalues")) as string[];
    expect(pairs).toHaveLength(14);
    for (let i = 0; i < 14; i += 2) expect(pairs[i + 1]).toBe(pairs[i] === "a" ? "1" : "2");
    expect(plain(await c.call("HRANDFIELD", "nokey", -3))).toEqual([]);
    c.close();
  });

  it("RESP3 WITHVALUES replies with [field, value] arrays", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "1", "b", "2", "c", "3");
    await c.call("HELLO", "3");
    for (const count of ["2", "-5", "3", "1", "10"]) {
      const reply = await c.call("HRANDFIELD", "h", count, "WITHVALUES");
      expect(reply.type).toBe("array");
      if (reply.type !== "array") continue;
      const n = Math.min(Math.abs(Number(count)), count.startsWith("-") ? Infinity : 3);
      expect(reply.value).toHaveLength(n);
      for (const pair of reply.value) {
        expect(pair.type).toBe("array");
        const [f, v] = plain(pair) as string[];
        expect(v).toBe({ a: "1", b: "2", c: "3" }[f]);
      }
    }
    const plainFields = await c.call("HRANDFIELD", "h", 2);
    expect(plain(plainFields)).toHaveLength(2);
    expect(plainFields.type === "array" && plainFields.value.every((r) => r.type === "bulk")).toBe(true);
    c.close();
  });

  it("checks its arguments like Redis", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "1");
    expect(plain(await c.call("HRANDFIELD", "h", "x"))).toEqual(NOT_INTEGER);
    expect(plain(await c.call("HRANDFIELD", "h", "1", "WITHVALUE"))).toEqual(SYNTAX);
    expect(plain(await c.call("HRANDFIELD", "h", "1", "WITHVALUES", "x"))).toEqual(SYNTAX);
    expect(plain(await c.call("HRANDFIELD", "h", "-9223372036854775808"))).toEqual({
      error: "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
    });
    expect(plain(await c.call("HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES"))).toEqual({ error: "ERR value is out of range" });
    expect(plain(await c.call("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"))).toEqual({ error: "ERR value is out of range" });
    expect(plain(await c.call("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"))).toEqual(["a", "1"]);
    expect(plain(await c.call("HRANDFIELD", "nokey", "-9223372036854770000", "WITHVALUES"))).toEqual({ error: "ERR value is out of range" });
    c.close();
  });

  it("refuses a repeated-field reply too large to build", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "1");
    const tooLarge = plain(await c.call("HRANDFIELD", "h", "-1000001")) as { error: string };
    expect(tooLarge.error).toMatch(/^ERR HRANDFIELD reply too large/);
    await c.call("HSET", "big", "f", "x".repeat(1024 * 1024));
    const tooManyBytes = plain(await c.call("HRANDFIELD", "big", "-100", "WITHVALUES")) as { error: string };
    expect(tooManyBytes.error).toMatch(/^ERR HRANDFIELD reply too large/);
    expect(plain(await c.call("HRANDFIELD", "h", "-200000"))).toHaveLength(200000);
    expect(plain(await c.call("HRANDFIELD", "big", "-50"))).toHaveLength(50);
    c.close();
  });
});

describe("HSCAN", () => {
  it("answers a small hash whole with cursor 0, whatever the cursor and COUNT", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "b", "2", "a", "1", "c", "3");
    expect(plain(await c.call("HSCAN", "h", "0"))).toEqual(["0", ["a", "1", "b", "2", "c", "3"]]);
    expect(plain(await c.call("HSCAN", "h", "12345", "COUNT", "1"))).toEqual(["0", ["a", "1", "b", "2", "c", "3"]]);
    expect(plain(await c.call("HSCAN", "h", "0", "MATCH", "[ab]"))).toEqual(["0", ["a", "1", "b", "2"]]);
    expect(plain(await c.call("HSCAN", "nokey", "0"))).toEqual(["0", []]);
    c.close();
  });

  it("iterates a large hash in pages, every field exactly once", async () => {
    const { c } = await open();
    await fill(c, "h", 1000);
    const seen = new Map<string, string>();
    let cursor = "0";
    let calls = 0;
    do {
      const [next, items] = plain(await c.call("HSCAN", "h", cursor, "COUNT", "37")) as [string, string[]];
      expect(items.length).toBeLessThanOrEqual(74);
      for (let i = 0; i < items.length; i += 2) {
        expect(seen.has(items[i])).toBe(false);
        seen.set(items[i], items[i + 1]);
      }
      cursor = next;
      calls++;
    } while (cursor !== "0");
    expect(seen.size).toBe(1000);
    expect(seen.get(fieldName(999))).toBe("v999");
    expect(calls).toBe(Math.ceil(1000 / 37));
    c.close();
  });

  it("never misses fields that exist throughout, while others are added and deleted", async () => {
    const { c } = await open();
    await fill(c, "h", 700);
    const seen = new Set<string>();
    const deleted = new Set<string>();
    let cursor = "0";
    let round = 0;
    do {
      const [next, items] = plain(await c.call("HSCAN", "h", cursor)) as [string, string[]];
      for (let i = 0; i < items.length; i += 2) seen.add(items[i]);
      // Delete a field near the start (already returned) and one ahead; add fields everywhere.
      const gone = [fieldName(round * 2 + 1), fieldName(699 - round * 2)];
      for (const f of gone) deleted.add(f);
      await c.call("HDEL", "h", ...gone);
      await c.call("HSET", "h", `new${round}`, "x", `a${round}`, "y", `f0${round}`, "z");
      cursor = next;
      round++;
    } while (cursor !== "0");
    expect(round).toBeGreaterThan(10);
    for (let i = 0; i < 700; i++) {
      if (!deleted.has(fieldName(i))) expect(seen.has(fieldName(i)), fieldName(i)).toBe(true);
    }
    c.close();
  });

  it("resumes an unknown cursor by position", async () => {
    const { c } = await open();
    await fill(c, "h", 700);
    // A cursor this node never issued: rank 690 in its low 32 bits.
    const cursor = String(7 * 2 ** 32 + 690);
    expect(plain(await c.call("HSCAN", "h", cursor))).toEqual([
      "0",
      Array.from({ length: 10 }, (_, i) => [fieldName(690 + i), `v${690 + i}`]).flat(),
    ]);
    c.close();
  });

  it("MATCH filters the page's fields, COUNT is a hint", async () => {
    const { c } = await open();
    await fill(c, "h", 600);
    const [cursor, items] = plain(await c.call("HSCAN", "h", "0", "MATCH", "f0000*", "COUNT", "20")) as [string, string[]];
    expect(cursor).not.toBe("0");
    expect(items).toEqual(Array.from({ length: 10 }, (_, i) => [fieldName(i), `v${i}`]).flat());
    const [, none] = plain(await c.call("HSCAN", "h", cursor, "MATCH", "f0000*", "COUNT", "20")) as [string, string[]];
    expect(none).toEqual([]);
    const [end, all] = plain(await c.call("HSCAN", "h", "0", "COUNT", "1000")) as [string, string[]];
    expect(end).toBe("0");
    expect(all).toHaveLength(1200);
    c.close();
  });

  it("checks cursor and options like Redis", async () => {
    const { c } = await open();
    await c.call("HSET", "h", "a", "1");
    await c.call("SET", "s", "x");
    expect(plain(await c.call("HSCAN", "h", "x"))).toEqual({ error: "ERR invalid cursor" });
    expect(plain(await c.call("HSCAN", "h", " 1"))).toEqual({ error: "ERR invalid cursor" });
    expect(plain(await c.call("HSCAN", "h", "18446744073709551616"))).toEqual({ error: "ERR invalid cursor" });
    expect(plain(await c.call("HSCAN", "s", "x"))).toEqual({ error: "ERR invalid cursor" });
    expect(plain(await c.call("HSCAN", "h", "18446744073709551615"))).toEqual(["0", ["a", "1"]]);
    expect(plain(await c.call("HSCAN", "h", "-1"))).toEqual(["0", ["a", "1"]]);
    expect(plain(await c.call("HSCAN", "h", ""))).toEqual(["0", ["a", "1"]]);
    expect(plain(await c.call("HSCAN", "h", "0", "COUNT", "0"))).toEqual(SYNTAX);
    expect(plain(await c.call("HSCAN", "h", "0", "COUNT", "x"))).toEqual(NOT_INTEGER);
    expect(plain(await c.call("HSCAN", "h", "0", "COUNT"))).toEqual(SYNTAX);
    expect(plain(await c.call("HSCAN", "h", "0", "NOVALUES"))).toEqual(SYNTAX);
    expect(plain(await c.call("HSCAN", "h", "0", "TYPE", "hash"))).toEqual(SYNTAX);
    // The key is looked up before the options are read, as Redis does.
    expect(plain(await c.call("HSCAN", "nokey", "0", "BOGUS"))).toEqual(["0", []]);
    expect(plain(await c.call("HSCAN", "s", "0", "BOGUS"))).toEqual(WRONGTYPE);
    c.close();
  });
});

describe("types, sizes and encodings", () => {
  it("every hash command answers WRONGTYPE on a string, and GET on a hash", async () => {
    const { c, fx } = await open();
    await c.call("SET", "s", "x");
    await c.call("HSET", "h", "a", "1");
    fx.take();
    const commands: string[][] = [
      ["HSET", "s", "a", "1"], ["HMSET", "s", "a", "1"], ["HSETNX", "s", "a", "1"], ["HGET", "s", "a"],
      ["HMGET", "s", "a"], ["HDEL", "s", "a"], ["HEXISTS", "s", "a"], ["HLEN", "s"], ["HSTRLEN", "s", "a"],
      ["HKEYS", "s"], ["HVALS", "s"], ["HGETALL", "s"], ["HINCRBY", "s", "a", "1"], ["HINCRBYFLOAT", "s", "a", "1"],
      ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"], ["HRANDFIELD", "s", "0"], ["HSCAN", "s", "0"],
    ];
    for (const argv of commands) expect(plain(await c.call(...argv)), argv.join(" ")).toEqual(WRONGTYPE);
    expect(plain(await c.call("GET", "h"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("GET", "s"))).toBe("x");
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("refuses elements over 1 MiB before writing anything, and stores ones of exactly 1 MiB", async () => {
    const { name, c, fx } = await open();
    const max = "f".repeat(HASH_ELEMENT_MAX);
    const over = "v".repeat(HASH_ELEMENT_MAX + 1);
    const TOO_LARGE = { error: "ERR element exceeds the maximum size a node stores in one row" };
    expect(plain(await c.call("HSET", "h", "a", "1", "b", over))).toEqual(TOO_LARGE);
    expect(plain(await c.call("HMSET", "h", over, "1"))).toEqual(TOO_LARGE);
    expect(plain(await c.call("HSETNX", "h", "a", over))).toEqual(TOO_LARGE);
    expect(plain(await c.call("HINCRBY", "h", over, "1"))).toEqual(TOO_LARGE);
    expect(plain(await c.call("HINCRBYFLOAT", "h", over, "1"))).toEqual(TOO_LARGE);
    expect(await keyRowExists(name, "h")).toBe(false);
    expect(fx.take()).toEqual([]);
    // A field and a value of 1 MiB each share one row.
    expect(plain(await c.call("HSET", "h", max, max.replace(/f/g, "v")))).toBe(1);
    expect(plain(await c.call("HSTRLEN", "h", max))).toBe(HASH_ELEMENT_MAX);
    await c.call("HSET", "h", "a", "1");
    fx.take();
    expect(plain(await c.call("HSET", "h", "a", "2", "b", over))).toEqual(TOO_LARGE);
    expect(plain(await c.call("HGET", "h", "a"))).toBe("1");
    expect(plain(await c.call("HLEN", "h"))).toBe(2);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("hashEncoding follows hash-max-listpack-entries (512) and hash-max-listpack-value (64)", async () => {
    const { name, c } = await open();
    await fill(c, "small", 512);
    await fill(c, "many", 513);
    await c.call("HSET", "longval", "a", "x".repeat(64), "b", "1");
    await c.call("HSET", "longval2", "a", "x".repeat(65));
    await c.call("HSET", "longfield", "y".repeat(65), "1");
    const encodings = await withServer(name, (server) => {
      const of = (key: string) => {
        const record = server.keyspace.find(0, new TextEncoder().encode(key))!;
        return hashEncoding(record, server.config, server.sql);
      };
      return ["small", "many", "longval", "longval2", "longfield"].map(of);
    });
    expect(encodings).toEqual(["listpack", "hashtable", "listpack", "hashtable", "hashtable"]);
    c.close();
  });

  it("a failed command inside MULTI leaves the others' effects intact", async () => {
    const { c, fx } = await open();
    await c.call("MULTI");
    await c.call("HSET", "h", "a", "1");
    await c.call("HINCRBY", "h", "a", "x");
    await c.call("HINCRBYFLOAT", "h", "a", "1.5");
    expect(plain(await c.call("EXEC"))).toEqual([1, NOT_INTEGER, "2.5"]);
    expect(fx.take()).toEqual([["MULTI"], ["HSET", "h", "a", "1"], ["HSET", "h", "a", "2.5"], ["EXEC"]]);
    c.close();
  });
});

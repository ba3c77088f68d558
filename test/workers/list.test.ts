/**
 * List commands inside workerd (real Durable Object SQLite, real WebSockets):
 * replies, errors, key deletion when a list empties, replication effects
 * (captured and replayed onto an empty node), position management (LINSERT
 * renumbering, drift towards the position limit), element size limits, and
 * the cost structure: single-element and end operations read a bounded
 * number of SQL rows whatever the list length.
 *
 * A randomized test runs the same workload on a node and on a small model of
 * Redis's list semantics (written from t_list.c) and compares every reply.
 * Blocking commands are covered in blocking.test.ts.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIST_ELEMENT_MAX, LIST_POS_LIMIT, LIST_STEP, parseTimeout } from "../../shared/commands/list.ts";
import type { Server } from "../../shared/engine/server.ts";
import type { Reply } from "../../shared/resp/index.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withServer } from "./effects.ts";

const WRONGTYPE = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
const NOT_INTEGER = { error: "ERR value is not an integer or out of range" };
const SYNTAX = { error: "ERR syntax error" };
const TOO_LARGE = { error: "ERR element exceeds the maximum size a node stores in one row" };
const encoder = new TextEncoder();

async function open(prefix = "list") {
  const name = uniqueNode(prefix);
  const c = await NodeClient.node(name);
  const fx = await captureEffects(name);
  return { name, c, fx };
}

/** Whether the key has a row in the keyspace at all (an emptied list must not). */
function keyRowExists(name: string, key: string): Promise<boolean> {
  return withServer(name, (server) => server.keyspace.find(0, encoder.encode(key)) !== null);
}

/** The stored positions of a list, head to tail. */
function positions(name: string, key: string): Promise<number[]> {
  return withServer(name, (server) => {
    const record = server.keyspace.find(0, encoder.encode(key));
    if (!record) return [];
    return server.sql.all<{ pos: number }>(`SELECT pos FROM list_items WHERE key_id = ? ORDER BY pos`, record.id).map((r) => Number(r.pos));
  });
}

async function rpushMany(c: NodeClient, key: string, values: string[]): Promise<void> {
  for (let i = 0; i < values.length; i += 500) {
    const reply = await c.call("RPUSH", key, ...values.slice(i, i + 500));
    if (reply.type === "error") throw new Error(reply.value);
  }
}

const range = (n: number, prefix = "e") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("LPUSH, RPUSH, LPUSHX, RPUSHX, LLEN, LRANGE", () => {
  it("push at both ends in argument order and answer the new length", async () => {
    const { c, fx } = await open();
    expect(plain(await c.call("RPUSH", "l", "a", "b", "c"))).toBe(3);
    expect(plain(await c.call("LPUSH", "l", "x", "y"))).toBe(5);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["y", "x", "a", "b", "c"]);
    expect(plain(await c.call("LLEN", "l"))).toBe(5);
    expect(plain(await c.call("LLEN", "nokey"))).toBe(0);
    expect(plain(await c.call("LPUSHX", "l", "p"))).toBe(6);
    expect(plain(await c.call("RPUSHX", "l", "q", "r"))).toBe(8);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["p", "y", "x", "a", "b", "c", "q", "r"]);
    expect(fx.take()).toEqual([
      ["RPUSH", "l", "a", "b", "c"],
      ["LPUSH", "l", "x", "y"],
      ["LPUSHX", "l", "p"],
      ["RPUSHX", "l", "q", "r"],
    ]);
    c.close();
  });

  it("LPUSHX/RPUSHX on a missing key answer 0, create nothing and propagate nothing", async () => {
    const { name, c, fx } = await open();
    expect(plain(await c.call("LPUSHX", "l", "a"))).toBe(0);
    expect(plain(await c.call("RPUSHX", "l", "a", "b"))).toBe(0);
    expect(await keyRowExists(name, "l")).toBe(false);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("refuse other types, for the X variants too", async () => {
    const { c } = await open();
    await c.call("SET", "s", "v");
    for (const cmd of ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]) expect(plain(await c.call(cmd, "s", "a"))).toEqual(WRONGTYPE);
    for (const cmd of [["LLEN", "s"], ["LRANGE", "s", 0, 1], ["LINDEX", "s", 0], ["LPOP", "s"], ["RPOP", "s", 2], ["LPOS", "s", "a"]]) {
      expect(plain(await c.call(...cmd))).toEqual(WRONGTYPE);
    }
    expect(plain(await c.call("GET", "s"))).toBe("v");
    c.close();
  });

  it("LRANGE: negative indexes, out-of-range bounds, huge bounds, bad integers", async () => {
    const { c } = await open();
    await c.call("RPUSH", "l", "a", "b", "c", "d", "e");
    const cases: [string | number, string | number, unknown][] = [
      [0, -1, ["a", "b", "c", "d", "e"]],
      [1, 3, ["b", "c", "d"]],
      [-2, -1, ["d", "e"]],
      [-100, 1, ["a", "b"]],
      [3, 100, ["d", "e"]],
      [3, 2, []],
      [5, 10, []],
      [-1, -2, []],
      [0, "9223372036854775807", ["a", "b", "c", "d", "e"]],
      ["-9223372036854775808", 0, ["a"]],
      ["9223372036854775807", "9223372036854775807", []],
    ];
    for (const [start, stop, expected] of cases) expect(plain(await c.call("LRANGE", "l", start, stop))).toEqual(expected);
    expect(plain(await c.call("LRANGE", "l", "x", 1))).toEqual(NOT_INTEGER);
    expect(plain(await c.call("LRANGE", "l", 0, "9223372036854775808"))).toEqual(NOT_INTEGER);
    expect(plain(await c.call("LRANGE", "nokey", "x", 1))).toEqual(NOT_INTEGER);
    const empty = await c.call("LRANGE", "nokey", 0, -1);
    expect(empty.type).toBe("array");
    expect(plain(empty)).toEqual([]);
    c.close();
  });

  it("LRANGE pages through long lists and returns them exactly, from either end", async () => {
    const { c } = await open();
    const values = range(1300);
    await rpushMany(c, "l", values);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(values);
    expect(plain(await c.call("LRANGE", "l", 255, 800))).toEqual(values.slice(255, 801));
    expect(plain(await c.call("LRANGE", "l", -600, -3))).toEqual(values.slice(-600, -2));
    c.close();
  });
});

describe("LPOP, RPOP", () => {
  it("pop one element as a bulk string, or several as an array, and delete the emptied key", async () => {
    const { name, c, fx } = await open();
    await c.call("RPUSH", "l", "a", "b", "c", "d", "e");
    expect(plain(await c.call("LPOP", "l"))).toBe("a");
    expect(plain(await c.call("RPOP", "l"))).toBe("e");
    expect(plain(await c.call("LPOP", "l", 2))).toEqual(["b", "c"]);
    expect(plain(await c.call("RPOP", "l", 5))).toEqual(["d"]);
    expect(await keyRowExists(name, "l")).toBe(false);
    expect(fx.take()).toEqual([
      ["RPUSH", "l", "a", "b", "c", "d", "e"],
      ["LPOP", "l"],
      ["RPOP", "l"],
      ["LPOP", "l", "2"],
      ["RPOP", "l", "5"],
    ]);
    c.close();
  });

  it("RPOP with a count answers tail first; pages through large counts", async () => {
    const { c } = await open();
    const values = range(700);
    await rpushMany(c, "l", values);
    expect(plain(await c.call("RPOP", "l", 600))).toEqual(values.slice(100).reverse());
    expect(plain(await c.call("LPOP", "l", "9223372036854775807"))).toEqual(values.slice(0, 100));
    expect(plain(await c.call("EXISTS", "l"))).toBe(0);
    c.close();
  });

  it("distinguish a null, a null array and an empty array as Redis does", async () => {
    const { c, fx } = await open();
    const none = await c.call("LPOP", "nokey");
    expect(none.type).toBe("null");
    const noneArray = await c.call("LPOP", "nokey", 3);
    expect(noneArray.type).toBe("nullarray");
    expect((await c.call("RPOP", "nokey", 0)).type).toBe("nullarray");
    await c.call("RPUSH", "l", "a");
    fx.take();
    const empty = await c.call("LPOP", "l", 0);
    expect(empty.type).toBe("array");
    expect(plain(empty)).toEqual([]);
    expect(fx.take()).toEqual([]); // nothing popped, nothing propagated
    expect(plain(await c.call("LLEN", "l"))).toBe(1);
    c.close();
  });

  it("count errors and arity", async () => {
    const { c } = await open();
    await c.call("RPUSH", "l", "a");
    const positive = { error: "ERR value is out of range, must be positive" };
    expect(plain(await c.call("LPOP", "l", -1))).toEqual(positive);
    expect(plain(await c.call("LPOP", "l", "x"))).toEqual(positive);
    expect(plain(await c.call("RPOP", "nokey", "-5"))).toEqual(positive);
    expect(plain(await c.call("LPOP", "l", 1, 2))).toEqual({ error: "ERR wrong number of arguments for 'lpop' command" });
    expect(plain(await c.call("LLEN", "l"))).toBe(1);
    c.close();
  });
});

describe("LINDEX, LSET", () => {
  it("LINDEX: positive and negative indexes, out of range, missing key, bad integer", async () => {
    const { c } = await open();
    const values = range(900);
    await rpushMany(c, "l", values);
    for (const i of [0, 1, 449, 450, 898, 899]) expect(plain(await c.call("LINDEX", "l", i))).toBe(values[i]);
    for (const i of [-1, -2, -450, -451, -900]) expect(plain(await c.call("LINDEX", "l", i))).toBe(values[900 + i]);
    for (const i of [900, -901, "9223372036854775807", "-9223372036854775808"]) {
      expect((await c.call("LINDEX", "l", i)).type).toBe("null");
    }
    expect((await c.call("LINDEX", "nokey", 0)).type).toBe("null");
    expect((await c.call("LINDEX", "nokey", "x")).type).toBe("null"); // the key is looked up first
    expect(plain(await c.call("LINDEX", "l", "x"))).toEqual(NOT_INTEGER);
    c.close();
  });

  it("LSET replaces by index and propagates as called; errors in Redis's order", async () => {
    const { c, fx } = await open();
    await c.call("RPUSH", "l", "a", "b", "c");
    fx.take();
    expect(plain(await c.call("LSET", "l", 0, "A"))).toBe("OK");
    expect(plain(await c.call("LSET", "l", -1, "C"))).toBe("OK");
    expect(plain(await c.call("LSET", "l", 1, ""))).toBe("OK");
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["A", "", "C"]);
    expect(plain(await c.call("LSET", "l", 3, "x"))).toEqual({ error: "ERR index out of range" });
    expect(plain(await c.call("LSET", "l", -4, "x"))).toEqual({ error: "ERR index out of range" });
    expect(plain(await c.call("LSET", "nokey", 0, "x"))).toEqual({ error: "ERR no such key" });
    expect(plain(await c.call("LSET", "nokey", "x", "x"))).toEqual({ error: "ERR no such key" });
    expect(plain(await c.call("LSET", "l", "x", "x"))).toEqual(NOT_INTEGER);
    await c.call("SET", "s", "v");
    expect(plain(await c.call("LSET", "s", 0, "x"))).toEqual(WRONGTYPE);
    expect(fx.take()).toEqual([
      ["LSET", "l", "0", "A"],
      ["LSET", "l", "-1", "C"],
      ["LSET", "l", "1", ""],
      ["SET", "s", "v"],
    ]);
    c.close();
  });
});

describe("LTRIM", () => {
  it("keeps the range, deletes the key when nothing is left, and propagates only when it removed something", async () => {
    const { name, c, fx } = await open();
    await rpushMany(c, "l", range(10));
    fx.take();
    expect(plain(await c.call("LTRIM", "l", 0, -1))).toBe("OK");
    expect(plain(await c.call("LTRIM", "l", -100, 100))).toBe("OK");
    expect(fx.take()).toEqual([]);
    expect(plain(await c.call("LTRIM", "l", 2, -3))).toBe("OK");
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(range(10).slice(2, 8));
    expect(plain(await c.call("LTRIM", "l", 1, 1))).toBe("OK");
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["e3"]);
    expect(plain(await c.call("LTRIM", "l", 1, 0))).toBe("OK");
    expect(await keyRowExists(name, "l")).toBe(false);
    expect(plain(await c.call("LTRIM", "nokey", 0, 1))).toBe("OK");
    expect(plain(await c.call("LTRIM", "nokey", "x", 1))).toEqual(NOT_INTEGER);
    expect(fx.take()).toEqual([
      ["LTRIM", "l", "2", "-3"],
      ["LTRIM", "l", "1", "1"],
      ["LTRIM", "l", "1", "0"],
    ]);
    c.close();
  });

  it("a trim that removes nothing still touches the key for WATCH, as Redis signals it", async () => {
    const { name, c } = await open();
    const other = await NodeClient.node(name);
    await c.call("RPUSH", "l", "a", "b");
    await c.call("WATCH", "l");
    await other.call("LTRIM", "l", 0, -1);
    await c.call("MULTI");
    await c.call("LLEN", "l");
    expect((await c.call("EXEC")).type).toBe("nullarray");
    c.close();
    other.close();
  });

  it("trims both ends of a long list exactly", async () => {
    const { c } = await open();
    const values = range(1000);
    await rpushMany(c, "l", values);
    expect(plain(await c.call("LTRIM", "l", 123, -201))).toBe("OK");
    expect(plain(await c.call("LLEN", "l"))).toBe(677);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(values.slice(123, 800));
    c.close();
  });
});

describe("LINSERT", () => {
  it("inserts before or after the first pivot; -1 without pivot, 0 without key", async () => {
    const { c, fx } = await open();
    await c.call("RPUSH", "l", "a", "b", "a");
    fx.take();
    expect(plain(await c.call("LINSERT", "l", "BEFORE", "a", "x"))).toBe(4);
    expect(plain(await c.call("LINSERT", "l", "after", "a", "y"))).toBe(5);
    expect(plain(await c.call("LINSERT", "l", "AFTER", "b", "z"))).toBe(6);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["x", "a", "y", "b", "z", "a"]);
    expect(plain(await c.call("LINSERT", "l", "BEFORE", "nope", "q"))).toBe(-1);
    expect(plain(await c.call("LINSERT", "nokey", "BEFORE", "a", "q"))).toBe(0);
    expect(plain(await c.call("LINSERT", "l", "MIDDLE", "a", "q"))).toEqual(SYNTAX);
    expect(plain(await c.call("LINSERT", "nokey", "MIDDLE", "a", "q"))).toEqual(SYNTAX);
    await c.call("SET", "s", "v");
    expect(plain(await c.call("LINSERT", "s", "BEFORE", "a", "q"))).toEqual(WRONGTYPE);
    expect(fx.take()).toEqual([
      ["LINSERT", "l", "BEFORE", "a", "x"],
      ["LINSERT", "l", "after", "a", "y"],
      ["LINSERT", "l", "AFTER", "b", "z"],
      ["SET", "s", "v"],
    ]);
    c.close();
  });

  it("renumbers the list when two neighbours leave no room, keeping the order", async () => {
    const { name, c } = await open();
    await c.call("RPUSH", "l", "left", "right", "tail");
    // Each insertion before "right" halves the gap: 2^20 runs out after 20.
    const expected = ["left"];
    for (let i = 0; i < 45; i++) {
      expect(plain(await c.call("LINSERT", "l", "BEFORE", "right", `m${i}`))).toBe(4 + i);
      expected.push(`m${i}`);
    }
    expected.push("right", "tail");
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(expected);
    const pos = await positions(name, "l");
    expect(pos.length).toBe(48);
    for (let i = 1; i < pos.length; i++) expect(pos[i]).toBeGreaterThan(pos[i - 1]);
    expect(pos.every((p) => Number.isSafeInteger(p))).toBe(true);
    // A renumbering happened (45 halvings of 2^20 leave no room otherwise): only
    // renumbering moves "left" away from the position 0 its push gave it.
    expect(pos[0]).toBeLessThan(0);
    c.close();
  });
});

describe("LREM", () => {
  it("removes from the head (count > 0), the tail (count < 0) or everywhere (0)", async () => {
    const { name, c, fx } = await open();
    await c.call("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a");
    fx.take();
    expect(plain(await c.call("LREM", "l", 2, "a"))).toBe(2);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["b", "c", "a", "b", "a"]);
    expect(plain(await c.call("LREM", "l", -1, "b"))).toBe(1);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["b", "c", "a", "a"]);
    expect(plain(await c.call("LREM", "l", 0, "a"))).toBe(2);
    expect(plain(await c.call("LREM", "l", 0, "zz"))).toBe(0);
    expect(plain(await c.call("LREM", "l", "-9223372036854775808", "b"))).toBe(1);
    expect(plain(await c.call("LLEN", "l"))).toBe(1);
    expect(plain(await c.call("LREM", "l", 1, "c"))).toBe(1);
    expect(await keyRowExists(name, "l")).toBe(false);
    expect(plain(await c.call("LREM", "nokey", 1, "c"))).toBe(0);
    expect(plain(await c.call("LREM", "l", "x", "c"))).toEqual(NOT_INTEGER);
    expect(fx.take()).toEqual([
      ["LREM", "l", "2", "a"],
      ["LREM", "l", "-1", "b"],
      ["LREM", "l", "0", "a"],
      ["LREM", "l", "-9223372036854775808", "b"],
      ["LREM", "l", "1", "c"],
    ]);
    c.close();
  });
});

describe("LPOS", () => {
  it("RANK, COUNT and MAXLEN in combination", async () => {
    const { c } = await open();
    await c.call("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c");
    const cases: [(string | number)[], unknown][] = [
      [["c"], 2],
      [["c", "RANK", 2], 6],
      [["c", "RANK", -1], 7],
      [["c", "RANK", -3], 2],
      [["c", "RANK", 4], null],
      [["c", "COUNT", 0], [2, 6, 7]],
      [["c", "COUNT", 2], [2, 6]],
      [["c", "COUNT", 2, "RANK", -1], [7, 6]],
      [["c", "RANK", 2, "COUNT", 0], [6, 7]],
      [["c", "COUNT", 0, "MAXLEN", 7], [2, 6]],
      [["c", "COUNT", 0, "MAXLEN", 3], [2]],
      [["c", "COUNT", 0, "MAXLEN", 2], []],
      [["c", "RANK", -1, "MAXLEN", 1], 7],
      [["c", "RANK", -1, "COUNT", 0, "MAXLEN", 6], [7, 6, 2]],
      [["c", "RANK", -1, "COUNT", 0, "MAXLEN", 5], [7, 6]],
      [["c", "MAXLEN", 0], 2],
      [["zz"], null],
      [["zz", "COUNT", 1], []],
      [["c", "RANK", "-9223372036854775808"], 7],
      [["c", "RANK", "-9223372036854775808", "COUNT", 1], [7, 6, 2]],
      [["c", "RANK", "9223372036854775807", "COUNT", 0], []],
      [["c", "COUNT", "9223372036854775807"], [2, 6, 7]],
    ];
    for (const [args, expected] of cases) expect([args, plain(await c.call("LPOS", "l", ...args))]).toEqual([args, expected]);
    expect((await c.call("LPOS", "nokey", "a")).type).toBe("null");
    expect(plain(await c.call("LPOS", "nokey", "a", "COUNT", 0))).toEqual([]);
    c.close();
  });

  it("option errors, checked before the key", async () => {
    const { c } = await open();
    const rankZero = {
      error: "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
    };
    expect(plain(await c.call("LPOS", "nokey", "a", "RANK", 0))).toEqual(rankZero);
    expect(plain(await c.call("LPOS", "nokey", "a", "RANK", "x"))).toEqual(NOT_INTEGER);
    expect(plain(await c.call("LPOS", "nokey", "a", "COUNT", -1))).toEqual({ error: "ERR COUNT can't be negative" });
    expect(plain(await c.call("LPOS", "nokey", "a", "COUNT", "x"))).toEqual({ error: "ERR COUNT can't be negative" });
    expect(plain(await c.call("LPOS", "nokey", "a", "MAXLEN", -1))).toEqual({ error: "ERR MAXLEN can't be negative" });
    expect(plain(await c.call("LPOS", "nokey", "a", "RANK"))).toEqual(SYNTAX);
    expect(plain(await c.call("LPOS", "nokey", "a", "FOO", 1))).toEqual(SYNTAX);
    c.close();
  });

  it("finds matches in long lists at the right indexes, from both ends", async () => {
    const { c } = await open();
    const values = range(1500).map((v, i) => (i % 97 === 5 ? "hit" : v));
    await rpushMany(c, "l", values);
    const hits = values.flatMap((v, i) => (v === "hit" ? [i] : []));
    expect(plain(await c.call("LPOS", "l", "hit", "COUNT", 0))).toEqual(hits);
    expect(plain(await c.call("LPOS", "l", "hit", "RANK", -1, "COUNT", 0))).toEqual([...hits].reverse());
    expect(plain(await c.call("LPOS", "l", "hit", "RANK", 3, "COUNT", 4))).toEqual(hits.slice(2, 6));
    expect(plain(await c.call("LPOS", "l", "hit", "RANK", -2, "MAXLEN", 700, "COUNT", 0))).toEqual(
      [...hits].reverse().slice(1).filter((i) => i >= 800),
    );
    expect(plain(await c.call("LPOS", "l", "e1499"))).toBe(1499);
    c.close();
  });
});

describe("LMOVE, RPOPLPUSH", () => {
  it("moves between every pair of ends, creating the destination", async () => {
    const { name, c, fx } = await open();
    await c.call("RPUSH", "src", "a", "b", "c", "d");
    fx.take();
    expect(plain(await c.call("LMOVE", "src", "dst", "LEFT", "LEFT"))).toBe("a");
    expect(plain(await c.call("LMOVE", "src", "dst", "left", "right"))).toBe("b");
    expect(plain(await c.call("LMOVE", "src", "dst", "RIGHT", "LEFT"))).toBe("d");
    expect(plain(await c.call("RPOPLPUSH", "src", "dst"))).toBe("c");
    expect(await keyRowExists(name, "src")).toBe(false);
    expect(plain(await c.call("LRANGE", "dst", 0, -1))).toEqual(["c", "d", "a", "b"]);
    expect(plain(await c.call("LMOVE", "dst", "src", "RIGHT", "RIGHT"))).toBe("b");
    expect(fx.take()).toEqual([
      ["LMOVE", "src", "dst", "LEFT", "LEFT"],
      ["LMOVE", "src", "dst", "left", "right"],
      ["LMOVE", "src", "dst", "RIGHT", "LEFT"],
      ["RPOPLPUSH", "src", "dst"],
      ["LMOVE", "dst", "src", "RIGHT", "RIGHT"],
    ]);
    c.close();
  });

  it("rotates a list onto itself, including a one-element list", async () => {
    const { c } = await open();
    await c.call("RPUSH", "l", "a", "b", "c");
    expect(plain(await c.call("LMOVE", "l", "l", "LEFT", "RIGHT"))).toBe("a");
    expect(plain(await c.call("RPOPLPUSH", "l", "l"))).toBe("a");
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["a", "b", "c"]);
    expect(plain(await c.call("LMOVE", "l", "l", "RIGHT", "RIGHT"))).toBe("c");
    await c.call("RPUSH", "one", "x");
    expect(plain(await c.call("LMOVE", "one", "one", "LEFT", "LEFT"))).toBe("x");
    expect(plain(await c.call("LRANGE", "one", 0, -1))).toEqual(["x"]);
    c.close();
  });

  it("missing source answers null; type errors move nothing", async () => {
    const { c, fx } = await open();
    await c.call("SET", "s", "v");
    await c.call("RPUSH", "l", "a");
    fx.take();
    expect((await c.call("LMOVE", "nokey", "s", "LEFT", "LEFT")).type).toBe("null");
    expect((await c.call("RPOPLPUSH", "nokey", "l")).type).toBe("null");
    expect(plain(await c.call("LMOVE", "l", "s", "LEFT", "LEFT"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("RPOPLPUSH", "s", "l"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("LMOVE", "l", "x", "UP", "LEFT"))).toEqual(SYNTAX);
    expect(plain(await c.call("LMOVE", "nokey", "x", "LEFT", "DOWN"))).toEqual(SYNTAX);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["a"]);
    expect(fx.take()).toEqual([]);
    c.close();
  });
});

describe("LMPOP", () => {
  it("pops from the first non-empty list and propagates the single-key pop that happened", async () => {
    const { c, fx } = await open();
    await c.call("RPUSH", "b", "1", "2", "3");
    await c.call("RPUSH", "c", "x");
    fx.take();
    expect(plain(await c.call("LMPOP", 3, "a", "b", "c", "LEFT"))).toEqual(["b", ["1"]]);
    expect(plain(await c.call("LMPOP", 2, "b", "c", "RIGHT", "COUNT", 10))).toEqual(["b", ["3", "2"]]);
    expect(plain(await c.call("LMPOP", 2, "b", "c", "left", "count", 1))).toEqual(["c", ["x"]]);
    expect((await c.call("LMPOP", 2, "b", "c", "LEFT")).type).toBe("nullarray");
    expect(fx.take()).toEqual([
      ["LPOP", "b", "1"],
      ["RPOP", "b", "2"],
      ["LPOP", "c", "1"],
    ]);
    c.close();
  });

  it("argument errors and type errors in Redis's order", async () => {
    const { c } = await open();
    await c.call("SET", "s", "v");
    await c.call("RPUSH", "l", "a");
    const numkeys = { error: "ERR numkeys should be greater than 0" };
    const count = { error: "ERR count should be greater than 0" };
    expect(plain(await c.call("LMPOP", 0, "l", "LEFT"))).toEqual(numkeys);
    expect(plain(await c.call("LMPOP", -1, "l", "LEFT"))).toEqual(numkeys);
    expect(plain(await c.call("LMPOP", "x", "l", "LEFT"))).toEqual(numkeys);
    expect(plain(await c.call("LMPOP", 2, "l", "LEFT"))).toEqual(SYNTAX);
    expect(plain(await c.call("LMPOP", 1, "l", "MIDDLE"))).toEqual(SYNTAX);
    expect(plain(await c.call("LMPOP", 1, "l", "LEFT", "COUNT", 0))).toEqual(count);
    expect(plain(await c.call("LMPOP", 1, "l", "LEFT", "COUNT", "x"))).toEqual(count);
    expect(plain(await c.call("LMPOP", 1, "l", "LEFT", "COUNT", 1, "COUNT", 1))).toEqual(SYNTAX);
    expect(plain(await c.call("LMPOP", 1, "l", "LEFT", "COUNT"))).toEqual(SYNTAX);
    expect(plain(await c.call("LMPOP", 2, "s", "l", "LEFT"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("LMPOP", 2, "l", "s", "LEFT"))).toEqual(["l", ["a"]]);
    c.close();
  });
});

describe("element size limit", () => {
  it("refuses elements larger than LIST_ELEMENT_MAX before writing anything", async () => {
    const { name, c, fx } = await open();
    const big = "x".repeat(LIST_ELEMENT_MAX + 1);
    const max = "y".repeat(LIST_ELEMENT_MAX);
    expect(plain(await c.call("RPUSH", "l", "a", big))).toEqual(TOO_LARGE);
    expect(await keyRowExists(name, "l")).toBe(false);
    expect(plain(await c.call("RPUSH", "l", "a", max))).toBe(2);
    expect(plain(await c.call("LPUSH", "l", big))).toEqual(TOO_LARGE);
    expect(plain(await c.call("LSET", "l", 0, big))).toEqual(TOO_LARGE);
    expect(plain(await c.call("LINSERT", "l", "BEFORE", "a", big))).toEqual(TOO_LARGE);
    expect(plain(await c.call("LLEN", "l"))).toBe(2);
    expect(plain(await c.call("LINDEX", "l", 0))).toBe("a");
    expect(((await c.call("RPOP", "l")) as { value: Uint8Array }).value.length).toBe(LIST_ELEMENT_MAX);
    expect(fx.take().map((e) => e[0])).toEqual(["RPUSH", "RPOP"]);
    c.close();
  });
});

describe("positions", () => {
  it("pushes space positions LIST_STEP apart from both ends", async () => {
    const { name, c } = await open();
    await c.call("RPUSH", "l", "a", "b");
    await c.call("LPUSH", "l", "z");
    expect(await positions(name, "l")).toEqual([-LIST_STEP, 0, LIST_STEP]);
    c.close();
  });

  it("a list that drifted to the position limit is renumbered around 0, in order", async () => {
    const { name, c } = await open();
    await rpushMany(c, "l", range(600));
    // Shift every position close to the upper limit, as a long-lived queue would drift.
    await withServer(name, (server) => {
      const record = server.keyspace.find(0, encoder.encode("l"))!;
      const shift = LIST_POS_LIMIT - 600 * LIST_STEP;
      server.sql.run(`UPDATE list_items SET key_id = -key_id WHERE key_id = ?`, record.id);
      server.sql.run(`UPDATE list_items SET key_id = ?, pos = pos + ? WHERE key_id = ?`, record.id, shift, -record.id);
    });
    expect(Math.max(...(await positions(name, "l")))).toBe(LIST_POS_LIMIT - LIST_STEP);
    expect(plain(await c.call("RPUSH", "l", "new1", "new2"))).toBe(602);
    const pos = await positions(name, "l");
    expect(Math.max(...pos.map(Math.abs))).toBeLessThan(LIST_POS_LIMIT / 2);
    for (let i = 1; i < pos.length; i++) expect(pos[i] - pos[i - 1]).toBe(LIST_STEP);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual([...range(600), "new1", "new2"]);
    c.close();
  });
});

describe("cost structure", () => {
  /**
   * Runs `argv` on node `name` directly and returns how many SQL rows its
   * statements visited (Durable Object cursors' rowsRead): the engine's Sql
   * adapter is wrapped for the duration of the command.
   */
  async function rowsRead(name: string, argv: string[]): Promise<{ rows: number; reply: unknown }> {
    const stub = (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
    return runInDurableObject(stub, (instance: unknown, state) => {
      const server = (instance as { node: { server: Server } }).node.server;
      const sql = server.sql as unknown as Record<string, unknown>;
      const saved = { all: sql.all, one: sql.one, run: sql.run };
      let rows = 0;
      const exec = (query: string, params: unknown[]) => {
        const cursor = state.storage.sql.exec(query, ...(params as never[]));
        const out = cursor.toArray();
        rows += cursor.rowsRead;
        return { cursor, out };
      };
      sql.all = (query: string, ...params: unknown[]) => exec(query, params).out;
      sql.one = (query: string, ...params: unknown[]) => exec(query, params).out[0];
      sql.run = (query: string, ...params: unknown[]) => exec(query, params).cursor.rowsWritten;
      try {
        const client = server.createClient("test", "test");
        const reply = server.execute(client, argv.map((a) => encoder.encode(a))) as Reply;
        server.removeClient(client);
        return { rows, reply: plain(reply) };
      } finally {
        Object.assign(sql, saved);
      }
    });
  }

  it("end and near-end operations read a bounded number of rows whatever the length", async () => {
    const name = uniqueNode("listcost");
    const c = await NodeClient.node(name);
    await rpushMany(c, "small", range(20));
    await rpushMany(c, "large", range(5000));
    const ops: ((key: string) => string[])[] = [
      (k) => ["LPUSH", k, "h"],
      (k) => ["RPUSH", k, "t"],
      (k) => ["LINDEX", k, "3"],
      (k) => ["LINDEX", k, "-4"],
      (k) => ["LSET", k, "2", "v"],
      (k) => ["LSET", k, "-3", "v"],
      (k) => ["LRANGE", k, "0", "4"],
      (k) => ["LRANGE", k, "-5", "-1"],
      (k) => ["LPOP", k],
      (k) => ["RPOP", k, "2"],
      (k) => ["LMOVE", k, k, "LEFT", "RIGHT"],
      (k) => ["LINSERT", k, "AFTER", "e5", "i"], // e5 is near the head by now
      (k) => ["LLEN", k],
    ];
    for (const op of ops) {
      const small = await rowsRead(name, op("small"));
      const large = await rowsRead(name, op("large"));
      expect(large.rows, `${op("large").join(" ")} read ${large.rows} rows (small list: ${small.rows})`).toBeLessThanOrEqual(small.rows + 4);
      expect(large.rows).toBeLessThan(40);
    }
    c.close();
  });
});

describe("timeout parsing", () => {
  const parse = (s: string) => {
    try {
      return parseTimeout(encoder.encode(s));
    } catch (e) {
      return (e as Error).message;
    }
  };
  it("follows getTimeoutFromObjectOrReply on x86-64", () => {
    expect(parse("0")).toBe(0);
    expect(parse("1")).toBe(1000);
    expect(parse("0.1")).toBe(100);
    expect(parse("0.0001")).toBe(1);
    expect(parse("-0.0001")).toBe(0); // ceil(-0.1) is -0: waits forever, as on Redis
    expect(parse("1.5e1")).toBe(15000);
    expect(parse("0x10")).toBe(16000);
    expect(parse("-1")).toBe("ERR timeout is negative");
    expect(parse("inf")).toBe("ERR timeout is negative");
    expect(parse("1e20")).toBe("ERR timeout is negative");
    expect(parse("abc")).toBe("ERR timeout is not a float or out of range");
    expect(parse("nan")).toBe("ERR timeout is not a float or out of range");
    expect(parse(" 1")).toBe("ERR timeout is not a float or out of range");
    expect(parse("")).toBe("ERR timeout is not a float or out of range");
    expect(parse("1e12")).toBe(0); // beyond about 139 years: forever
  });
});

// ---- a model of Redis lists, and a randomized comparison ------------------------------------

type Model = Map<string, string[]>;

/** What Redis answers (as plain()), applying the command to the model. */
function modelRun(m: Model, argv: (string | number)[]): unknown {
  const [cmd, key] = [String(argv[0]), String(argv[1])];
  const list = m.get(key);
  const args = argv.slice(2).map(String);
  const norm = (start: number, end: number, len: number): [number, number] | null => {
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (start > end || start >= len) return null;
    return [start, Math.min(end, len - 1)];
  };
  const done = () => {
    if (list && list.length === 0) m.delete(key);
  };
  switch (cmd) {
    case "LPUSH":
    case "RPUSH": {
      const l = list ?? [];
      for (const v of args) cmd === "LPUSH" ? l.unshift(v) : l.push(v);
      m.set(key, l);
      return l.length;
    }
    case "LPOP":
    case "RPOP": {
      if (!list) return null;
      const n = args.length ? Number(args[0]) : 1;
      const out = cmd === "LPOP" ? list.splice(0, n) : list.splice(Math.max(0, list.length - n)).reverse();
      done();
      return args.length ? out : out[0];
    }
    case "LINDEX": {
      if (!list) return null;
      let i = Number(args[0]);
      if (i < 0) i += list.length;
      return i >= 0 && i < list.length ? list[i] : null;
    }
    case "LSET": {
      if (!list) return { error: "ERR no such key" };
      let i = Number(args[0]);
      if (i < 0) i += list.length;
      if (i < 0 || i >= list.length) return { error: "ERR index out of range" };
      list[i] = args[1];
      return "OK";
    }
    case "LRANGE": {
      if (!list) return [];
      const r = norm(Number(args[0]), Number(args[1]), list.length);
      return r ? list.slice(r[0], r[1] + 1) : [];
    }
    case "LTRIM": {
      if (!list) return "OK";
      const r = norm(Number(args[0]), Number(args[1]), list.length);
      m.set(key, r ? list.slice(r[0], r[1] + 1) : []);
      if (!r) m.delete(key);
      return "OK";
    }
    case "LINSERT": {
      if (!list) return 0;
      const i = list.indexOf(args[1]);
      if (i < 0) return -1;
      list.splice(args[0] === "BEFORE" ? i : i + 1, 0, args[2]);
      return list.length;
    }
    case "LREM": {
      if (!list) return 0;
      let n = Number(args[0]);
      const fromTail = n < 0;
      n = Math.abs(n);
      let removed = 0;
      const idx = list.map((_, i) => i);
      if (fromTail) idx.reverse();
      const drop = new Set<number>();
      for (const i of idx) {
        if (list[i] === args[1]) {
          drop.add(i);
          removed++;
          if (n && removed === n) break;
        }
      }
      m.set(key, list.filter((_, i) => !drop.has(i)));
      if (m.get(key)!.length === 0) m.delete(key);
      return removed;
    }
    case "LPOS": {
      let rank = 1, count = -1, maxlen = 0;
      for (let j = 1; j < args.length; j += 2) {
        if (args[j] === "RANK") rank = Number(args[j + 1]);
        if (args[j] === "COUNT") count = Number(args[j + 1]);
        if (args[j] === "MAXLEN") maxlen = Number(args[j + 1]);
      }
      if (!list) return count !== -1 ? [] : null;
      const backwards = rank < 0;
      rank = Math.abs(rank);
      const out: number[] = [];
      let matches = 0;
      let result: number | null = null;
      for (let index = 0; index < list.length && (maxlen === 0 || index < maxlen); index++) {
        const at = backwards ? list.length - 1 - index : index;
        if (list[at] !== args[0]) continue;
        matches++;
        if (matches >= rank) {
          if (count !== -1) {
            out.push(at);
            if (count && matches - rank + 1 >= count) break;
          } else {
            result = at;
            break;
          }
        }
      }
      return count !== -1 ? out : result;
    }
    case "LMOVE": {
      if (!list) return null;
      const [dstKey, from, to] = args;
      const v = from === "LEFT" ? list.shift()! : list.pop()!;
      const dst = m.get(dstKey) ?? (dstKey === key ? list : []);
      to === "LEFT" ? dst.unshift(v) : dst.push(v);
      m.set(dstKey, dst);
      if (list.length === 0 && dstKey !== key) m.delete(key);
      return v;
    }
    case "LLEN":
      return list ? list.length : 0;
  }
  throw new Error(`model: ${cmd}`);
}

describe("randomized workload against a model of Redis lists", () => {
  it("answers every command as the model does; the effects rebuild the same lists", async () => {
    const { c, fx } = await open("listrand");
    const m: Model = new Map();
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const keys = ["k1", "k2", "k3"];
    const value = () => "abcdef"[rnd(6)];
    const idx = () => rnd(14) - 7;
    const gen = (): (string | number)[] => {
      const k = keys[rnd(keys.length)];
      switch (rnd(13)) {
        case 0: return ["LPUSH", k, ...Array.from({ length: 1 + rnd(4) }, value)];
        case 1: return ["RPUSH", k, ...Array.from({ length: 1 + rnd(4) }, value)];
        case 2: return rnd(2) ? ["LPOP", k] : ["LPOP", k, 1 + rnd(3)];
        case 3: return rnd(2) ? ["RPOP", k] : ["RPOP", k, 1 + rnd(3)];
        case 4: return ["LINDEX", k, idx()];
        case 5: return ["LSET", k, idx(), value()];
        case 6: return ["LRANGE", k, idx(), idx()];
        case 7: return ["LTRIM", k, idx(), idx() + 6];
        case 8: return ["LINSERT", k, rnd(2) ? "BEFORE" : "AFTER", value(), value()];
        case 9: return ["LREM", k, rnd(5) - 2, value()];
        case 10: {
          const opts: (string | number)[] = [];
          if (rnd(2)) opts.push("RANK", rnd(2) ? 1 + rnd(3) : -(1 + rnd(3)));
          if (rnd(2)) opts.push("COUNT", rnd(3));
          if (rnd(2)) opts.push("MAXLEN", rnd(6));
          return ["LPOS", k, value(), ...opts];
        }
        case 11: return ["LMOVE", k, keys[rnd(keys.length)], rnd(2) ? "LEFT" : "RIGHT", rnd(2) ? "LEFT" : "RIGHT"];
        default: return ["LLEN", k];
      }
    };
    for (let i = 0; i < 600; i++) {
      const argv = gen();
      const expected = modelRun(m, argv);
      const actual = plain(await c.call(...argv));
      expect([i, argv, actual]).toEqual([i, argv, expected]);
    }
    for (const k of keys) expect(plain(await c.call("LRANGE", k, 0, -1))).toEqual(m.get(k) ?? []);

    const copy = uniqueNode("listreplay");
    await replay(copy, fx.takeRaw());
    const c2 = await NodeClient.node(copy);
    for (const k of keys) expect(plain(await c2.call("LRANGE", k, 0, -1))).toEqual(m.get(k) ?? []);
    c.close();
    c2.close();
  }, 60_000);
});

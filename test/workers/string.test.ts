/**
 * String commands inside workerd: replies and errors, replication effects
 * (the exact argv a replica applies, and that applying them rebuilds the same
 * data), and values up to proto-max-bulk-len stored in chunks.
 * Byte-for-byte comparison with redis-server is in test/e2e/string.diff.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/reply.ts";
import type { Effect } from "../../shared/engine/server.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withKeyspace, withServer } from "./effects.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;
const MAX = 16 * MiB; // proto-max-bulk-len default

const err = (message: string) => ({ error: message });
const SYNTAX = err("ERR syntax error");
const NOT_INT = err("ERR value is not an integer or out of range");
const NOT_FLOAT = err("ERR value is not a valid float");
const WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value");
const TOO_LONG = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

function bytesOf(reply: Reply): Uint8Array {
  if (reply.type !== "bulk") throw new Error(`expected a bulk reply, got ${JSON.stringify(plain(reply))}`);
  return reply.value;
}

/** Deterministic pseudo-random bytes (xorshift), so failures are reproducible. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Index of the first differing byte, or -1 when equal (a readable failure for megabyte values). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe("string commands: replies and errors", () => {
  it("GET / SET with every option and the invalid combinations", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    expect(plain(await c.call("GET", "k"))).toBe(null);
    expect(plain(await c.call("SET", "k", "v1"))).toBe("OK");
    expect(plain(await c.call("SET", "k", "v2", "NX"))).toBe(null);
    expect(plain(await c.call("SET", "k2", "v", "XX"))).toBe(null);
    expect(plain(await c.call("GET", "k2"))).toBe(null);
    expect(plain(await c.call("SET", "k", "v3", "xx"))).toBe("OK");
    expect(plain(await c.call("SET", "k", "v4", "GET"))).toBe("v3");
    expect(plain(await c.call("SET", "fresh", "v", "GET"))).toBe(null);
    expect(plain(await c.call("SET", "k", "v5", "NX", "GET"))).toBe("v4");
    expect(plain(await c.call("GET", "k"))).toBe("v4");
    expect(plain(await c.call("SET", "k", "v", "nx", "nx"))).toBe(null); // repeated NX is accepted
    for (const bad of [
      ["NX", "XX"], ["XX", "NX"], ["EX"], ["EX", "10", "PX", "10"], ["PX", "10", "EX", "10"],
      ["EX", "10", "EXAT", "10"], ["PXAT", "10", "EXAT", "10"], ["EX", "10", "KEEPTTL"], ["KEEPTTL", "PX", "10"],
      ["PERSIST"], ["FOO"], ["KEEPTTL", "PERSIST"],
    ]) {
      expect(plain(await c.call("SET", "k", "v", ...bad)), bad.join(" ")).toEqual(SYNTAX);
    }
    expect(plain(await c.call("SET", "k", "v", "EX", "0"))).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(plain(await c.call("SET", "k", "v", "PX", "-5"))).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(plain(await c.call("SET", "k", "v", "EXAT", "0"))).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(plain(await c.call("SET", "k", "v", "EX", "9223372036854775807"))).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(plain(await c.call("SET", "k", "v", "PX", "9223372036854775807"))).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(plain(await c.call("SET", "k", "v", "EX", "1.5"))).toEqual(NOT_INT);
    expect(plain(await c.call("GET", "k"))).toBe("v4"); // none of the failures wrote
    expect(plain(await c.call("SET", "k", "v", "EX", "10", "EX", "20"))).toBe("OK"); // the last EX wins
    await withKeyspace(name, (keys) => {
      const ttl = keys.find(0, encoder.encode("k"))!.expiresAt! - Date.now();
      expect(ttl).toBeGreaterThan(10_000);
      expect(ttl).toBeLessThanOrEqual(20_000);
    });
    // An absolute time in the past is accepted (Redis 7.0) and the key is gone at once.
    expect(plain(await c.call("SET", "gone", "v", "EXAT", "1"))).toBe("OK");
    expect(plain(await c.call("GET", "gone"))).toBe(null);
    c.close();
  });

  it("SETNX, SETEX, PSETEX, GETSET, GETDEL", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("SETNX", "n", "1"))).toBe(1);
    expect(plain(await c.call("SETNX", "n", "2"))).toBe(0);
    expect(plain(await c.call("GET", "n"))).toBe("1");
    expect(plain(await c.call("SETEX", "e", "100", "v"))).toBe("OK");
    expect(plain(await c.call("SETEX", "e", "0", "v"))).toEqual(err("ERR invalid expire time in 'setex' command"));
    expect(plain(await c.call("PSETEX", "e", "-1", "v"))).toEqual(err("ERR invalid expire time in 'psetex' command"));
    expect(plain(await c.call("SETEX", "e", "x", "v"))).toEqual(NOT_INT);
    expect(plain(await c.call("GETSET", "g", "a"))).toBe(null);
    expect(plain(await c.call("GETSET", "g", "b"))).toBe("a");
    expect(plain(await c.call("GETDEL", "g"))).toBe("b");
    expect(plain(await c.call("GETDEL", "g"))).toBe(null);
    c.close();
  });

  it("GETEX options and errors", async () => {
    const c = await NodeClient.node(uniqueNode());
    await c.call("SET", "k", "v");
    expect(plain(await c.call("GETEX", "k"))).toBe("v");
    expect(plain(await c.call("GETEX", "missing", "EX", "0"))).toBe(null); // the expiry is checked only for a live key
    expect(plain(await c.call("GETEX", "missing", "FOO"))).toEqual(SYNTAX); // but the syntax first
    expect(plain(await c.call("GETEX", "k", "EX", "0"))).toEqual(err("ERR invalid expire time in 'getex' command"));
    for (const bad of [["NX"], ["KEEPTTL"], ["GET"], ["EX"], ["EX", "1", "PX", "1"], ["PERSIST", "EX", "1"], ["EX", "1", "PERSIST"]]) {
      expect(plain(await c.call("GETEX", "k", ...bad)), bad.join(" ")).toEqual(SYNTAX);
    }
    expect(plain(await c.call("GETEX", "k", "PX", "50000"))).toBe("v");
    expect(plain(await c.call("GETEX", "k", "PERSIST"))).toBe("v");
    expect(plain(await c.call("GETEX", "k", "PXAT", "1"))).toBe("v");
    expect(plain(await c.call("GET", "k"))).toBe(null);
    c.close();
  });

  it("MGET, MSET, MSETNX", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("MSET", "a", "1", "b", "2", "a", "3"))).toBe("OK");
    expect(plain(await c.call("MGET", "a", "b", "c"))).toEqual(["3", "2", null]);
    expect(plain(await c.call("MSET", "a", "1", "b"))).toEqual(err("ERR wrong number of arguments for 'mset' command"));
    expect(plain(await c.call("MSETNX", "x", "1", "y"))).toEqual(err("ERR wrong number of arguments for 'msetnx' command"));
    expect(plain(await c.call("MSETNX", "x", "1", "a", "9"))).toBe(0);
    expect(plain(await c.call("MGET", "x", "a"))).toEqual([null, "3"]);
    expect(plain(await c.call("MSETNX", "x", "1", "y", "2"))).toBe(1);
    expect(plain(await c.call("MGET", "x", "y"))).toEqual(["1", "2"]);
    c.close();
  });

  it("INCR family: 64-bit range, overflow and parse errors", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("INCR", "i"))).toBe(1);
    expect(plain(await c.call("INCRBY", "i", "41"))).toBe(42);
    expect(plain(await c.call("DECRBY", "i", "50"))).toBe(-8);
    expect(plain(await c.call("DECR", "i"))).toBe(-9);
    await c.call("SET", "max", "9223372036854775806");
    expect(plain(await c.call("INCR", "max"))).toBe(9223372036854775807n);
    expect(plain(await c.call("INCR", "max"))).toEqual(err("ERR increment or decrement would overflow"));
    expect(plain(await c.call("GET", "max"))).toBe("9223372036854775807");
    await c.call("SET", "min", "-9223372036854775808");
    expect(plain(await c.call("DECR", "min"))).toEqual(err("ERR increment or decrement would overflow"));
    expect(plain(await c.call("DECRBY", "i", "-9223372036854775808"))).toEqual(err("ERR decrement would overflow"));
    expect(plain(await c.call("INCRBY", "i", "9223372036854775808"))).toEqual(NOT_INT);
    expect(plain(await c.call("INCRBY", "b", "9007199254740993"))).toBe(9007199254740993n);
    expect(plain(await c.call("INCR", "b"))).toBe(9007199254740994n);
    for (const bad of ["abc", " 1", "1 ", "01", "+1", "-0", "1.0", ""]) {
      await c.call("SET", "s", bad);
      expect(plain(await c.call("INCR", "s")), JSON.stringify(bad)).toEqual(NOT_INT);
      expect(plain(await c.call("INCRBY", "i", bad)), JSON.stringify(bad)).toEqual(NOT_INT);
    }
    c.close();
  });

  it("INCRBYFLOAT: long double arithmetic and formatting", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("INCRBYFLOAT", "f", "10.5"))).toBe("10.5");
    expect(plain(await c.call("INCRBYFLOAT", "f", "0.1"))).toBe("10.6");
    expect(plain(await c.call("INCRBYFLOAT", "f", "-5"))).toBe("5.6");
    // 5.6 is not exact in binary: Redis prints the long double sum with 17 decimals.
    expect(plain(await c.call("INCRBYFLOAT", "f", "1e3"))).toBe("1005.59999999999999998");
    expect(plain(await c.call("INCRBYFLOAT", "f", "5.0e3"))).toBe("6005.60000000000000009");
    await c.call("SET", "g", "3.0e3");
    expect(plain(await c.call("INCRBYFLOAT", "g", "2e-2"))).toBe("3000.02000000000000002");
    await c.call("SET", "z", "0.1");
    expect(plain(await c.call("INCRBYFLOAT", "z", "0.2"))).toBe("0.3");
    expect(plain(await c.call("INCRBYFLOAT", "z", "-0.3"))).toBe("0");
    expect(plain(await c.call("INCRBYFLOAT", "f", "inf"))).toEqual(err("ERR increment would produce NaN or Infinity"));
    expect(plain(await c.call("INCRBYFLOAT", "f", "1e5000"))).toEqual(NOT_FLOAT);
    expect(plain(await c.call("INCRBYFLOAT", "f", "abc"))).toEqual(NOT_FLOAT);
    expect(plain(await c.call("INCRBYFLOAT", "f", " 1"))).toEqual(NOT_FLOAT);
    await c.call("SET", "t", "text");
    expect(plain(await c.call("INCRBYFLOAT", "t", "1"))).toEqual(NOT_FLOAT);
    expect(plain(await c.call("GET", "f"))).toBe("6005.60000000000000009");
    c.close();
  });

  it("APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("APPEND", "a", "Hello"))).toBe(5);
    expect(plain(await c.call("APPEND", "a", " World"))).toBe(11);
    expect(plain(await c.call("STRLEN", "a"))).toBe(11);
    expect(plain(await c.call("STRLEN", "none"))).toBe(0);
    expect(plain(await c.call("GETRANGE", "a", "0", "4"))).toBe("Hello");
    expect(plain(await c.call("GETRANGE", "a", "-5", "-1"))).toBe("World");
    expect(plain(await c.call("GETRANGE", "a", "-1", "-5"))).toBe("");
    expect(plain(await c.call("GETRANGE", "a", "5", "100"))).toBe(" World");
    expect(plain(await c.call("GETRANGE", "a", "-100", "1"))).toBe("He");
    expect(plain(await c.call("GETRANGE", "a", "-9223372036854775807", "-9223372036854775808"))).toBe("");
    expect(plain(await c.call("GETRANGE", "none", "0", "-1"))).toBe("");
    expect(plain(await c.call("GETRANGE", "a", "x", "1"))).toEqual(NOT_INT);
    expect(plain(await c.call("SUBSTR", "a", "6", "-1"))).toBe("World");
    expect(plain(await c.call("SETRANGE", "a", "6", "Redis"))).toBe(11);
    expect(plain(await c.call("GET", "a"))).toBe("Hello Redis");
    expect(plain(await c.call("SETRANGE", "pad", "3", "x"))).toBe(4);
    expect(plain(await c.call("GET", "pad"))).toBe("\0\0\0x");
    expect(plain(await c.call("SETRANGE", "empty", "5", ""))).toBe(0);
    expect(plain(await c.call("GET", "empty"))).toBe(null);
    expect(plain(await c.call("SETRANGE", "a", "-1", "x"))).toEqual(err("ERR offset is out of range"));
    expect(plain(await c.call("SETRANGE", "a", String(MAX), "x"))).toEqual(TOO_LONG);
    expect(plain(await c.call("SETRANGE", "a", "9223372036854775807", "x"))).toEqual(TOO_LONG);
    c.close();
  });

  it("LCS: the examples of the Redis documentation", async () => {
    const c = await NodeClient.node(uniqueNode());
    await c.call("MSET", "key1", "ohmytext", "key2", "mynewtext");
    expect(plain(await c.call("LCS", "key1", "key2"))).toBe("mytext");
    expect(plain(await c.call("LCS", "key1", "key2", "LEN"))).toBe(6);
    // RESP2: the map is a flat array.
    expect(plain(await c.call("LCS", "key1", "key2", "IDX"))).toEqual([
      "matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]],
      "len", 6,
    ]);
    expect(plain(await c.call("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"))).toEqual([
      "matches", [[[4, 7], [5, 8], 4]],
      "len", 6,
    ]);
    // RESP3: a map.
    expect((await c.call("HELLO", "3")).type).toBe("map");
    const idx = await c.call("LCS", "key1", "key2", "IDX", "WITHMATCHLEN");
    expect(idx.type).toBe("map");
    expect(plain(idx)).toEqual([
      ["matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]]],
      ["len", 6],
    ]);
    expect(plain(await c.call("LCS", "key1", "key2", "LEN", "IDX"))).toEqual(
      err("ERR If you want both the length and indexes, please just use IDX."),
    );
    expect(plain(await c.call("LCS", "key1", "key2", "MINMATCHLEN"))).toEqual(SYNTAX);
    expect(plain(await c.call("LCS", "key1", "nokey"))).toBe("");
    c.close();
  });
});

// ---------------------------------------------------------------------------

describe("string commands: replication effects", () => {
  it("each write leaves the exact effect a replica applies, and replaying them rebuilds the same data", async () => {
    const name = uniqueNode("fx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    const ttlOf = (key: string) => withKeyspace(name, (keys) => keys.find(0, encoder.encode(key))?.expiresAt ?? null);

    /** Runs a command and returns its effects. */
    const run = async (...argv: string[]) => {
      const reply = await c.call(...argv);
      if (reply.type === "error") throw new Error(`${argv.join(" ")}: ${reply.value}`);
      return fx.take();
    };
    /** Runs a command with a relative TTL and checks the PXAT/PEXPIREAT it was rewritten to. */
    const runRelative = async (key: string, ttlMs: number, ...argv: string[]) => {
      const before = Date.now();
      const effects = await run(...argv);
      const after = Date.now();
      const at = await ttlOf(key);
      expect(at).not.toBe(null);
      expect(at!).toBeGreaterThanOrEqual(before + ttlMs);
      expect(at!).toBeLessThanOrEqual(after + ttlMs);
      return { effects, at: String(at) };
    };

    // SET and its options.
    expect(await run("SET", "s", "v")).toEqual([["SET", "s", "v"]]);
    {
      const { effects, at } = await runRelative("s", 100_000, "SET", "s", "v", "EX", "100");
      expect(effects).toEqual([["SET", "s", "v", "PXAT", at]]);
    }
    {
      const { effects, at } = await runRelative("s", 5_000, "SET", "s", "w", "px", "5000", "GET");
      expect(effects).toEqual([["SET", "s", "w", "PXAT", at]]);
    }
    expect(await run("SET", "s", "x", "EXAT", "4102444800")).toEqual([["SET", "s", "x", "PXAT", "4102444800000"]]);
    expect(await run("SET", "s", "y", "PXAT", "4102444800123")).toEqual([["SET", "s", "y", "PXAT", "4102444800123"]]);
    expect(await run("SET", "s", "z", "get", "KEEPTTL", "GET")).toEqual([["SET", "s", "z", "KEEPTTL"]]);
    expect(await ttlOf("s")).toBe(4102444800123);
    expect(await run("SET", "s", "z2", "XX", "KEEPTTL")).toEqual([["SET", "s", "z2", "XX", "KEEPTTL"]]);
    expect(await run("SET", "s", "nope", "NX")).toEqual([]);
    expect(await run("SET", "s", "nope", "NX", "GET")).toEqual([]);
    expect(await run("SET", "missing", "nope", "XX")).toEqual([]);
    expect(await run("SET", "s", "a")).toEqual([["SET", "s", "a"]]);
    expect(await ttlOf("s")).toBe(null);

    // SETNX, SETEX, PSETEX, GETSET, GETDEL.
    expect(await run("SETNX", "n", "1")).toEqual([["SETNX", "n", "1"]]);
    expect(await run("SETNX", "n", "2")).toEqual([]);
    {
      const { effects, at } = await runRelative("e", 100_000, "SETEX", "e", "100", "v");
      expect(effects).toEqual([["SET", "e", "v", "PXAT", at]]);
    }
    {
      const { effects, at } = await runRelative("p", 100_000, "PSETEX", "p", "100000", "v");
      expect(effects).toEqual([["SET", "p", "v", "PXAT", at]]);
    }
    expect(await run("GETSET", "e", "w")).toEqual([["SET", "e", "w"]]);
    expect(await ttlOf("e")).toBe(null);
    expect(await run("SET", "d", "v")).toEqual([["SET", "d", "v"]]);
    expect(await run("GETDEL", "d")).toEqual([["DEL", "d"]]);
    expect(await run("GETDEL", "d")).toEqual([]);

    // GETEX.
    expect(await run("GETEX", "p")).toEqual([]);
    {
      const { effects, at } = await runRelative("p", 200_000, "GETEX", "p", "EX", "200");
      expect(effects).toEqual([["PEXPIREAT", "p", at]]);
    }
    expect(await run("GETEX", "p", "EXAT", "4102444800")).toEqual([["PEXPIREAT", "p", "4102444800000"]]);
    expect(await run("GETEX", "p", "PERSIST")).toEqual([["PERSIST", "p"]]);
    expect(await run("GETEX", "p", "PERSIST")).toEqual([]);
    expect(await run("SET", "gx", "v")).toEqual([["SET", "gx", "v"]]);
    expect(await run("GETEX", "gx", "PXAT", "1")).toEqual([["DEL", "gx"]]);
    expect(await run("GETEX", "gx", "EX", "10")).toEqual([]);

    // MSET, MSETNX.
    expect(await run("MSET", "m1", "1", "m2", "2")).toEqual([["MSET", "m1", "1", "m2", "2"]]);
    expect(await run("MSETNX", "m2", "x", "m3", "y")).toEqual([]);
    expect(await run("MSETNX", "m3", "3", "m4", "4")).toEqual([["MSETNX", "m3", "3", "m4", "4"]]);

    // Counters: INCR & co. are deterministic as they are; INCRBYFLOAT becomes a SET of its result.
    expect(await run("INCR", "c")).toEqual([["INCR", "c"]]);
    expect(await run("INCRBY", "c", "10")).toEqual([["INCRBY", "c", "10"]]);
    expect(await run("DECR", "c")).toEqual([["DECR", "c"]]);
    expect(await run("DECRBY", "c", "3")).toEqual([["DECRBY", "c", "3"]]);
    expect(await run("SET", "fl", "0.1", "PXAT", "4102444800000")).toEqual([["SET", "fl", "0.1", "PXAT", "4102444800000"]]);
    expect(await run("INCRBYFLOAT", "fl", "0.2")).toEqual([["SET", "fl", "0.3", "KEEPTTL"]]);
    expect(await run("INCRBYFLOAT", "fl2", "3.0e3")).toEqual([["SET", "fl2", "3000", "KEEPTTL"]]);
    expect(await ttlOf("fl")).toBe(4102444800000);

    // APPEND, SETRANGE.
    expect(await run("APPEND", "ap", "Hello")).toEqual([["APPEND", "ap", "Hello"]]);
    expect(await run("APPEND", "ap", " World")).toEqual([["APPEND", "ap", " World"]]);
    expect(await run("SETRANGE", "ap", "6", "Redis")).toEqual([["SETRANGE", "ap", "6", "Redis"]]);
    expect(await run("SETRANGE", "ap", "3", "")).toEqual([]);
    expect(await run("SETRANGE", "sr", "4", "x")).toEqual([["SETRANGE", "sr", "4", "x"]]);

    // Failed commands leave nothing.
    expect((await c.call("INCR", "ap")).type).toBe("error");
    expect((await c.call("SET", "s", "v", "EX", "0")).type).toBe("error");
    expect(fx.take()).toEqual([]);
    c.close();

    // Replaying every effect on a fresh node gives the same values and TTLs.
    const keys = ["s", "missing", "n", "e", "p", "d", "gx", "m1", "m2", "m3", "m4", "c", "fl", "fl2", "ap", "sr"];
    const snapshot = (node: string) =>
      withKeyspace(node, (ks) =>
        keys.map((key) => {
          const record = ks.find(0, encoder.encode(key));
          if (!record || (record.expiresAt !== null && record.expiresAt <= Date.now())) return [key, null];
          return [key, new TextDecoder().decode(ks.readString(record)), record.expiresAt];
        }),
      );
    const replica = uniqueNode("fx-replica");
    (await NodeClient.node(replica)).close(); // creates the node
    const all: Effect[] = fx.effects;
    await replay(replica, all);
    const expected = await snapshot(name);
    expect(expected).toContainEqual(["fl", "0.3", 4102444800000]);
    expect(expected).toContainEqual(["ap", "Hello Redis", null]);
    expect(await snapshot(replica)).toEqual(expected);
  });

  it("a past absolute time is stored as given (Redis 7.0) and expires as a DEL; a write on an expired key is wrapped with its DEL", async () => {
    const name = uniqueNode("fx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    expect(plain(await c.call("SET", "past", "v", "EXAT", "1"))).toBe("OK");
    expect(fx.take()[0]).toEqual(["SET", "past", "v", "PXAT", "1000"]);
    expect(plain(await c.call("GET", "past"))).toBe(null);
    // The DEL comes from the lookup or from active expiry, whichever ran first: exactly once.
    expect(fx.effects.map((e) => e.argv.map((a) => new TextDecoder().decode(a)))).toEqual([
      ["SET", "past", "v", "PXAT", "1000"],
      ["DEL", "past"],
    ]);
    fx.take();

    // A key whose TTL has passed but that no alarm has removed yet: the write
    // that finds it expired propagates its DEL first, in one MULTI/EXEC. Set
    // up and run in one synchronous step, so active expiry cannot come between.
    const reply = await withServer(name, (server) => {
      server.keyspace.writeString(0, encoder.encode("stale"), encoder.encode("5"), Date.now() - 1);
      const client = server.createClient("127.0.0.1:1", "127.0.0.1:0");
      try {
        return server.execute(client, [encoder.encode("INCR"), encoder.encode("stale")]) as Reply; // INCR never blocks
      } finally {
        server.removeClient(client);
      }
    });
    expect(plain(reply)).toBe(1);
    expect(fx.take()).toEqual([["MULTI"], ["DEL", "stale"], ["INCR", "stale"], ["EXEC"]]);
    c.close();
  });
});

// ---------------------------------------------------------------------------

describe("string commands: values up to proto-max-bulk-len", () => {
  it("SETs and GETs a value of exactly proto-max-bulk-len, byte-exact, and edits it in place", { timeout: 120_000 }, async () => {
    const c = await NodeClient.node(uniqueNode("big"));
    const value = pattern(MAX, 7);
    expect(plain(await c.call("SET", "big", value))).toBe("OK");
    expect(plain(await c.call("STRLEN", "big"))).toBe(MAX);
    expect(firstDifference(bytesOf(await c.call("GET", "big")), value)).toBe(-1);

    // GETRANGE across chunk boundaries.
    const from = 3 * MiB - 10;
    expect(firstDifference(bytesOf(await c.call("GETRANGE", "big", from, from + MiB + 20)), value.subarray(from, from + MiB + 21))).toBe(-1);
    expect(firstDifference(bytesOf(await c.call("GETRANGE", "big", "-5", "-1")), value.subarray(MAX - 5))).toBe(-1);

    // SETRANGE inside a later chunk, and across a boundary.
    const patch = pattern(300, 11);
    expect(plain(await c.call("SETRANGE", "big", 10 * MiB + 100, patch))).toBe(MAX);
    value.set(patch, 10 * MiB + 100);
    expect(plain(await c.call("SETRANGE", "big", 12 * MiB - 150, patch))).toBe(MAX);
    value.set(patch, 12 * MiB - 150);
    expect(firstDifference(bytesOf(await c.call("GETRANGE", "big", 10 * MiB, 12 * MiB + 500)), value.subarray(10 * MiB, 12 * MiB + 501))).toBe(-1);

    // Growing past the limit is refused, and nothing is written.
    expect(plain(await c.call("APPEND", "big", "x"))).toEqual(TOO_LONG);
    expect(plain(await c.call("SETRANGE", "big", MAX - 1, "xy"))).toEqual(TOO_LONG);
    expect(plain(await c.call("STRLEN", "big"))).toBe(MAX);
    expect(firstDifference(bytesOf(await c.call("GET", "big")), value)).toBe(-1);
    c.close();
  });

  it("APPENDs across chunk boundaries, from inline to chunked", { timeout: 120_000 }, async () => {
    const c = await NodeClient.node(uniqueNode("big"));
    const head = pattern(MiB - 10, 3);
    const tail = pattern(2 * MiB + 123, 5);
    expect(plain(await c.call("SET", "a", head))).toBe("OK");
    expect(plain(await c.call("APPEND", "a", tail))).toBe(head.length + tail.length);
    const more = pattern(MiB + 7, 9);
    expect(plain(await c.call("APPEND", "a", more))).toBe(head.length + tail.length + more.length);
    const expected = new Uint8Array(head.length + tail.length + more.length);
    expected.set(head);
    expected.set(tail, head.length);
    expected.set(more, head.length + tail.length);
    expect(firstDifference(bytesOf(await c.call("GET", "a")), expected)).toBe(-1);
    expect(firstDifference(bytesOf(await c.call("GETRANGE", "a", MiB - 20, MiB + 20)), expected.subarray(MiB - 20, MiB + 21))).toBe(-1);

    // SETRANGE far past the end zero-fills the gap (several chunks of it).
    expect(plain(await c.call("SETRANGE", "gap", 5 * MiB + 3, "end"))).toBe(5 * MiB + 6);
    const gap = bytesOf(await c.call("GET", "gap"));
    expect(gap.length).toBe(5 * MiB + 6);
    expect(gap.subarray(0, 5 * MiB + 3).every((b) => b === 0)).toBe(true);
    expect(new TextDecoder().decode(gap.subarray(5 * MiB + 3))).toBe("end");
    // ...and an existing short value grows into chunks the same way.
    await c.call("SET", "short", "abc");
    expect(plain(await c.call("SETRANGE", "short", 2 * MiB, "z"))).toBe(2 * MiB + 1);
    expect(plain(await c.call("GETRANGE", "short", "0", "3"))).toBe("abc\0");
    expect(plain(await c.call("GETRANGE", "short", "-2", "-1"))).toBe("\0z");
    expect(plain(await c.call("SETRANGE", "exact", MAX - 1, "x"))).toBe(MAX);
    expect(plain(await c.call("SETRANGE", "over", MAX, "x"))).toEqual(TOO_LONG);
    expect(plain(await c.call("GET", "over"))).toBe(null);
    c.close();
  });

  it("refuses a bulk longer than proto-max-bulk-len at the protocol level, storing nothing", { timeout: 120_000 }, async () => {
    const name = uniqueNode("big");
    const c = await NodeClient.node(name);
    const header = encoder.encode(`*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$${MAX + 1}\r\n`);
    const frame = new Uint8Array(header.length + MAX + 1 + 2);
    frame.set(header);
    frame.fill(0x61, header.length, header.length + MAX + 1);
    frame.set(encoder.encode("\r\n"), header.length + MAX + 1);
    c.sendRaw(frame);
    expect(plain(await c.next())).toEqual(err("ERR Protocol error: invalid bulk length"));
    await c.closed;
    const d = await NodeClient.node(name);
    expect(plain(await d.call("GET", "huge"))).toBe(null);
    expect(plain(await d.call("STRLEN", "huge"))).toBe(0);
    d.close();
  });
});

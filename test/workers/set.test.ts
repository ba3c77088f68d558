import { describe, expect, it } from "vitest";
import { SET_ELEMENT_MAX, setEncoding } from "../../shared/commands/set.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withKeyspace, withServer } from "./effects.ts";

const WRONGTYPE = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
const TOO_LARGE = { error: "ERR element exceeds the maximum size a node stores in one row" };
const encoder = new TextEncoder();

async function open(prefix = "set") {
  const name = uniqueNode(prefix);
  const c = await NodeClient.node(name);
  const fx = await captureEffects(name);
  return { name, c, fx };
}

/** Whether the key has a row in the keyspace at all (an emptied set must not). */
async function keyRowExists(name: string, key: string, db = 0): Promise<boolean> {
  return withKeyspace(name, (keys) => keys.find(db, encoder.encode(key)) !== null);
}

const member = (i: number, prefix = "m") => `${prefix}${String(i).padStart(5, "0")}`;

/** SADD key with n members member(0..n-1), 500 per command. */
async function fill(c: NodeClient, key: string, n: number, name: (i: number) => string = (i) => member(i)): Promise<string[]> {
  const all: string[] = [];
  for (let start = 0; start < n; start += 500) {
    const argv = ["SADD", key];
    for (let i = start; i < Math.min(n, start + 500); i++) {
      argv.push(name(i));
      all.push(name(i));
    }
    await c.call(...argv);
  }
  return all;
}

async function members(c: NodeClient, key: string): Promise<string[]> {
  return (plain(await c.call("SMEMBERS", key)) as string[]).slice().sort();
}

const sorted = (xs: unknown) => (xs as string[]).slice().sort();

describe("SADD, SREM, SCARD, SISMEMBER, SMISMEMBER", () => {
  it("adds, counts, removes, deletes the emptied key, and propagates only changes, as called", async () => {
    const { name, c, fx } = await open();
    expect(plain(await c.call("SADD", "s", "a", "b", "a"))).toBe(2);
    expect(plain(await c.call("SADD", "s", "a", "b"))).toBe(0);
    expect(plain(await c.call("SADD", "s", "c"))).toBe(1);
    expect(plain(await c.call("SCARD", "s"))).toBe(3);
    expect(plain(await c.call("SISMEMBER", "s", "a"))).toBe(1);
    expect(plain(await c.call("SISMEMBER", "s", "zz"))).toBe(0);
    expect(plain(await c.call("SMISMEMBER", "s", "c", "zz", "a", "c"))).toEqual([1, 0, 1, 1]);
    expect(plain(await c.call("SMISMEMBER", "nokey", "a", "b"))).toEqual([0, 0]);
    expect(plain(await c.call("SREM", "s", "a", "zz", "a"))).toBe(1);
    expect(plain(await c.call("SREM", "s", "zz"))).toBe(0);
    expect(plain(await c.call("SREM", "nokey", "a"))).toBe(0);
    expect(await keyRowExists(name, "s")).toBe(true);
    expect(plain(await c.call("SREM", "s", "b", "c", "d"))).toBe(2);
    expect(await keyRowExists(name, "s")).toBe(false);
    expect(plain(await c.call("SCARD", "s"))).toBe(0);
    expect(fx.take()).toEqual([
      ["SADD", "s", "a", "b", "a"],
      ["SADD", "s", "c"],
      ["SREM", "s", "a", "zz", "a"],
      ["SREM", "s", "b", "c", "d"],
    ]);
    c.close();
  });

  it("adds and removes many members at once (more than one SQL batch)", async () => {
    const { c } = await open();
    const argv = ["SADD", "s"];
    for (let i = 0; i < 450; i++) argv.push(member(i % 300));
    expect(plain(await c.call(...argv))).toBe(300);
    expect(plain(await c.call("SCARD", "s"))).toBe(300);
    const probe = ["SMISMEMBER", "s"];
    for (let i = 0; i < 400; i++) probe.push(member(i));
    const found = plain(await c.call(...probe)) as number[];
    expect(found).toEqual(Array.from({ length: 400 }, (_, i) => (i < 300 ? 1 : 0)));
    const rem = ["SREM", "s"];
    for (let i = 0; i < 400; i += 2) rem.push(member(i));
    expect(plain(await c.call(...rem))).toBe(150);
    expect(plain(await c.call("SCARD", "s"))).toBe(150);
    expect(plain(await c.call("SISMEMBER", "s", member(1)))).toBe(1);
    expect(plain(await c.call("SISMEMBER", "s", member(2)))).toBe(0);
    c.close();
  });

  it("keeps binary members exactly, the empty member included", async () => {
    const { c } = await open();
    const bin = Uint8Array.from([0, 255, 13, 10, 0x80]);
    expect(plain(await c.call("SADD", "s", bin, "", "x"))).toBe(3);
    expect(plain(await c.call("SISMEMBER", "s", bin))).toBe(1);
    expect(plain(await c.call("SISMEMBER", "s", Uint8Array.from([0, 255, 13, 10])))).toBe(0);
    expect(plain(await c.call("SISMEMBER", "s", ""))).toBe(1);
    const reply = await c.call("SMEMBERS", "s");
    expect(reply.type).toBe("array");
    const got = reply.type === "array" ? reply.value.map((r) => (r.type === "bulk" ? [...r.value] : null)) : [];
    expect(got).toEqual([[], [0, 255, 13, 10, 0x80], [...encoder.encode("x")]]);
    c.close();
  });

  it("refuses members over 1 MiB before writing anything; lookups of them answer 0", async () => {
    const { name, c, fx } = await open();
    const over = "v".repeat(SET_ELEMENT_MAX + 1);
    const max = "w".repeat(SET_ELEMENT_MAX);
    expect(plain(await c.call("SADD", "s", "a", over))).toEqual(TOO_LARGE);
    expect(await keyRowExists(name, "s")).toBe(false);
    await c.call("SADD", "s", "a");
    fx.take();
    expect(plain(await c.call("SADD", "s", "b", over))).toEqual(TOO_LARGE);
    expect(plain(await c.call("SCARD", "s"))).toBe(1);
    expect(plain(await c.call("SISMEMBER", "s", over))).toBe(0);
    expect(plain(await c.call("SMISMEMBER", "s", over, "a"))).toEqual([0, 1]);
    expect(plain(await c.call("SREM", "s", over))).toBe(0);
    expect(plain(await c.call("SMOVE", "s", "t", over))).toBe(0);
    expect(fx.take()).toEqual([]);
    expect(plain(await c.call("SADD", "s", max))).toBe(1);
    expect(plain(await c.call("SISMEMBER", "s", max))).toBe(1);
    c.close();
  });

  it("WRONGTYPE on other types, nothing written", async () => {
    const { c, fx } = await open();
    await c.call("SET", "str", "x");
    await c.call("SADD", "s", "a");
    fx.take();
    for (const argv of [
      ["SADD", "str", "a"], ["SREM", "str", "a"], ["SCARD", "str"], ["SISMEMBER", "str", "a"],
      ["SMISMEMBER", "str", "a"], ["SMEMBERS", "str"], ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "2"],
      ["SPOP", "str"], ["SPOP", "str", "2"], ["SMOVE", "str", "s", "a"], ["SMOVE", "s", "str", "a"],
      ["SINTER", "s", "str"], ["SUNION", "s", "str"], ["SDIFF", "s", "str"], ["SINTERCARD", "2", "s", "str"],
      ["SINTERSTORE", "d", "s", "str"], ["SUNIONSTORE", "d", "s", "str"], ["SDIFFSTORE", "d", "s", "str"],
      ["SSCAN", "str", "0"],
    ]) {
      expect(plain(await c.call(...argv)), argv.join(" ")).toEqual(WRONGTYPE);
    }
    expect(plain(await c.call("GET", "s"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("SMEMBERS", "s"))).toEqual(["a"]);
    expect(fx.take()).toEqual([]);
    c.close();
  });
});

describe("SMEMBERS and OBJECT ENCODING", () => {
  it("returns an intset in numeric order and anything else in byte order, as a set in RESP3", async () => {
    const { c } = await open();
    await c.call("SADD", "ints", "10", "-5", "3", "100", "-9223372036854775808", "9223372036854775807", "0");
    expect(plain(await c.call("SMEMBERS", "ints"))).toEqual(
      ["-9223372036854775808", "-5", "0", "3", "10", "100", "9223372036854775807"],
    );
    await c.call("SADD", "mixed", "10", "9", "x");
    expect(plain(await c.call("SMEMBERS", "mixed"))).toEqual(["10", "9", "x"]);
    await c.call("HELLO", "3");
    const reply = await c.call("SMEMBERS", "ints");
    expect(reply.type).toBe("set");
    expect((await c.call("SMEMBERS", "nokey")).type).toBe("set");
    expect((await c.call("SINTER", "ints", "mixed")).type).toBe("set");
    expect((await c.call("SRANDMEMBER", "ints", "3")).type).toBe("array");
    c.close();
  });

  it("reads sets larger than one SQL page completely", async () => {
    const { c } = await open();
    const all = await fill(c, "big", 1300);
    expect(plain(await c.call("SMEMBERS", "big"))).toEqual(all);
    expect(plain(await c.call("SCARD", "big"))).toBe(1300);
    c.close();
  });

  it("setEncoding: intset for canonical integers up to set-max-intset-entries, else hashtable", async () => {
    const { name, c } = await open();
    const cases: [string, string[], "intset" | "hashtable"][] = [
      ["ints", ["0", "-1", "42", "9223372036854775807", "-9223372036854775808"], "intset"],
      ["lead0", ["1", "01"], "hashtable"],
      ["plus", ["+1"], "hashtable"],
      ["minus0", ["-0"], "hashtable"],
      ["space", [" 1"], "hashtable"],
      ["trail", ["1 "], "hashtable"],
      ["over", ["9223372036854775808"], "hashtable"],
      ["under", ["-9223372036854775809"], "hashtable"],
      ["float", ["1.0"], "hashtable"],
      ["exp", ["1e3"], "hashtable"],
      ["hex", ["0x10"], "hashtable"],
      ["empty", [""], "hashtable"],
      ["nul", ["1\u0000"], "hashtable"],
      ["word", ["abc"], "hashtable"],
      ["long", ["1".repeat(21)], "hashtable"],
    ];
    for (const [key, values] of cases) await c.call("SADD", key, ...values);
    await fill(c, "max", 512, (i) => String(i));
    await fill(c, "toomany", 513, (i) => String(i));
    const encodings = await withServer(name, (server) => {
      const of = (key: string) => setEncoding(server.keyspace.find(0, encoder.encode(key))!, server.config, server.sql);
      return [...cases.map(([key]) => of(key)), of("max"), of("toomany")];
    });
    expect(encodings).toEqual([...cases.map(([, , encoding]) => encoding), "intset", "hashtable"]);
    expect(plain(await c.call("OBJECT", "ENCODING", "ints"))).toBe("intset");
    expect(plain(await c.call("OBJECT", "ENCODING", "lead0"))).toBe("hashtable");
    expect(plain(await c.call("CONFIG", "SET", "set-max-intset-entries", "3"))).toBe("OK");
    expect(plain(await c.call("OBJECT", "ENCODING", "ints"))).toBe("hashtable");
    c.close();
  });
});

describe("SRANDMEMBER", () => {
  it("without count: one member; null on a missing key; no effect", async () => {
    const { c, fx } = await open();
    await c.call("SADD", "s", "a", "b", "c");
    fx.take();
    for (let i = 0; i < 20; i++) expect(["a", "b", "c"]).toContain(plain(await c.call("SRANDMEMBER", "s")));
    expect(plain(await c.call("SRANDMEMBER", "nokey"))).toBe(null);
    expect(plain(await c.call("SCARD", "s"))).toBe(3);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  for (const [label, size] of [["small", 40], ["large", 3000]] as const) {
    it(`positive count on a ${label} set: distinct members; the whole set when count >= size`, async () => {
      const { c } = await open();
      const all = await fill(c, "s", size);
      const set = new Set(all);
      for (const count of [1, 2, 7, Math.floor(size / 2), size - 1]) {
        const got = plain(await c.call("SRANDMEMBER", "s", count)) as string[];
        expect(got.length).toBe(count);
        expect(new Set(got).size).toBe(count);
        for (const m of got) expect(set.has(m)).toBe(true);
      }
      expect(sorted(plain(await c.call("SRANDMEMBER", "s", size)))).toEqual(all);
      expect(sorted(plain(await c.call("SRANDMEMBER", "s", size + 10)))).toEqual(all);
      expect(sorted(plain(await c.call("SRANDMEMBER", "s", "9223372036854775807")))).toEqual(all);
      c.close();
    });

    it(`negative count on a ${label} set: exactly that many members, repeats allowed`, async () => {
      const { c } = await open();
      const all = await fill(c, "s", size);
      const set = new Set(all);
      const got = plain(await c.call("SRANDMEMBER", "s", -(size * 2))) as string[];
      expect(got.length).toBe(size * 2);
      for (const m of got) expect(set.has(m)).toBe(true);
      // With twice as many picks as members, repeats are certain.
      expect(new Set(got).size).toBeLessThan(size * 2);
      c.close();
    });
  }

  it("a small set is sampled uniformly: every member shows up", async () => {
    const { c } = await open();
    await c.call("SADD", "s", "a", "b", "c", "d", "e", "f", "g", "h");
    const got = plain(await c.call("SRANDMEMBER", "s", -4000)) as string[];
    const counts = new Map<string, number>();
    for (const m of got) counts.set(m, (counts.get(m) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"]);
    // 500 expected each; 250 is more than 11 standard deviations away.
    for (const n of counts.values()) expect(n).toBeGreaterThan(250);
    c.close();
  });

  it("a large set is sampled by seeks that reach members all over it", { timeout: 60_000 }, async () => {
    const { c } = await open();
    await fill(c, "s", 5000);
    const got = plain(await c.call("SRANDMEMBER", "s", -5000)) as string[];
    const distinct = new Set(got);
    // Uniform picks give ~3160 distinct members (and rarely fewer than 3050);
    // the seek sampler is close to uniform on fixed-width counters.
    expect(distinct.size).toBeGreaterThan(2800);
    const counts = new Map<string, number>();
    for (const m of got) counts.set(m, (counts.get(m) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThan(20);
    const thousands = new Set(got.map((m) => m.slice(0, 3)));
    expect([...thousands].sort()).toEqual(["m00", "m01", "m02", "m03", "m04"]);
    // The smallest and largest members can be picked too.
    let sawFirst = false;
    let sawLast = false;
    for (let round = 0; round < 50 && !(sawFirst && sawLast); round++) {
      for (const m of plain(await c.call("SRANDMEMBER", "s", -2000)) as string[]) {
        if (m === member(0)) sawFirst = true;
        if (m === member(4999)) sawLast = true;
      }
    }
    expect(sawFirst && sawLast).toBe(true);
    c.close();
  });

  it("checks its arguments like Redis, and refuses a repeated-member reply too large to build", async () => {
    const { c } = await open();
    await c.call("SADD", "s", "a");
    expect(plain(await c.call("SRANDMEMBER", "s", "x"))).toEqual({ error: "ERR value is not an integer or out of range" });
    expect(plain(await c.call("SRANDMEMBER", "s", "1", "2"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await c.call("SRANDMEMBER", "s", "-9223372036854775808"))).toEqual({
      error: "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
    });
    expect(plain(await c.call("SRANDMEMBER", "s", "-3"))).toEqual(["a", "a", "a"]);
    expect(plain(await c.call("SRANDMEMBER", "s", "0"))).toEqual([]);
    expect(plain(await c.call("SRANDMEMBER", "nokey", "-5000000"))).toEqual([]);
    const many = plain(await c.call("SRANDMEMBER", "s", "-5000000")) as { error: string };
    expect(many.error).toMatch(/^ERR SRANDMEMBER reply too large/);
    // 70 picks of a 1 MiB member: past the 64 MiB reply limit.
    await c.call("SADD", "large", "x".repeat(SET_ELEMENT_MAX));
    const bytes = plain(await c.call("SRANDMEMBER", "large", "-70")) as { error: string };
    expect(bytes.error).toMatch(/^ERR SRANDMEMBER reply too large/);
    expect((plain(await c.call("SRANDMEMBER", "large", "-3")) as string[]).length).toBe(3);
    c.close();
  });
});

describe("SPOP", () => {
  it("without count: removes one member, propagated as SREM of it; the last one deletes the key", async () => {
    const { name, c, fx } = await open();
    await c.call("SADD", "s", "a", "b", "c");
    fx.take();
    const left = new Set(["a", "b", "c"]);
    for (let i = 0; i < 3; i++) {
      const popped = plain(await c.call("SPOP", "s")) as string;
      expect(left.has(popped)).toBe(true);
      left.delete(popped);
      expect(fx.take()).toEqual([["SREM", "s", popped]]);
      expect(await members(c, "s")).toEqual([...left].sort());
    }
    expect(await keyRowExists(name, "s")).toBe(false);
    expect(plain(await c.call("SPOP", "s"))).toBe(null);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("with a count below the size: distinct members, one SREM each inside MULTI/EXEC", async () => {
    const { c, fx } = await open();
    const all = await fill(c, "s", 50);
    fx.take();
    const popped = plain(await c.call("SPOP", "s", "20")) as string[];
    expect(popped.length).toBe(20);
    expect(new Set(popped).size).toBe(20);
    for (const m of popped) expect(all).toContain(m);
    expect(fx.take()).toEqual([["MULTI"], ...popped.map((m) => ["SREM", "s", m]), ["EXEC"]]);
    expect(plain(await c.call("SCARD", "s"))).toBe(30);
    expect(await members(c, "s")).toEqual(all.filter((m) => !popped.includes(m)));
    // A count of 1 is one effect, not wrapped.
    const [one] = plain(await c.call("SPOP", "s", "1")) as string[];
    expect(fx.take()).toEqual([["SREM", "s", one]]);
    c.close();
  });

  it("with a count covering the set: the whole set, the key deleted, propagated as DEL", async () => {
    const { name, c, fx } = await open();
    await c.call("SADD", "s", "3", "1", "2");
    await c.call("SADD", "t", "x", "y");
    fx.take();
    expect(plain(await c.call("SPOP", "s", "3"))).toEqual(["1", "2", "3"]);
    expect(await keyRowExists(name, "s")).toBe(false);
    expect(sorted(plain(await c.call("SPOP", "t", "9223372036854775807")))).toEqual(["x", "y"]);
    expect(fx.take()).toEqual([["DEL", "s"], ["DEL", "t"]]);
    expect(plain(await c.call("SPOP", "t", "3"))).toEqual([]);
    expect(plain(await c.call("SPOP", "t", "0"))).toEqual([]);
    expect(fx.take()).toEqual([]);
    c.close();
  });

  it("on a large set: pops distinct members spread over it, whatever the count", async () => {
    const { c, fx } = await open();
    const all = await fill(c, "s", 4000);
    fx.take();
    const a = plain(await c.call("SPOP", "s", "10")) as string[];
    const b = plain(await c.call("SPOP", "s", "2500")) as string[];
    const popped = [...a, ...b];
    expect(new Set(popped).size).toBe(2510);
    expect(plain(await c.call("SCARD", "s"))).toBe(1490);
    const effects = fx.take();
    expect(effects.filter((e) => e[0] === "SREM").map((e) => e[2]).sort()).toEqual(popped.slice().sort());
    const rest = await members(c, "s");
    expect(rest.length).toBe(1490);
    expect([...rest, ...popped].sort()).toEqual(all);
    c.close();
  });

  it("checks its arguments like Redis", async () => {
    const { c, fx } = await open();
    await c.call("SADD", "s", "a");
    fx.take();
    const POSITIVE = { error: "ERR value is out of range, must be positive" };
    expect(plain(await c.call("SPOP", "s", "-1"))).toEqual(POSITIVE);
    expect(plain(await c.call("SPOP", "s", "x"))).toEqual(POSITIVE);
    expect(plain(await c.call("SPOP", "nokey", "x"))).toEqual(POSITIVE);
    expect(plain(await c.call("SPOP", "s", "1", "2"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await c.call("SCARD", "s"))).toBe(1);
    expect(fx.take()).toEqual([]);
    c.close();
  });
});

describe("SMOVE", () => {
  it("moves a member, creating the destination and deleting an emptied source; propagated as called", async () => {
    const { name, c, fx } = await open();
    await c.call("SADD", "a", "x", "y");
    await c.call("SADD", "b", "y");
    fx.take();
    expect(plain(await c.call("SMOVE", "a", "b", "y"))).toBe(1);
    expect(await members(c, "a")).toEqual(["x"]);
    expect(await members(c, "b")).toEqual(["y"]);
    expect(plain(await c.call("SMOVE", "a", "c", "zz"))).toBe(0);
    expect(plain(await c.call("SMOVE", "a", "c", "x"))).toBe(1);
    expect(await keyRowExists(name, "a")).toBe(false);
    expect(await members(c, "c")).toEqual(["x"]);
    expect(plain(await c.call("SMOVE", "c", "c", "x"))).toBe(1);
    expect(plain(await c.call("SMOVE", "c", "c", "q"))).toBe(0);
    expect(plain(await c.call("SMOVE", "nokey", "c", "x"))).toBe(0);
    expect(fx.take()).toEqual([["SMOVE", "a", "b", "y"], ["SMOVE", "a", "c", "x"]]);
    await c.call("SET", "str", "v");
    expect(plain(await c.call("SMOVE", "nokey", "str", "x"))).toBe(0);
    expect(plain(await c.call("SMOVE", "c", "str", "x"))).toEqual(WRONGTYPE);
    expect(await members(c, "c")).toEqual(["x"]);
    c.close();
  });
});

describe("SINTER, SUNION, SDIFF and their STORE forms", () => {
  it("compute like sets over pages, with many sets (beyond the in-statement probes)", { timeout: 60_000 }, async () => {
    const { c } = await open();
    const n = 1500;
    const inA = (i: number) => i % 2 === 0;
    const inB = (i: number) => i % 3 === 0;
    await fill(c, "a", n, (i) => member(i * 2));
    await fill(c, "b", n, (i) => member(i * 3));
    const range = Array.from({ length: n * 3 }, (_, i) => i);
    const both = range.filter((i) => inA(i) && inB(i) && i < n * 2).map((i) => member(i));
    expect(sorted(plain(await c.call("SINTER", "a", "b")))).toEqual(both);
    expect(plain(await c.call("SINTERCARD", "2", "a", "b"))).toBe(both.length);
    expect(plain(await c.call("SINTERCARD", "2", "a", "b", "LIMIT", "7"))).toBe(7);
    const union = [...new Set([...range.filter((i) => inA(i) && i < n * 2), ...range.filter((i) => inB(i))])]
      .sort((x, y) => x - y).map((i) => member(i));
    expect(sorted(plain(await c.call("SUNION", "a", "b")))).toEqual(union);
    const diff = range.filter((i) => inA(i) && !inB(i) && i < n * 2).map((i) => member(i));
    expect(sorted(plain(await c.call("SDIFF", "a", "b")))).toEqual(diff);

    // 40 sets to intersect and 600 to subtract: past INLINE_ALL_MAX and INLINE_NONE_MAX.
    const keys: string[] = [];
    for (let k = 0; k < 40; k++) keys.push(`i${k}`);
    await c.pipeline(keys.map((key, k) => ["SADD", key, "common", "other", `only${k}`, ...(k === 39 ? [] : ["late"])]));
    expect(sorted(plain(await c.call("SINTER", ...keys)))).toEqual(["common", "other"]);
    expect(plain(await c.call("SINTERCARD", String(keys.length), ...keys))).toBe(2);
    expect(plain(await c.call("SINTERSTORE", "istore", ...keys))).toBe(2);
    expect(await members(c, "istore")).toEqual(["common", "other"]);
    const subtract: string[] = [];
    for (let k = 0; k < 600; k++) subtract.push(`d${k}`);
    await c.pipeline(subtract.map((key, k) => ["SADD", key, `x${k}`]));
    const base = Array.from({ length: 700 }, (_, k) => `x${k}`);
    await c.call("SADD", "base", ...base);
    expect(sorted(plain(await c.call("SDIFF", "base", ...subtract)))).toEqual(base.slice(600).sort());
    expect(plain(await c.call("SDIFFSTORE", "dstore", "base", ...subtract))).toBe(100);
    expect(await members(c, "dstore")).toEqual(base.slice(600).sort());
    expect(plain(await c.call("SUNIONSTORE", "ustore", ...subtract))).toBe(600);
    expect(sorted(plain(await c.call("SUNION", ...subtract)))).toEqual(base.slice(0, 600).sort());
    c.close();
  });

  it("STORE replaces a destination of any type, drops its TTL, deletes it on an empty result; effects as called", async () => {
    const { name, c, fx } = await open();
    await c.call("SADD", "a", "1", "2", "3");
    await c.call("SADD", "b", "2", "3", "4");
    await c.call("SET", "dst", "string", "EX", "100");
    fx.take();
    expect(plain(await c.call("SINTERSTORE", "dst", "a", "b"))).toBe(2);
    expect(plain(await c.call("TYPE", "dst"))).toBe("set");
    expect(plain(await c.call("TTL", "dst"))).toBe(-1);
    expect(await members(c, "dst")).toEqual(["2", "3"]);
    expect(plain(await c.call("SUNIONSTORE", "dst", "dst", "a", "b"))).toBe(4);
    expect(plain(await c.call("SMEMBERS", "dst"))).toEqual(["1", "2", "3", "4"]);
    expect(plain(await c.call("SDIFFSTORE", "dst", "dst", "a"))).toBe(1);
    expect(plain(await c.call("SMEMBERS", "dst"))).toEqual(["4"]);
    expect(plain(await c.call("SDIFFSTORE", "dst", "a", "a"))).toBe(0);
    expect(await keyRowExists(name, "dst")).toBe(false);
    // Nothing to delete and nothing stored: no change, no effect.
    expect(plain(await c.call("SINTERSTORE", "dst", "a", "nokey"))).toBe(0);
    expect(fx.take()).toEqual([
      ["SINTERSTORE", "dst", "a", "b"],
      ["SUNIONSTORE", "dst", "dst", "a", "b"],
      ["SDIFFSTORE", "dst", "dst", "a"],
      ["SDIFFSTORE", "dst", "a", "a"],
    ]);
    // Nothing is left behind in the build database.
    expect(await keyRowExists(name, "dst", -2)).toBe(false);
    expect(plain(await c.call("DBSIZE"))).toBe(2);
    c.close();
  });

  it("a STORE invalidates a WATCH on the destination; reading sources does not", async () => {
    const { name, c } = await open();
    const other = await NodeClient.node(name);
    await c.call("SADD", "a", "1");
    const watchedExec = async (writer: () => Promise<unknown>) => {
      await c.call("WATCH", "dst", "a");
      await writer();
      await c.call("MULTI");
      await c.call("SET", "x", "1");
      return plain(await c.call("EXEC"));
    };
    expect(await watchedExec(() => other.call("SUNIONSTORE", "dst", "a"))).toBe(null);
    expect(await watchedExec(() => other.call("SINTERSTORE", "dst", "a", "nokey"))).toBe(null);
    expect(await watchedExec(() => other.call("SINTER", "a", "dst"))).toEqual(["OK"]);
    other.close();
    c.close();
  });
});

describe("SSCAN", () => {
  it("answers an intset whole, in numeric order, with cursor 0", async () => {
    const { c } = await open();
    await c.call("SADD", "s", "10", "2", "-1", "33");
    expect(plain(await c.call("SSCAN", "s", "0", "COUNT", "1"))).toEqual(["0", ["-1", "2", "10", "33"]]);
    expect(plain(await c.call("SSCAN", "s", "12345", "MATCH", "*3*"))).toEqual(["0", ["33"]]);
    expect(plain(await c.call("SSCAN", "nokey", "0"))).toEqual(["0", []]);
    c.close();
  });

  it("iterates a large set in pages, every member exactly once", async () => {
    const { c } = await open();
    const all = await fill(c, "s", 2500);
    const seen: string[] = [];
    let cursor = "0";
    let calls = 0;
    do {
      const [next, page] = plain(await c.call("SSCAN", "s", cursor, "COUNT", "100")) as [string, string[]];
      expect(page.length).toBeLessThanOrEqual(100);
      seen.push(...page);
      cursor = next;
      calls++;
    } while (cursor !== "0" && calls < 1000);
    expect(cursor).toBe("0");
    expect(seen.sort()).toEqual(all);
    c.close();
  });

  it("never misses members that exist throughout, while others come and go", async () => {
    const { c } = await open();
    const all = await fill(c, "s", 1200);
    const seen = new Set<string>();
    let cursor = "0";
    let round = 0;
    do {
      const [next, page] = plain(await c.call("SSCAN", "s", cursor, "COUNT", "50")) as [string, string[]];
      for (const m of page) seen.add(m);
      cursor = next;
      await c.call("SADD", "s", member(round, "a"), member(round, "z"));
      await c.call("SREM", "s", member(round, "a"));
      round++;
    } while (cursor !== "0" && round < 1000);
    expect(cursor).toBe("0");
    for (const m of all) expect(seen.has(m)).toBe(true);
    c.close();
  });

  it("resumes an unknown cursor by position", async () => {
    const { c } = await open();
    const all = await fill(c, "s", 1100);
    // Tag 999999 was never issued: the cursor resumes after rank 1000.
    const cursor = String(999999 * 2 ** 32 + 1000);
    const [next, page] = plain(await c.call("SSCAN", "s", cursor, "COUNT", "500")) as [string, string[]];
    expect(next).toBe("0");
    expect(page).toEqual(all.slice(1000));
    c.close();
  });
});

describe("effects rebuild the same data", () => {
  it("replaying a random workload's effects on an empty node gives the same sets", { timeout: 60_000 }, async () => {
    const { name, c, fx } = await open();
    void name;
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const keys = ["k0", "k1", "k2", "k3"];
    const pick = () => keys[rand(keys.length)];
    const value = () => String(rand(40));
    await fill(c, "big", 1500);
    for (let step = 0; step < 300; step++) {
      switch (rand(10)) {
        case 0: await c.call("SADD", pick(), value(), value(), value()); break;
        case 1: await c.call("SREM", pick(), value(), value()); break;
        case 2: await c.call("SPOP", pick()); break;
        case 3: await c.call("SPOP", pick(), String(rand(5))); break;
        case 4: await c.call("SMOVE", pick(), pick(), value()); break;
        case 5: await c.call("SINTERSTORE", pick(), pick(), pick()); break;
        case 6: await c.call("SUNIONSTORE", pick(), pick(), pick()); break;
        case 7: await c.call("SDIFFSTORE", pick(), pick(), pick()); break;
        case 8: await c.call("SPOP", "big", String(rand(30))); break;
        default: await c.call("SADD", pick(), `w${rand(100)}`); break;
      }
    }
    const copy = uniqueNode("set-replay");
    await replay(copy, fx.takeRaw());
    const r = await NodeClient.node(copy);
    for (const key of [...keys, "big"]) {
      expect(await members(r, key), key).toEqual(await members(c, key));
    }
    expect(plain(await r.call("DBSIZE"))).toBe(plain(await c.call("DBSIZE")));
    r.close();
    c.close();
  });
});

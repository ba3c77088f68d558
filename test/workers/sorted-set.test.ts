/**
 * Sorted sets inside workerd (real Durable Object SQLite, real WebSockets):
 * replies, replication effects, blocking pops, element limits, OBJECT
 * ENCODING, storage invariants (empty sets deleted, -0 stored as 0), large
 * sets (both ends of rank operations, complete ZSCAN iteration, random picks),
 * and a random workload whose effect stream, replayed on an empty node,
 * rebuilds the same data.
 *
 * Byte-exact reply compatibility with Redis is checked by the differential
 * suite (test/e2e/sorted-set.diff.test.ts); these tests cover what only the
 * node itself can show.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/index.ts";
import { zsetEncoding, ZSET_ELEMENT_MAX } from "../../shared/commands/sorted-set.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withServer } from "./effects.ts";

const WRONGTYPE = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
const TOO_LARGE = { error: "ERR element exceeds the maximum size a node stores in one row" };
const stub = (name: string) => (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

async function open(prefix = "zset") {
  const name = uniqueNode(prefix);
  const c = await NodeClient.node(name);
  const fx = await captureEffects(name);
  const clients: NodeClient[] = [c];
  const client = async () => {
    const extra = await NodeClient.node(name);
    clients.push(extra);
    return extra;
  };
  const closeAll = () => clients.forEach((x) => x.close());
  return { name, c, fx, client, closeAll };
}

/** Whether the key has a row in the keyspace at all (an emptied set must not). */
function keyRowExists(name: string, key: string): Promise<boolean> {
  return withServer(name, (server) => server.keyspace.find(0, encoder.encode(key)) !== null);
}

/** Rows of zset_members for a key, straight from SQL. */
function storedRows(name: string, key: string): Promise<{ member: string; score: number }[]> {
  return withServer(name, (server) => {
    const record = server.keyspace.find(0, encoder.encode(key));
    if (!record) return [];
    return server.sql
      .all<{ member: ArrayBuffer; score: number }>(
        `SELECT member, score FROM zset_members WHERE key_id = ? ORDER BY score, member`, record.id,
      )
      .map((row) => ({ member: new TextDecoder().decode(row.member), score: row.score }));
  });
}

const memberName = (i: number) => `m${String(i).padStart(6, "0")}`;

/** ZADD key i m<i> for i in [0, n), in batches. */
async function fill(c: NodeClient, key: string, n: number): Promise<void> {
  for (let start = 0; start < n; start += 500) {
    const argv: (string | number)[] = ["ZADD", key];
    for (let i = start; i < Math.min(n, start + 500); i++) argv.push(i, memberName(i));
    await c.call(...argv);
  }
}

async function blockedClients(c: NodeClient): Promise<number> {
  const info = String(plain(await c.call("INFO", "clients")));
  const match = /blocked_clients:(\d+)/.exec(info);
  if (!match) throw new Error(`no blocked_clients in INFO: ${info}`);
  return Number(match[1]);
}

async function waitBlocked(c: NodeClient, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await blockedClients(c)) === n) return;
    await sleep(2);
  }
  throw new Error(`never saw ${n} blocked clients (now ${await blockedClients(c)})`);
}

function track(promise: Promise<Reply>): { readonly settled: boolean; readonly reply: Promise<Reply> } {
  let settled = false;
  const reply = promise.then((r) => {
    settled = true;
    return r;
  });
  return {
    get settled() {
      return settled;
    },
    reply,
  };
}

/** Runs the node's alarm whenever it is due, until `until()` holds (polling; no timing assertions). */
async function runDueAlarms(name: string, until: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !until(); i++) {
    const at = await runInDurableObject(stub(name), (_instance, state) => state.storage.getAlarm());
    if (at !== null && at <= Date.now()) await runDurableObjectAlarm(stub(name));
    else await sleep(at === null ? 5 : Math.min(20, Math.max(1, at - Date.now() + 1)));
  }
}

describe("ZADD, ZINCRBY, ZREM and their effects", () => {
  it("counts added and updated members and propagates ZADD as called", async () => {
    const { name, c, fx, closeAll } = await open();
    expect(plain(await c.call("ZADD", "z", 1, "a", 2, "b"))).toBe(2);
    expect(plain(await c.call("ZADD", "z", "CH", 5, "a", 2, "b", 3, "c"))).toBe(2);
    expect(plain(await c.call("ZADD", "z", "NX", 9, "a"))).toBe(0);
    expect(plain(await c.call("ZADD", "z", "GT", 1, "a"))).toBe(0);
    expect(plain(await c.call("ZRANGE", "z", 0, -1, "WITHSCORES"))).toEqual(["b", "2", "c", "3", "a", "5"]);
    expect(await storedRows(name, "z")).toEqual([
      { member: "b", score: 2 },
      { member: "c", score: 3 },
      { member: "a", score: 5 },
    ]);
    // Only calls that changed something are propagated.
    expect(fx.take()).toEqual([
      ["ZADD", "z", "1", "a", "2", "b"],
      ["ZADD", "z", "CH", "5", "a", "2", "b", "3", "c"],
    ]);
    closeAll();
  });

  it("ZINCRBY and ZADD INCR propagate the resulting score as ZADD", async () => {
    const { c, fx, closeAll } = await open();
    expect(plain(await c.call("ZINCRBY", "z", "1.1", "a"))).toBe("1.1000000000000001");
    expect(plain(await c.call("ZINCRBY", "z", "2", "a"))).toBe("3.1000000000000001");
    expect(plain(await c.call("ZADD", "z", "INCR", "-0.1", "a"))).toBe("3");
    expect(plain(await c.call("ZADD", "z", "XX", "INCR", "1", "nosuch"))).toBe(null);
    expect(plain(await c.call("ZINCRBY", "z", "0", "a"))).toBe("3"); // no change: not propagated
    expect(plain(await c.call("ZADD", "z", "GT", "INCR", "-1", "a"))).toBe(null);
    expect(plain(await c.call("ZINCRBY", "z", "inf", "b"))).toBe("inf");
    expect(plain(await c.call("ZINCRBY", "z", "-inf", "b"))).toEqual({ error: "ERR resulting score is not a number (NaN)" });
    expect(fx.take()).toEqual([
      ["ZADD", "z", "1.1000000000000001", "a"],
      ["ZADD", "z", "3.1000000000000001", "a"],
      ["ZADD", "z", "3", "a"],
      ["ZADD", "z", "inf", "b"],
    ]);
    closeAll();
  });

  it("stores -0 as 0, and a ZINCRBY by -0 of a new member answers -0", async () => {
    const { name, c, closeAll } = await open();
    expect(plain(await c.call("ZADD", "z", "-0", "a"))).toBe(1);
    expect(plain(await c.call("ZINCRBY", "z", "-0", "b"))).toBe("-0");
    expect(plain(await c.call("ZSCORE", "z", "a"))).toBe("0");
    expect(plain(await c.call("ZSCORE", "z", "b"))).toBe("0");
    const rows = await storedRows(name, "z");
    expect(rows.map((r) => Object.is(r.score, -0))).toEqual([false, false]);
    closeAll();
  });

  it("ZREM deletes the key with its last member and propagates only what it removed", async () => {
    const { name, c, fx, closeAll } = await open();
    await c.call("ZADD", "z", 1, "a", 2, "b");
    fx.take();
    expect(plain(await c.call("ZREM", "z", "nosuch"))).toBe(0);
    expect(plain(await c.call("ZREM", "z", "a", "a", "b", "c"))).toBe(2);
    expect(await keyRowExists(name, "z")).toBe(false);
    expect(await storedRows(name, "z")).toEqual([]);
    expect(plain(await c.call("TYPE", "z"))).toBe("none");
    expect(fx.take()).toEqual([["ZREM", "z", "a", "a", "b", "c"]]);
    closeAll();
  });

  it("refuses members larger than a row holds before writing anything", async () => {
    const { name, c, fx, closeAll } = await open();
    const big = "x".repeat(ZSET_ELEMENT_MAX + 1);
    expect(plain(await c.call("ZADD", "z", 1, "ok", 2, big))).toEqual(TOO_LARGE);
    expect(await keyRowExists(name, "z")).toBe(false);
    await c.call("ZADD", "z", 1, "a");
    fx.take();
    expect(plain(await c.call("ZINCRBY", "z", 1, big))).toEqual(TOO_LARGE);
    expect(plain(await c.call("ZCARD", "z"))).toBe(1);
    const atLimit = "y".repeat(ZSET_ELEMENT_MAX);
    expect(plain(await c.call("ZADD", "z", 5, atLimit))).toBe(1);
    expect(plain(await c.call("ZSCORE", "z", atLimit))).toBe("5");
    expect(fx.take()).toEqual([["ZADD", "z", "5", atLimit]]);
    closeAll();
  });

  it("type errors leave other types alone", async () => {
    const { c, closeAll } = await open();
    await c.call("SET", "s", "v");
    expect(plain(await c.call("ZADD", "s", 1, "a"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("ZRANGE", "s", 0, -1))).toEqual(WRONGTYPE);
    expect(plain(await c.call("ZUNIONSTORE", "d", 1, "s"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("GET", "s"))).toBe("v");
    closeAll();
  });
});

describe("pops and their effects", () => {
  it("ZPOPMIN/ZPOPMAX propagate as called; ZMPOP as the single-key pop with the count popped", async () => {
    const { name, c, fx, closeAll } = await open();
    await c.call("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e");
    fx.take();
    expect(plain(await c.call("ZPOPMIN", "z"))).toEqual(["a", "1"]);
    expect(plain(await c.call("ZPOPMAX", "z", 2))).toEqual(["e", "5", "d", "4"]);
    expect(plain(await c.call("ZPOPMIN", "z", 0))).toEqual([]);
    expect(plain(await c.call("ZMPOP", 2, "nokey", "z", "MAX", "COUNT", 10))).toEqual(["z", [["c", "3"], ["b", "2"]]]);
    expect(await keyRowExists(name, "z")).toBe(false);
    expect(plain(await c.call("ZMPOP", 1, "z", "MIN"))).toBe(null);
    expect(fx.take()).toEqual([
      ["ZPOPMIN", "z"],
      ["ZPOPMAX", "z", "2"],
      ["ZPOPMAX", "z", "2"],
    ]);
    closeAll();
  });

  it("RESP3 nests pairs for ZPOPMIN with a count and sends doubles", async () => {
    const { c, closeAll } = await open();
    await c.call("HELLO", "3");
    await c.call("ZADD", "z", 1.5, "a", 2, "b", 3, "c");
    expect(await c.call("ZPOPMIN", "z")).toEqual({
      type: "array",
      value: [{ type: "bulk", value: encoder.encode("a") }, { type: "double", value: 1.5 }],
    });
    expect(plain(await c.call("ZPOPMIN", "z", 1))).toEqual([["b", 2]]);
    expect(plain(await c.call("ZSCORE", "z", "c"))).toBe(3);
    closeAll();
  });

  it("blocking pops that find data answer at once with the non-blocking effect", async () => {
    const { c, fx, closeAll } = await open();
    await c.call("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d");
    fx.take();
    expect(plain(await c.call("BZPOPMIN", "nokey", "z", 0))).toEqual(["z", "a", "1"]);
    expect(plain(await c.call("BZPOPMAX", "z", 1))).toEqual(["z", "d", "4"]);
    expect(plain(await c.call("BZMPOP", 0, 1, "z", "MIN", "COUNT", 5))).toEqual(["z", [["b", "2"], ["c", "3"]]]);
    expect(fx.take()).toEqual([
      ["ZPOPMIN", "z"],
      ["ZPOPMAX", "z"],
      ["ZPOPMIN", "z", "2"],
    ]);
    closeAll();
  });

  it("a blocked BZPOPMIN is served by a later ZADD, in blocking order, with ZPOPMIN as its effect", async () => {
    const { c, fx, client, closeAll } = await open();
    const b1 = await client();
    const b2 = await client();
    const first = track(b1.call("BZPOPMIN", "z", 0));
    await waitBlocked(c, 1);
    const second = track(b2.call("BZPOPMAX", "other", "z", 0));
    await waitBlocked(c, 2);
    expect(first.settled || second.settled).toBe(false);
    expect(plain(await c.call("ZADD", "z", 1, "a", 2, "b", 3, "c"))).toBe(3);
    expect(plain(await first.reply)).toEqual(["z", "a", "1"]);
    expect(plain(await second.reply)).toEqual(["z", "c", "3"]);
    expect(plain(await c.call("ZRANGE", "z", 0, -1))).toEqual(["b"]);
    expect(fx.take()).toEqual([
      ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
      ["ZPOPMIN", "z"],
      ["ZPOPMAX", "z"],
    ]);
    closeAll();
  });

  it("one member wakes only the first blocked client; BZMPOP served later propagates its count", async () => {
    const { c, fx, client, closeAll } = await open();
    const b1 = await client();
    const b2 = await client();
    const first = track(b1.call("BZMPOP", 0, 2, "x", "y", "MAX", "COUNT", 3));
    await waitBlocked(c, 1);
    const second = track(b2.call("BZPOPMIN", "y", 0));
    await waitBlocked(c, 2);
    await c.call("ZADD", "y", 7, "only");
    expect(plain(await first.reply)).toEqual(["y", [["only", "7"]]]);
    expect(await blockedClients(c)).toBe(1);
    expect(second.settled).toBe(false);
    await c.call("ZADD", "y", 8, "next");
    expect(plain(await second.reply)).toEqual(["y", "next", "8"]);
    expect(fx.take()).toEqual([
      ["ZADD", "y", "7", "only"],
      ["ZPOPMAX", "y", "1"],
      ["ZADD", "y", "8", "next"],
      ["ZPOPMIN", "y"],
    ]);
    closeAll();
  });

  it("a key that becomes another type keeps the client blocked; a sorted set on another of its keys serves it", async () => {
    const { c, client, closeAll } = await open();
    const b = await client();
    const pending = track(b.call("BZPOPMIN", "k1", "k2", 0));
    await waitBlocked(c, 1);
    await c.call("SET", "k1", "string");
    await c.call("PING");
    expect(pending.settled).toBe(false);
    expect(await blockedClients(c)).toBe(1);
    await c.call("ZADD", "k2", 5, "m");
    expect(plain(await pending.reply)).toEqual(["k2", "m", "5"]);
    expect(plain(await c.call("GET", "k1"))).toBe("string");
    closeAll();
  });

  it("serves from the key that became ready, as Redis does", async () => {
    const { c, client, closeAll } = await open();
    const b = await client();
    const pending = track(b.call("BZPOPMIN", "k1", "k2", 0));
    await waitBlocked(c, 1);
    // Both keys get data in one transaction; k2 was modified first.
    await c.call("MULTI");
    await c.call("ZADD", "k2", 2, "from-k2");
    await c.call("ZADD", "k1", 1, "from-k1");
    await c.call("EXEC");
    expect(plain(await pending.reply)).toEqual(["k2", "from-k2", "2"]);
    closeAll();
  });

  it("times out through the alarm with a null array, and inside MULTI answers at once", async () => {
    const { name, c, client, fx, closeAll } = await open();
    const b = await client();
    const pending = track(b.call("BZPOPMIN", "z", "0.05"));
    await waitBlocked(c, 1);
    await runDueAlarms(name, () => pending.settled);
    expect(plain(await pending.reply)).toBe(null);
    expect((await pending.reply).type).toBe("nullarray");
    const mpop = track(b.call("BZMPOP", "0.02", 1, "z", "MIN"));
    await runDueAlarms(name, () => mpop.settled);
    expect((await mpop.reply).type).toBe("nullarray");
    expect(await blockedClients(c)).toBe(0);

    await c.call("MULTI");
    await c.call("BZPOPMIN", "z", 0);
    await c.call("BZMPOP", 0, 1, "z", "MAX");
    const exec = await c.call("EXEC");
    expect(exec).toEqual({ type: "array", value: [{ type: "nullarray" }, { type: "nullarray" }] });
    expect(fx.take()).toEqual([]);
    closeAll();
  });

  it("timeout and argument errors", async () => {
    const { c, closeAll } = await open();
    expect(plain(await c.call("BZPOPMIN", "z", "x"))).toEqual({ error: "ERR timeout is not a float or out of range" });
    expect(plain(await c.call("BZPOPMIN", "z", "-1"))).toEqual({ error: "ERR timeout is negative" });
    expect(plain(await c.call("BZPOPMIN", "z", "inf"))).toEqual({ error: "ERR timeout is negative" });
    expect(plain(await c.call("BZMPOP", 0, 0, "z", "MIN"))).toEqual({ error: "ERR numkeys should be greater than 0" });
    expect(plain(await c.call("BZMPOP", 0, 1, "z", "MIN", "COUNT", 0))).toEqual({ error: "ERR count should be greater than 0" });
    await c.call("SET", "s", "v");
    expect(plain(await c.call("BZPOPMIN", "nokey", "s", 0))).toEqual(WRONGTYPE);
    expect(await blockedClients(c)).toBe(0);
    closeAll();
  });
});

describe("stores and set operations", () => {
  it("Z*STORE and ZRANGESTORE replace the destination, drop its TTL, delete it on an empty result, and propagate as called", async () => {
    const { name, c, fx, closeAll } = await open();
    await c.call("ZADD", "a", 1, "x", 2, "y");
    await c.call("ZADD", "b", 10, "y", 20, "z");
    await c.call("SET", "d", "str", "EX", 100);
    fx.take();
    expect(plain(await c.call("ZUNIONSTORE", "d", 2, "a", "b", "WEIGHTS", 1, 2))).toBe(3);
    expect(plain(await c.call("TTL", "d"))).toBe(-1);
    expect(plain(await c.call("ZRANGE", "d", 0, -1, "WITHSCORES"))).toEqual(["x", "1", "y", "22", "z", "40"]);
    expect(plain(await c.call("ZINTERSTORE", "d", 2, "a", "nokey"))).toBe(0);
    expect(await keyRowExists(name, "d")).toBe(false);
    expect(plain(await c.call("ZINTERSTORE", "d", 2, "a", "nokey"))).toBe(0); // nothing to delete: no effect
    expect(plain(await c.call("ZRANGESTORE", "a", "a", 1, 1))).toBe(1); // destination = source
    expect(plain(await c.call("ZRANGE", "a", 0, -1, "WITHSCORES"))).toEqual(["y", "2"]);
    expect(plain(await c.call("ZDIFFSTORE", "b", 2, "b", "a"))).toBe(1);
    expect(plain(await c.call("ZRANGE", "b", 0, -1, "WITHSCORES"))).toEqual(["z", "20"]);
    expect(fx.take()).toEqual([
      ["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
      ["ZINTERSTORE", "d", "2", "a", "nokey"],
      ["ZRANGESTORE", "a", "a", "1", "1"],
      ["ZDIFFSTORE", "b", "2", "b", "a"],
    ]);
    // No scratch rows are left behind.
    const scratch = await withServer(name, (server) => server.sql.all(`SELECT 1 AS x FROM zset_members WHERE key_id < 0`).length);
    expect(scratch).toBe(0);
    closeAll();
  });

  it("plain sets are inputs with score 1", async () => {
    const { c, closeAll } = await open();
    await c.call("SADD", "s", "a", "b");
    await c.call("ZADD", "z", 5, "b", 6, "c");
    expect(plain(await c.call("ZUNION", 2, "s", "z", "WITHSCORES"))).toEqual(["a", "1", "b", "6", "c", "6"]);
    expect(plain(await c.call("ZINTER", 2, "s", "z", "AGGREGATE", "MIN", "WITHSCORES"))).toEqual(["b", "1"]);
    expect(plain(await c.call("ZDIFF", 2, "s", "z", "WITHSCORES"))).toEqual(["a", "1"]);
    expect(plain(await c.call("ZINTERCARD", 2, "s", "z"))).toBe(1);
    closeAll();
  });
});

describe("OBJECT ENCODING", () => {
  it("listpack while small and short, skiplist beyond zset-max-listpack-entries/-value", async () => {
    const { name, c, closeAll } = await open();
    await c.call("ZADD", "z", 1, "a");
    expect(plain(await c.call("OBJECT", "ENCODING", "z"))).toBe("listpack");
    await c.call("ZADD", "z", 2, "b".repeat(65));
    expect(plain(await c.call("OBJECT", "ENCODING", "z"))).toBe("skiplist");
    await c.call("CONFIG", "SET", "zset-max-listpack-value", "100");
    expect(plain(await c.call("OBJECT", "ENCODING", "z"))).toBe("listpack");
    await c.call("CONFIG", "SET", "zset-max-listpack-entries", "1");
    expect(plain(await c.call("OBJECT", "ENCODING", "z"))).toBe("skiplist");
    const direct = await withServer(name, (server) => {
      const record = server.keyspace.find(0, encoder.encode("z"))!;
      return zsetEncoding(record, server.config, server.sql);
    });
    expect(direct).toBe("skiplist");
    closeAll();
  });
});

describe("large sets", () => {
  it("ranks, ranges and removals at both ends of 5000 members", async () => {
    const { c, closeAll } = await open("zbig");
    await fill(c, "z", 5000);
    expect(plain(await c.call("ZCARD", "z"))).toBe(5000);
    expect(plain(await c.call("ZRANGE", "z", 0, 1))).toEqual([memberName(0), memberName(1)]);
    expect(plain(await c.call("ZRANGE", "z", -2, -1, "WITHSCORES"))).toEqual([memberName(4998), "4998", memberName(4999), "4999"]);
    expect(plain(await c.call("ZRANGE", "z", 0, 1, "REV"))).toEqual([memberName(4999), memberName(4998)]);
    expect(plain(await c.call("ZRANGE", "z", 4000, 4002))).toEqual([memberName(4000), memberName(4001), memberName(4002)]);
    expect(plain(await c.call("ZRANK", "z", memberName(3210)))).toBe(3210);
    expect(plain(await c.call("ZREVRANK", "z", memberName(3210)))).toBe(1789);
    expect(plain(await c.call("ZRANGE", "z", "(2500", "2503", "BYSCORE", "LIMIT", 1, 5))).toEqual([memberName(2502), memberName(2503)]);
    expect(plain(await c.call("ZCOUNT", "z", 100, "(200"))).toBe(100);
    expect(plain(await c.call("ZREMRANGEBYRANK", "z", 0, 9))).toBe(10);
    expect(plain(await c.call("ZREMRANGEBYRANK", "z", -10, -1))).toBe(10);
    expect(plain(await c.call("ZRANGE", "z", 0, 0))).toEqual([memberName(10)]);
    expect(plain(await c.call("ZRANGE", "z", -1, -1))).toEqual([memberName(4989)]);
    expect(plain(await c.call("ZCARD", "z"))).toBe(4980);
    const all = plain(await c.call("ZRANGE", "z", 0, -1)) as string[];
    expect(all.length).toBe(4980);
    expect(all[4979]).toBe(memberName(4989));
    closeAll();
  });

  it("ranks in the middle of 20,000 members go through counted blocks that stay exact under moves and removals", async () => {
    const { name, c, closeAll } = await open("zblocks");
    const n = 20_000;
    // Scores out of member order, so rank order differs from insertion order.
    const scoreOf = (i: number) => (i * 7919) % n;
    const model = new Map<string, number>();
    for (let start = 0; start < n; start += 1000) {
      const argv: (string | number)[] = ["ZADD", "z"];
      for (let i = start; i < start + 1000; i++) {
        argv.push(scoreOf(i), memberName(i));
        model.set(memberName(i), scoreOf(i));
      }
      await c.call(...argv);
    }
    const ordered = () => [...model].sort(([ma, sa], [mb, sb]) => sa - sb || (ma < mb ? -1 : 1)).map(([m]) => m);
    const check = async () => {
      const order = ordered();
      for (const rank of [0, 1500, 4321, 9999, 10_000, 12_345, order.length - 3000, order.length - 1]) {
        expect(plain(await c.call("ZRANK", "z", order[rank]))).toBe(rank);
        expect(plain(await c.call("ZREVRANK", "z", order[rank]))).toBe(order.length - 1 - rank);
        expect(plain(await c.call("ZRANGE", "z", rank, rank + 4))).toEqual(order.slice(rank, rank + 5));
        expect(plain(await c.call("ZRANGE", "z", rank, rank + 2, "REV"))).toEqual([...order].reverse().slice(rank, rank + 3));
      }
      // ZCOUNT on a large set subtracts the ranks of the range's ends.
      const scores = [...model.values()];
      for (const [low, high] of [[0, 97], [100, 5000], [7777, 7777], [19_000, 25_000]]) {
        expect(plain(await c.call("ZCOUNT", "z", low, high))).toBe(scores.filter((s) => s >= low && s <= high).length);
      }
      // Every block counts exactly the members between its boundary and the next one.
      const blocks = await withServer(name, (server) => {
        const id = server.keyspace.find(0, encoder.encode("z"))!.id;
        const rows = server.sql.all<{ score: number; member: ArrayBuffer; n: number }>(
          `SELECT score, member, n FROM zset_blocks WHERE key_id = ? ORDER BY score, member`, id,
        );
        return rows.map((b, i) => {
          const next = rows[i + 1];
          const counted = next
            ? server.sql.one<{ c: number }>(
              `SELECT COUNT(*) AS c FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?) AND (score, member) < (?, ?)`,
              id, b.score, new Uint8Array(b.member), next.score, new Uint8Array(next.member),
            )
            : server.sql.one<{ c: number }>(
              `SELECT COUNT(*) AS c FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?)`, id, b.score, new Uint8Array(b.member),
            );
          return { n: b.n, actual: counted!.c };
        });
      });
      expect(blocks.length).toBeGreaterThan(5);
      for (const b of blocks) expect(b.n).toBe(b.actual);
      expect(blocks.reduce((sum, b) => sum + b.n, 0)).toBe(order.length);
      // Ranks on either side of every block boundary.
      let upto = 0;
      for (const b of blocks.slice(0, -1)) {
        upto += b.n;
        expect(plain(await c.call("ZRANGE", "z", upto - 1, upto))).toEqual(order.slice(upto - 1, upto + 1));
        expect(plain(await c.call("ZRANGE", "z", upto, upto))).toEqual([order[upto]]);
        expect(plain(await c.call("ZRANK", "z", order[upto]))).toBe(upto);
      }
    };
    await check();
    // Move 2,000 members to new scores (across blocks), then remove ranges in the middle.
    for (let batch = 0; batch < 4; batch++) {
      const argv: (string | number)[] = ["ZADD", "z"];
      for (let i = 0; i < 500; i++) {
        const member = memberName((batch * 4099 + i * 37) % n);
        const score = (batch * 500 + i) % 97;
        argv.push(score, member);
        model.set(member, score);
      }
      await c.call(...argv);
    }
    await check();
    const order = ordered();
    expect(plain(await c.call("ZREMRANGEBYRANK", "z", 6000, 8999))).toBe(3000);
    for (const m of order.slice(6000, 9000)) model.delete(m);
    expect(plain(await c.call("ZREMRANGEBYSCORE", "z", 15000, "(15500"))).toBe(
      [...model.values()].filter((s) => s >= 15000 && s < 15500).length,
    );
    for (const [m, s] of [...model]) if (s >= 15000 && s < 15500) model.delete(m);
    expect(plain(await c.call("ZREM", "z", ...ordered().slice(3000, 3400)))).toBe(400);
    for (const m of ordered().slice(3000, 3400)) model.delete(m);
    await check();
    closeAll();
  });

  it("ZSCAN with cursors visits every member exactly once", async () => {
    const { c, closeAll } = await open("zscan");
    await fill(c, "z", 700);
    const seen = new Map<string, string>();
    let cursor = "0";
    let calls = 0;
    do {
      const [next, items] = plain(await c.call("ZSCAN", "z", cursor, "COUNT", 50)) as [string, string[]];
      for (let i = 0; i < items.length; i += 2) {
        expect(seen.has(items[i])).toBe(false);
        seen.set(items[i], items[i + 1]);
      }
      cursor = next;
      calls++;
    } while (cursor !== "0" && calls < 100);
    expect(cursor).toBe("0");
    expect(seen.size).toBe(700);
    expect(seen.get(memberName(123))).toBe("123");
    closeAll();
  });

  it("ZRANDMEMBER picks distinct members with a positive count and may repeat with a negative one", async () => {
    const { c, closeAll } = await open("zrand");
    await fill(c, "z", 300);
    const distinct = plain(await c.call("ZRANDMEMBER", "z", 100, "WITHSCORES")) as string[];
    expect(distinct.length).toBe(200);
    const members = distinct.filter((_, i) => i % 2 === 0);
    expect(new Set(members).size).toBe(100);
    for (let i = 0; i < distinct.length; i += 2) expect(distinct[i]).toBe(memberName(Number(distinct[i + 1])));
    const repeated = plain(await c.call("ZRANDMEMBER", "z", -1000)) as string[];
    expect(repeated.length).toBe(1000);
    expect(new Set(repeated).size).toBeLessThan(1000);
    expect(plain(await c.call("ZRANDMEMBER", "z", -2_000_000))).toEqual({
      error: "ERR ZRANDMEMBER reply too large (at most 1000000 members and 67108864 bytes)",
    });
    closeAll();
  });
});

describe("replication", () => {
  it("the effects of a random workload rebuild the same sorted sets on an empty node", async () => {
    const { name, c, fx, closeAll } = await open("zrep");
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const keys = ["a", "b", "c"];
    const members = ["m1", "m2", "m3", "m4", "m5", "m6", "x", "y", ""];
    const scores = ["1", "2.5", "-1", "0.1", "inf", "-inf", "1e10", "-0", "3"];
    const commands: (string | number)[][] = [];
    for (let i = 0; i < 400; i++) {
      const k = pick(keys);
      const r = rand();
      if (r < 0.3) commands.push(["ZADD", k, ...(rand() < 0.3 ? [pick(["NX", "XX", "GT", "LT", "CH"])] : []), pick(scores), pick(members), pick(scores), pick(members)]);
      else if (r < 0.4) commands.push(["ZINCRBY", k, pick(["1", "0.1", "-2", "0"]), pick(members)]);
      else if (r < 0.45) commands.push(["ZADD", k, "INCR", pick(scores), pick(members)]);
      else if (r < 0.5) commands.push(["ZREM", k, pick(members), pick(members)]);
      else if (r < 0.55) commands.push([pick(["ZPOPMIN", "ZPOPMAX"]), k, ...(rand() < 0.5 ? [String(1 + Math.floor(rand() * 3))] : [])]);
      else if (r < 0.6) commands.push(["ZMPOP", 2, k, pick(keys), pick(["MIN", "MAX"]), "COUNT", 2]);
      else if (r < 0.65) commands.push([pick(["BZPOPMIN", "BZPOPMAX"]), k, pick(keys), "0.01"]);
      else if (r < 0.7) commands.push(["BZMPOP", "0.01", 1, k, "MIN", "COUNT", 2]);
      else if (r < 0.75) commands.push(["ZREMRANGEBYRANK", k, pick(["0", "-1", "1"]), pick(["0", "-1", "2"])]);
      else if (r < 0.8) commands.push(["ZREMRANGEBYSCORE", k, pick(["-inf", "0", "(1"]), pick(["+inf", "2", "(3"])]);
      else if (r < 0.83) commands.push(["ZREMRANGEBYLEX", k, pick(["-", "[m2", "(m1"]), pick(["+", "[m4", "(x"])]);
      else if (r < 0.9) commands.push([pick(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), pick(keys), 2, pick(keys), pick(keys)]);
      else if (r < 0.95) commands.push(["ZRANGESTORE", pick(keys), k, pick(["0", "(1", "-inf"]), pick(["-1", "+inf", "3"]), ...(rand() < 0.5 ? [] : ["BYSCORE"])]);
      else commands.push(["ZADD", k, pick(scores), pick(members)]);
    }
    for (const argv of commands) {
      // Blocking pops on empty keys would wait for their timeout: inside MULTI they answer at once.
      if (String(argv[0]).startsWith("B")) {
        await c.call("MULTI");
        await c.call(...argv);
        await c.call("EXEC");
      } else {
        await c.call(...argv);
      }
    }
    const effects = fx.takeRaw();
    expect(effects.length).toBeGreaterThan(100);
    for (const effect of effects) {
      const cmd = new TextDecoder().decode(effect.argv[0]).toUpperCase();
      expect(["BZPOPMIN", "BZPOPMAX", "BZMPOP", "ZMPOP", "ZINCRBY"]).not.toContain(cmd);
    }
    const target = uniqueNode("zrep-target");
    const t = await NodeClient.node(target);
    await replay(target, effects);
    for (const key of keys) {
      expect(plain(await t.call("ZRANGE", key, 0, -1, "WITHSCORES"))).toEqual(plain(await c.call("ZRANGE", key, 0, -1, "WITHSCORES")));
    }
    expect(plain(await t.call("DBSIZE"))).toEqual(plain(await c.call("DBSIZE")));
    t.close();
    closeAll();
  }, 60_000);
});

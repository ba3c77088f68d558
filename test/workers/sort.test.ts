/**
 * SORT / SORT_RO inside workerd: sorting collections larger than one SQL page,
 * unsorted ranges (BY nosort LIMIT) of lists and sorted sets read across
 * pages, STORE, replication effects, and the memory limits.
 * Byte-for-byte comparison with redis-server is in test/e2e/sort.diff.test.ts.
 */
import { describe, expect, it } from "vitest";
import { sortLimits } from "../../shared/commands/sort.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withServer } from "./effects.ts";

const err = (message: string) => ({ error: message });

/** n deterministic pseudo-random integers in [-50000, 50000). */
function numbers(n: number, seed: number): number[] {
  const out: number[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push((x % 100000) - 50000);
  }
  return out;
}

async function push(c: NodeClient, command: string, key: string, values: (string | number)[]): Promise<void> {
  const commands: (string | number)[][] = [];
  for (let i = 0; i < values.length; i += 500) commands.push([command, key, ...values.slice(i, i + 500)]);
  const replies = await c.pipeline(commands);
  for (const r of replies) if (r.type === "error") throw new Error(r.value);
}

const byNumber = (a: string, b: string) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);

describe("SORT", () => {
  it("sorts lists and sets larger than one SQL page, numerically and ALPHA", { timeout: 60_000 }, async () => {
    const c = await NodeClient.node(uniqueNode("sort"));
    const values = numbers(3000, 7).map(String);
    await push(c, "RPUSH", "l", values);
    const sorted = [...values].sort(byNumber);
    expect(plain(await c.call("SORT", "l"))).toEqual(sorted);
    expect(plain(await c.call("SORT", "l", "DESC", "LIMIT", 100, 50))).toEqual([...sorted].reverse().slice(100, 150));
    expect(plain(await c.call("SORT_RO", "l", "ALPHA", "LIMIT", 2990, 100))).toEqual([...values].sort().slice(2990));

    const unique = [...new Set(values)];
    await push(c, "SADD", "s", unique);
    expect(plain(await c.call("SORT", "s"))).toEqual([...unique].sort(byNumber));
    // A set's unsorted STORE is sorted ALPHA so that the stored list is deterministic.
    expect(plain(await c.call("SORT", "s", "BY", "nosort", "STORE", "d"))).toBe(unique.length);
    expect(plain(await c.call("LRANGE", "d", 0, -1))).toEqual([...unique].sort());
    c.close();
  });

  it("reads unsorted ranges of lists and sorted sets across pages, in both directions", { timeout: 60_000 }, async () => {
    const c = await NodeClient.node(uniqueNode("sort"));
    const values = numbers(2000, 3).map(String);
    await push(c, "RPUSH", "l", values);
    expect(plain(await c.call("SORT", "l", "BY", "nosort", "LIMIT", 700, 1000))).toEqual(values.slice(700, 1700));
    expect(plain(await c.call("SORT", "l", "BY", "nosort", "DESC", "LIMIT", 700, 1000))).toEqual(
      [...values].reverse().slice(700, 1700),
    );
    expect(plain(await c.call("SORT", "l", "BY", "nosort"))).toEqual(values);

    // Many equal scores, so pages end in the middle of ties: order is (score, member).
    const members: (string | number)[] = [];
    const entries: [number, string][] = [];
    for (let i = 0; i < 1500; i++) {
      const score = i % 3;
      const member = `m${String(i).padStart(4, "0")}`;
      members.push(score, member);
      entries.push([score, member]);
    }
    await push(c, "ZADD", "z", members);
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    const inOrder = entries.map(([, m]) => m);
    expect(plain(await c.call("SORT", "z", "BY", "nosort"))).toEqual(inOrder);
    expect(plain(await c.call("SORT", "z", "BY", "nosort", "DESC"))).toEqual([...inOrder].reverse());
    expect(plain(await c.call("SORT", "z", "BY", "nosort", "LIMIT", 499, 600))).toEqual(inOrder.slice(499, 1099));
    expect(plain(await c.call("SORT", "z", "BY", "nosort", "DESC", "LIMIT", 499, 600))).toEqual(
      [...inOrder].reverse().slice(499, 1099),
    );
    expect(plain(await c.call("SORT", "z", "ALPHA", "DESC", "LIMIT", 0, 3))).toEqual(["m1499", "m1498", "m1497"]);
    c.close();
  });

  it("BY and GET read strings and hash fields", async () => {
    const c = await NodeClient.node(uniqueNode("sort"));
    await c.call("RPUSH", "ids", "1", "2", "3");
    await c.call("MSET", "w:1", "3", "w:2", "1", "w:3", "2");
    await c.call("HSET", "u:1", "name", "ann");
    await c.call("HSET", "u:3", "name", "cy");
    expect(plain(await c.call("SORT", "ids", "BY", "w:*", "GET", "#", "GET", "u:*->name", "GET", "w:*"))).toEqual([
      "2", null, "1", "3", "cy", "2", "1", "ann", "3",
    ]);
    expect(plain(await c.call("SORT", "ids", "BY", "u:*->name", "ALPHA", "DESC"))).toEqual(["3", "1", "2"]);
    await c.call("SET", "w:2", "heavy");
    expect(plain(await c.call("SORT", "ids", "BY", "w:*"))).toEqual(err("ERR One or more scores can't be converted into double"));
    c.close();
  });

  it("effects: SORT ... STORE as called when it changed the destination; replay rebuilds it", async () => {
    const name = uniqueNode("sortfx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    await c.call("RPUSH", "l", "3", "1", "2");
    await c.call("SADD", "s", "b", "a");
    fx.take();
    const run = async (...argv: (string | number)[]) => {
      await c.call(...argv);
      return fx.take();
    };
    expect(await run("SORT", "l")).toEqual([]);
    expect(await run("SORT_RO", "l", "DESC")).toEqual([]);
    expect(await run("SORT", "l", "STORE", "d")).toEqual([["SORT", "l", "STORE", "d"]]);
    expect(await run("SORT", "s", "BY", "nosort", "STORE", "d2")).toEqual([["SORT", "s", "BY", "nosort", "STORE", "d2"]]);
    expect(await run("SORT", "l", "LIMIT", 0, 0, "STORE", "d")).toEqual([["SORT", "l", "LIMIT", "0", "0", "STORE", "d"]]);
    expect(plain(await c.call("EXISTS", "d"))).toBe(0);
    expect(await run("SORT", "l", "LIMIT", 0, 0, "STORE", "d")).toEqual([]); // nothing to delete
    expect(await run("SORT", "nokey", "STORE", "d")).toEqual([]);
    expect(await run("SORT", "l", "FOO", "STORE", "d")).toEqual([]);
    expect(await run("SORT", "l", "DESC", "STORE", "d")).toEqual([["SORT", "l", "DESC", "STORE", "d"]]);

    const copy = uniqueNode("sortfx-copy");
    await replay(copy, fx.effects);
    const r = await NodeClient.node(copy);
    expect(plain(await r.call("LRANGE", "d", 0, -1))).toEqual(["3", "2", "1"]);
    expect(plain(await r.call("LRANGE", "d2", 0, -1))).toEqual(["a", "b"]);
    r.close();
    c.close();
  });

  it("refuses to hold more than its limits in memory, with a clear error", async () => {
    const name = uniqueNode("sortcap");
    const c = await NodeClient.node(name);
    await c.call("RPUSH", "l", ...numbers(50, 1).map(String));
    await c.call("RPUSH", "l2", "1", "2", "3", "4", "5");
    for (let i = 1; i <= 5; i++) await c.call("SET", `big${i}`, "x".repeat(1000));
    const saved = { ...sortLimits };
    try {
      await withServer(name, () => {
        sortLimits.maxElements = 20;
        sortLimits.maxBytes = 4000;
      });
      const tooMany = plain(await c.call("SORT", "l")) as { error: string };
      expect(tooMany.error).toMatch(/^ERR SORT can hold at most 20 elements in memory/);
      expect(plain(await c.call("SORT", "l", "BY", "nosort", "LIMIT", 0, 100))).toEqual(tooMany);
      // A range within the limit is fine.
      expect((plain(await c.call("SORT", "l", "BY", "nosort", "LIMIT", 10, 20)) as unknown[]).length).toBe(20);
      const tooLarge = plain(await c.call("SORT", "l2", "GET", "big*")) as { error: string };
      expect(tooLarge.error).toMatch(/^ERR SORT can hold at most 4000 bytes in memory/);
      expect(plain(await c.call("SORT", "l2", "GET", "big*", "STORE", "dst"))).toEqual(tooLarge);
      expect((plain(await c.call("SORT", "l2", "LIMIT", 0, 3, "GET", "big*")) as unknown[]).length).toBe(3);
      expect(plain(await c.call("EXISTS", "dst"))).toBe(0);
    } finally {
      await withServer(name, () => Object.assign(sortLimits, saved));
    }
    c.close();
  });
});

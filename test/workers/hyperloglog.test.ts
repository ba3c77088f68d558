/**
 * HyperLogLog inside workerd: the hash against a BigInt reference, accuracy
 * (100k distinct elements within 2%, well above the 0.81% standard error's
 * needs), sparse/dense agreement, union counts, replication effects, and the
 * PFCOUNT cache.
 * Byte-for-byte comparison with redis-server is in test/e2e/hyperloglog.diff.test.ts.
 */
import { describe, expect, it } from "vitest";
import { HLL_DENSE, HLL_SPARSE, HyperLogLog, murmurHash64A } from "../../shared/util/hyperloglog.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay } from "./effects.ts";

const encoder = new TextEncoder();
const err = (message: string) => ({ error: message });
const NOT_HLL = err("WRONGTYPE Key is not a valid HyperLogLog string value.");

/** MurmurHash64A written directly from Redis's C, on BigInt. */
function referenceHash(key: Uint8Array, seed: bigint): bigint {
  const m = 0xc6a4a7935bd1e995n;
  const mask = (1n << 64n) - 1n;
  const len = key.length;
  let h = (seed ^ (BigInt(len) * m)) & mask;
  const blocks = len - (len & 7);
  for (let i = 0; i < blocks; i += 8) {
    let k = 0n;
    for (let b = 7; b >= 0; b--) k = (k << 8n) | BigInt(key[i + b]);
    k = (k * m) & mask;
    k ^= k >> 47n;
    k = (k * m) & mask;
    h ^= k;
    h = (h * m) & mask;
  }
  const rest = len & 7;
  if (rest) {
    for (let b = rest - 1; b >= 0; b--) h ^= BigInt(key[blocks + b]) << BigInt(8 * b);
    h = (h * m) & mask;
  }
  h ^= h >> 47n;
  h = (h * m) & mask;
  h ^= h >> 47n;
  return h;
}

describe("HyperLogLog algorithm", () => {
  it("MurmurHash64A on 32-bit halves equals the 64-bit reference", () => {
    let x = 99;
    for (let t = 0; t < 3000; t++) {
      const len = t % 41;
      const key = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        key[i] = x >>> 24;
      }
      const [hi, lo] = murmurHash64A(key, 0xadc83b19);
      expect((BigInt(hi) << 32n) | BigInt(lo)).toBe(referenceHash(key, 0xadc83b19n));
    }
  });

  it("estimates 100k distinct elements within 2%, and sparse and dense agree", () => {
    for (const prefix of ["a", "user:", "x-"]) {
      const sparse = HyperLogLog.empty();
      const dense = HyperLogLog.empty();
      expect(dense.toDense()).toBe(true);
      let checkpoint = 10;
      for (let i = 1; i <= 100_000; i++) {
        const element = encoder.encode(`${prefix}${i}`);
        sparse.add(element, 3000);
        dense.add(element, 3000);
        if (i === checkpoint) {
          expect(sparse.count()).toBe(dense.count());
          if (i <= 100) expect(Math.abs(sparse.count()! - i)).toBeLessThanOrEqual(1);
          checkpoint *= 10;
        }
      }
      expect(sparse.encoding).toBe(HLL_DENSE);
      const estimate = dense.count()!;
      expect(Math.abs(estimate - 100_000) / 100_000).toBeLessThan(0.02);
      // Adding the same elements again changes nothing.
      expect(dense.add(encoder.encode(`${prefix}1`), 3000)).toBe(0);
    }
  });

  it("stays sparse while small, and reports a corrupt sparse form", () => {
    const h = HyperLogLog.empty();
    for (let i = 0; i < 100; i++) h.add(encoder.encode(`e${i}`), 3000);
    expect(h.encoding).toBe(HLL_SPARSE);
    expect(h.bytes().length).toBeLessThan(400);
    const corrupt = new Uint8Array([...encoder.encode("HYLL"), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x7f, 0xfe]);
    expect(HyperLogLog.isValid(corrupt, corrupt.length)).toBe(true);
    expect(HyperLogLog.of(corrupt).count()).toBe(null);
    expect(HyperLogLog.isValid(corrupt.subarray(0, 15), 15)).toBe(false);
  });
});

describe("HyperLogLog commands", () => {
  it("counts 100k distinct elements within 2% through PFADD/PFCOUNT, and unions with PFCOUNT and PFMERGE", { timeout: 120_000 }, async () => {
    const c = await NodeClient.node(uniqueNode("hll"));
    const batches: (string | number)[][] = [];
    for (let start = 0; start < 100_000; start += 1000) {
      const a = ["PFADD", "a"];
      const b = ["PFADD", "b"];
      for (let i = start; i < start + 1000; i++) {
        a.push(`el:${i}`);
        b.push(`el:${i + 50_000}`); // b overlaps a by half
      }
      batches.push(a, b);
    }
    const replies = await c.pipeline(batches);
    expect(replies.every((r) => r.type === "integer")).toBe(true);
    const within = (value: unknown, expected: number) => {
      expect(typeof value).toBe("number");
      expect(Math.abs((value as number) - expected) / expected).toBeLessThan(0.02);
    };
    within(plain(await c.call("PFCOUNT", "a")), 100_000);
    within(plain(await c.call("PFCOUNT", "b")), 100_000);
    within(plain(await c.call("PFCOUNT", "a", "b")), 150_000);
    within(plain(await c.call("PFCOUNT", "a", "b", "nokey")), 150_000);
    expect(plain(await c.call("PFMERGE", "u", "a", "b"))).toBe("OK");
    expect(plain(await c.call("PFCOUNT", "u"))).toBe(plain(await c.call("PFCOUNT", "a", "b")));
    expect(plain(await c.call("PFDEBUG", "ENCODING", "u"))).toBe("dense");
    expect(plain(await c.call("STRLEN", "u"))).toBe(12304);
    // Re-adding known elements changes nothing.
    expect(plain(await c.call("PFADD", "a", "el:1", "el:99999"))).toBe(0);
    c.close();
  });

  it("small cardinalities are exact, and non-HLL strings are refused", async () => {
    const c = await NodeClient.node(uniqueNode("hll"));
    expect(plain(await c.call("PFADD", "h", "a", "b", "c"))).toBe(1);
    expect(plain(await c.call("PFADD", "h", "a"))).toBe(0);
    expect(plain(await c.call("PFCOUNT", "h"))).toBe(3);
    expect(plain(await c.call("TYPE", "h"))).toBe("string");
    expect(plain(await c.call("GETRANGE", "h", 0, 4))).toBe("HYLL\x01");
    await c.call("SET", "s", "not an hll value");
    expect(plain(await c.call("PFADD", "s", "x"))).toEqual(NOT_HLL);
    expect(plain(await c.call("PFCOUNT", "s"))).toEqual(NOT_HLL);
    expect(plain(await c.call("PFMERGE", "h", "s"))).toEqual(NOT_HLL);
    await c.call("RPUSH", "l", "x");
    expect(plain(await c.call("PFADD", "l", "x"))).toEqual(err("WRONGTYPE Operation against a key holding the wrong kind of value"));
    expect(plain(await c.call("PFCOUNT", "h"))).toBe(3);
    c.close();
  });

  it("effects: PFADD and PFMERGE as called when they change something, PFCOUNT when it caches; replay rebuilds the bytes", async () => {
    const name = uniqueNode("hllfx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    const run = async (...argv: string[]) => {
      await c.call(...argv);
      return fx.take();
    };
    expect(await run("PFADD", "h", "a", "b")).toEqual([["PFADD", "h", "a", "b"]]);
    expect(await run("PFADD", "h", "a")).toEqual([]);
    expect(await run("PFADD", "h")).toEqual([]);
    expect(await run("PFADD", "e")).toEqual([["PFADD", "e"]]);
    expect(await run("PFCOUNT", "h")).toEqual([["PFCOUNT", "h"]]); // stores the cached cardinality
    expect(await run("PFCOUNT", "h")).toEqual([]); // the cache is valid now
    expect(await run("PFCOUNT", "h", "e")).toEqual([]); // unions are never cached
    expect(await run("PFCOUNT", "nokey")).toEqual([]);
    expect(await run("PFMERGE", "m", "h", "e")).toEqual([["PFMERGE", "m", "h", "e"]]);
    expect(await run("PFMERGE", "m", "h")).toEqual([["PFMERGE", "m", "h"]]); // Redis counts every merge as a change
    expect(await run("PFDEBUG", "TODENSE", "m")).toEqual([["PFDEBUG", "TODENSE", "m"]]);
    expect(await run("PFDEBUG", "TODENSE", "m")).toEqual([]);
    expect(await run("PFADD", "m", "z")).toEqual([["PFADD", "m", "z"]]);
    expect(await run("SET", "s", "x")).toEqual([["SET", "s", "x"]]);
    expect(await run("PFADD", "s", "x")).toEqual([]);

    const copy = uniqueNode("hllfx-copy");
    await replay(copy, fx.effects);
    const r = await NodeClient.node(copy);
    for (const key of ["h", "e", "m"]) {
      expect(plain(await r.call("GET", key))).toEqual(plain(await c.call("GET", key)));
    }
    r.close();
    c.close();
  });

  it("PFADD keeps the key's TTL", async () => {
    const c = await NodeClient.node(uniqueNode("hll"));
    await c.call("PFADD", "t", "a");
    await c.call("EXPIRE", "t", 1000);
    await c.call("PFADD", "t", "b");
    await c.call("PFMERGE", "t", "t");
    const ttl = plain(await c.call("TTL", "t")) as number;
    expect(ttl).toBeGreaterThan(900);
    expect(plain(await c.call("PFCOUNT", "t"))).toBe(2);
    expect(plain(await c.call("TTL", "t"))).toBeGreaterThan(900);
    c.close();
  });
});

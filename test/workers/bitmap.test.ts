/**
 * Bitmap commands inside workerd: replies, replication effects (exact argv,
 * and replaying them rebuilds the same bytes), and bitmaps up to
 * proto-max-bulk-len stored in 1 MiB chunks, where SETBIT and BITFIELD
 * rewrite only the chunk they touch.
 * Byte-for-byte comparison with redis-server is in test/e2e/bitmap.diff.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/reply.ts";
import type { Server } from "../../shared/engine/server.ts";
import type { SqlParam } from "../../shared/store/sql.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withServer } from "./effects.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;
const MAX_BITS = 16 * MiB * 8; // proto-max-bulk-len (16 MiB) in bits
const err = (message: string) => ({ error: message });
const BIT_OFFSET = err("ERR bit offset is not an integer or out of range");
const BIT_VALUE = err("ERR bit is not an integer or out of range");
const WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value");

function bytesOf(reply: Reply): Uint8Array {
  if (reply.type !== "bulk") throw new Error(`expected a bulk reply, got ${JSON.stringify(plain(reply))}`);
  return reply.value;
}

/** Popcount of a byte array, the slow obvious way. */
function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) for (let i = 0; i < 8; i++) n += (b >> i) & 1;
  return n;
}

/**
 * Runs one command inside the node while recording the value_chunks rows it
 * writes: returns the reply and the chunk numbers (seq) written.
 */
function writtenChunks(name: string, ...argv: string[]): Promise<{ reply: unknown; seqs: number[] }> {
  return withServer(name, (server: Server) => {
    const sql = server.sql as unknown as { run: (q: string, ...p: SqlParam[]) => number };
    const original = sql.run;
    const seqs: number[] = [];
    sql.run = function (query: string, ...params: SqlParam[]) {
      if (/^\s*UPDATE value_chunks/.test(query)) seqs.push(Number(params[2]));
      else if (/^\s*INSERT INTO value_chunks/.test(query)) seqs.push(Number(params[1]));
      else if (/value_chunks/.test(query) && !/^\s*SELECT/.test(query)) seqs.push(-1);
      return original.call(this, query, ...params);
    };
    const client = server.createClient("127.0.0.1:1", "127.0.0.1:0");
    try {
      const reply = plain(server.execute(client, argv.map((a) => encoder.encode(a))) as Reply);
      return { reply, seqs };
    } finally {
      sql.run = original;
      server.removeClient(client);
    }
  });
}

describe("bitmap commands: replies", () => {
  it("SETBIT/GETBIT address bits from the most significant bit of byte 0", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("SETBIT", "b", 1, 1))).toBe(0);
    expect(plain(await c.call("SETBIT", "b", 7, 1))).toBe(0);
    expect(plain(await c.call("GET", "b"))).toBe("A");
    expect(plain(await c.call("SETBIT", "b", 7, 0))).toBe(1);
    expect(plain(await c.call("GET", "b"))).toBe("@");
    expect(plain(await c.call("GETBIT", "b", 1))).toBe(1);
    expect(plain(await c.call("GETBIT", "b", 2))).toBe(0);
    expect(plain(await c.call("GETBIT", "b", 999))).toBe(0);
    expect(plain(await c.call("SETBIT", "b", 23, 1))).toBe(0);
    expect(plain(await c.call("STRLEN", "b"))).toBe(3);
    expect(plain(await c.call("TYPE", "b"))).toBe("string");
    expect(plain(await c.call("SETBIT", "b", -1, 1))).toEqual(BIT_OFFSET);
    expect(plain(await c.call("SETBIT", "b", MAX_BITS, 1))).toEqual(BIT_OFFSET);
    expect(plain(await c.call("GETBIT", "b", MAX_BITS))).toEqual(BIT_OFFSET);
    expect(plain(await c.call("SETBIT", "b", 0, 2))).toEqual(BIT_VALUE);
    await c.call("RPUSH", "l", "x");
    expect(plain(await c.call("SETBIT", "l", 0, 1))).toEqual(WRONGTYPE);
    expect(plain(await c.call("GETBIT", "l", 0))).toEqual(WRONGTYPE);
    c.close();
  });

  it("BITCOUNT, BITPOS and BITOP agree with a reference computation on random data", async () => {
    const c = await NodeClient.node(uniqueNode());
    let x = 12345;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const a = new Uint8Array(300).map(() => rand() & 0xff);
    const b = new Uint8Array(200).map(() => rand() & rand() & 0xff);
    await c.call("SET", "a", a);
    await c.call("SET", "b", b);
    expect(plain(await c.call("BITCOUNT", "a"))).toBe(popcount(a));
    expect(plain(await c.call("BITCOUNT", "a", 10, 20))).toBe(popcount(a.subarray(10, 21)));
    expect(plain(await c.call("BITCOUNT", "a", -50, -1))).toBe(popcount(a.subarray(250)));
    // BIT ranges: count bit by bit.
    const bit = (arr: Uint8Array, i: number) => (arr[i >> 3] >> (7 - (i & 7))) & 1;
    let expected = 0;
    for (let i = 13; i <= 1001; i++) expected += bit(a, i);
    expect(plain(await c.call("BITCOUNT", "a", 13, 1001, "BIT"))).toBe(expected);
    let firstClear = -1;
    for (let i = 37; i <= 1500; i++) if (!bit(a, i)) { firstClear = i; break; }
    expect(plain(await c.call("BITPOS", "a", 0, 37, 1500, "BIT"))).toBe(firstClear);

    for (const [op, f] of [["AND", (p: number, q: number) => p & q], ["OR", (p: number, q: number) => p | q], ["XOR", (p: number, q: number) => p ^ q]] as const) {
      expect(plain(await c.call("BITOP", op, "d", "a", "b"))).toBe(300);
      const want = a.map((v, i) => f(v, i < b.length ? b[i] : 0));
      expect(bytesOf(await c.call("GET", "d"))).toEqual(want);
    }
    expect(plain(await c.call("BITOP", "NOT", "d", "b"))).toBe(200);
    expect(bytesOf(await c.call("GET", "d"))).toEqual(b.map((v) => ~v & 0xff));
    expect(plain(await c.call("BITOP", "NOT", "d", "a", "b"))).toEqual(err("ERR BITOP NOT must be called with a single source key."));
    c.close();
  });

  it("BITFIELD reads and writes signed and unsigned fields with every overflow mode", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("BITFIELD", "f", "SET", "u8", "#1", 200, "GET", "u8", 8, "GET", "i8", 8))).toEqual([0, 200, -56]);
    expect(plain(await c.call("BITFIELD", "f", "INCRBY", "u8", 8, 100))).toEqual([44]);
    expect(plain(await c.call("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "u8", 8, 1000))).toEqual([255]);
    expect(plain(await c.call("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", 8, 1, "GET", "u8", 8))).toEqual([null, 255]);
    expect(plain(await c.call("BITFIELD", "f", "SET", "i64", 0, "-9223372036854775808", "GET", "i64", 0))).toEqual([
      71776119061217280n, -9223372036854775808n, // the old i64 was bytes 00 ff 00 00 00 00 00 00
    ]);
    expect(plain(await c.call("BITFIELD", "f", "GET", "u64", 0))).toEqual(
      err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."),
    );
    expect(plain(await c.call("BITFIELD_RO", "f", "SET", "u8", 0, 1))).toEqual(err("ERR BITFIELD_RO only supports the GET subcommand"));
    expect(plain(await c.call("BITFIELD_RO", "f", "GET", "u4", 0))).toEqual([8]);
    c.close();
  });
});

describe("bitmap commands: replication effects", () => {
  it("propagate as called when they change something, nothing otherwise; replaying rebuilds the data", async () => {
    const name = uniqueNode("bitfx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    const run = async (...argv: (string | number)[]) => {
      await c.call(...argv);
      return fx.take();
    };
    expect(await run("SETBIT", "b", 10, 1)).toEqual([["SETBIT", "b", "10", "1"]]);
    expect(await run("SETBIT", "b", 10, 1)).toEqual([]);
    expect(await run("SETBIT", "b", 3, 0)).toEqual([]); // already 0, no growth
    expect(await run("SETBIT", "b", 100, 0)).toEqual([["SETBIT", "b", "100", "0"]]); // grows the string
    expect(await run("SETBIT", "z", 0, 0)).toEqual([["SETBIT", "z", "0", "0"]]); // creates the key
    expect(await run("GETBIT", "b", 10)).toEqual([]);
    expect(await run("BITCOUNT", "b")).toEqual([]);
    expect(await run("BITPOS", "b", 1)).toEqual([]);
    expect(await run("BITOP", "OR", "d", "b", "z")).toEqual([["BITOP", "OR", "d", "b", "z"]]);
    expect(await run("BITOP", "AND", "d", "nokey")).toEqual([["BITOP", "AND", "d", "nokey"]]); // deletes d
    expect(await run("BITOP", "AND", "d", "nokey")).toEqual([]); // nothing to delete
    expect(await run("BITFIELD", "b", "GET", "u8", 0)).toEqual([]);
    expect(await run("BITFIELD_RO", "b", "GET", "u8", 0)).toEqual([]);
    expect(await run("BITFIELD", "b", "SET", "u8", 0, 7)).toEqual([["BITFIELD", "b", "SET", "u8", "0", "7"]]);
    expect(await run("BITFIELD", "b", "SET", "u8", 0, 7)).toEqual([]); // same value, no growth
    expect(await run("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 300)).toEqual([]);
    expect(await run("BITFIELD", "b", "INCRBY", "i5", 3, -1)).toEqual([["BITFIELD", "b", "INCRBY", "i5", "3", "-1"]]);
    // A failed write that still had to create the key is replicated, so a replica creates it too.
    expect(await run("BITFIELD", "g", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 5)).toEqual([
      ["BITFIELD", "g", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5"],
    ]);
    expect(plain(await c.call("GET", "g"))).toBe("\0");
    expect(await run("SETBIT", "b", -1, 1)).toEqual([]);
    expect(await run("BITFIELD", "b", "SET", "u8", 0)).toEqual([]);

    const copy = uniqueNode("bitfx-copy");
    await replay(copy, fx.effects);
    const r = await NodeClient.node(copy);
    for (const key of ["b", "z", "d", "g"]) {
      expect(plain(await r.call("GET", key))).toEqual(plain(await c.call("GET", key)));
    }
    r.close();
    c.close();
  });
});

describe("bitmap commands: bitmaps up to proto-max-bulk-len", () => {
  it("SETBIT on a 16 MiB bitmap rewrites one chunk, and reads walk the chunks", { timeout: 120_000 }, async () => {
    const name = uniqueNode("bigbits");
    const c = await NodeClient.node(name);
    expect(plain(await c.call("SETBIT", "big", MAX_BITS - 1, 1))).toBe(0);
    expect(plain(await c.call("STRLEN", "big"))).toBe(16 * MiB);

    // One bit in chunk 9: only chunk 9 is written.
    const offset = 9 * MiB * 8 + 12345;
    const set = await writtenChunks(name, "SETBIT", "big", String(offset), "1");
    expect(set.reply).toBe(0);
    expect(set.seqs).toEqual([9]);
    // Unchanged bit: nothing is written.
    expect((await writtenChunks(name, "SETBIT", "big", String(offset), "1")).seqs).toEqual([]);
    // A BITFIELD write across the boundary of chunks 3 and 4 writes those two.
    const across = 4 * MiB * 8 - 4;
    const bf = await writtenChunks(name, "BITFIELD", "big", "SET", "u8", String(across), "255", "GET", "u8", String(across));
    expect(bf.reply).toEqual([0, 255]);
    expect(bf.seqs.sort()).toEqual([3, 4]);

    expect(plain(await c.call("GETBIT", "big", offset))).toBe(1);
    expect(plain(await c.call("GETBIT", "big", offset + 1))).toBe(0);
    expect(plain(await c.call("BITCOUNT", "big"))).toBe(10);
    expect(plain(await c.call("BITPOS", "big", 1))).toBe(across);
    expect(plain(await c.call("BITPOS", "big", 1, 4 * MiB))).toBe(4 * MiB * 8);
    expect(plain(await c.call("BITPOS", "big", 1, 4 * MiB + 1))).toBe(offset);
    expect(plain(await c.call("BITPOS", "big", 1, -1))).toBe(MAX_BITS - 1);
    expect(plain(await c.call("BITPOS", "big", 0, -1))).toBe(MAX_BITS - 8);
    expect(plain(await c.call("BITCOUNT", "big", 4 * MiB, -1))).toBe(6);
    expect(plain(await c.call("BITCOUNT", "big", offset, MAX_BITS - 2, "BIT"))).toBe(1);
    const bytes = bytesOf(await c.call("GETRANGE", "big", 4 * MiB - 1, 4 * MiB));
    expect([...bytes]).toEqual([0x0f, 0xf0]);

    // BITOP over chunked sources.
    expect(plain(await c.call("BITOP", "NOT", "inv", "big"))).toBe(16 * MiB);
    expect(plain(await c.call("BITCOUNT", "inv"))).toBe(MAX_BITS - 10);
    expect(plain(await c.call("BITOP", "XOR", "x", "big", "inv"))).toBe(16 * MiB);
    expect(plain(await c.call("BITPOS", "x", 0))).toBe(16 * MiB * 8);
    c.close();
  });
});

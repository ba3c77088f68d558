/**
 * Generic (keyspace) commands against redis-server 7.0, in RESP2 and RESP3:
 * DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, MOVE, KEYS, SCAN,
 * RANDOMKEY, the EXPIRE and TTL families, PERSIST and OBJECT, with their
 * errors and edge cases.
 *
 * Order: Redis lists keys in hash-table order, tidekv in insertion (id)
 * order, so KEYS is compared in any order (~unordered). SCAN's cursors differ
 * as well: whole SCAN iterations are run on both servers and compared as sets
 * of keys (plus the exact bytes of every error and of the reply structure).
 * Replies that depend on the clock (PTTL, EXPIRETIME after a relative EXPIRE,
 * OBJECT IDLETIME) or on chance (RANDOMKEY among several keys) are compared
 * by type.
 */
import { describe, expect, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";
import { RespTcpClient, RespWsClient, decodeReply, showBytes, splitAggregate, utf8, type RespClient } from "../support/resp-client";

const run = (name: string, text: string, extra: Step[] = []) =>
  runDifferential(`generic-${name}`, [...parseScript(text, name), ...extra], { protocols: [2, 3] });

/** SET k<from> .. k<to-1> in batches of MSET. */
function manyKeys(prefix: string, n: number): Step[] {
  const steps: Step[] = [];
  for (let start = 0; start < n; start += 100) {
    const cmd = ["MSET"];
    for (let i = start; i < Math.min(n, start + 100); i++) cmd.push(`${prefix}${i}`, "v");
    steps.push({ cmd, compare: "bytes" });
  }
  return steps;
}

describe("generic commands, differential", () => {
  const servers = useDifferentialServers();

  it("DEL, UNLINK, EXISTS, TOUCH, TYPE", () =>
    run("del-exists-type", `
      SET a 1
      SET b 2
      HSET h f v
      EXISTS a
      EXISTS a a a b nosuch
      EXISTS nosuch
      EXISTS
      TOUCH a a nosuch h
      TOUCH nosuch
      TOUCH
      TYPE a
      TYPE h
      TYPE nosuch
      TYPE
      TYPE a b
      DEL a a nosuch
      DEL a
      DEL
      UNLINK b h b
      UNLINK b
      UNLINK
      EXISTS a b h
      SET "\\x00bin\\xff" v
      EXISTS "\\x00bin\\xff"
      TYPE "\\x00bin\\xff"
      DEL "\\x00bin\\xff"
    `));

  it("RENAME and RENAMENX (TTL kept)", () =>
    run("rename", `
      RENAME nosuch x
      RENAMENX nosuch x
      RENAME nosuch nosuch
      RENAMENX nosuch nosuch
      SET a 1
      RENAME a a
      RENAMENX a a
      PEXPIREAT a 4102444800123
      RENAME a b
      EXISTS a
      GET b
      PEXPIRETIME b
      TTL b ~type
      SET c 3
      RENAMENX b c
      RENAMENX b d
      PEXPIRETIME d
      RENAME c d
      GET d
      TTL d
      HSET h f v
      RENAME h d
      TYPE d
      HGET d f
      RENAME d
      RENAME
      RENAME a b c
      RENAMENX a
      SET e 1
      EXPIRE e 100
      RENAME e f
      TTL f
    `));

  it("COPY (DB, REPLACE, TTL kept) and its errors", () =>
    run("copy", `
      COPY nosuch x
      SET s v
      COPY s s
      COPY s s DB 0
      COPY s s db 1
      COPY s t DB 16
      COPY s t DB -1
      COPY s t DB x
      COPY s t DB 99999999999
      COPY s t DB -99999999999
      COPY s t DB 1.5
      COPY s t DB
      COPY s t REPLACE DB
      COPY s t foo
      COPY s t replace foo
      COPY s
      COPY
      PEXPIREAT s 4102444800123
      COPY s t
      GET t
      PEXPIRETIME t
      COPY s t
      SET s w KEEPTTL
      GET t
      COPY s t REPLACE
      GET t
      COPY s t REPLACE REPLACE
      COPY s t DB 1 DB 0 REPLACE
      HSET h f1 v1
      HSET h f2 v2
      COPY h s REPLACE
      TYPE s
      TTL s
      HGETALL s
      HDEL h f1
      HLEN s
      COPY h h DB 3
      COPY h h DB 3
      COPY h h DB 3 REPLACE
      SELECT 3
      HGETALL h
      TYPE s
      COPY h s db 0 replace
      COPY h h2
      SELECT 0
      HGETALL s
      COPY s s2 DB 3
      SELECT 3
      EXISTS s2 h2
    `));

  it("MOVE and its errors", () =>
    run("move", `
      MOVE k 0
      MOVE k 1
      MOVE k 16
      MOVE k -1
      MOVE k x
      MOVE k 2147483648
      MOVE k -2147483649
      MOVE k
      MOVE k 1 2
      SET k v
      PEXPIREAT k 4102444800123
      MOVE k 1
      EXISTS k
      SET k other
      MOVE k 1
      SELECT 1
      GET k
      PEXPIRETIME k
      MOVE k 1
      MOVE k 0
      HSET h f v
      MOVE h 2
      SELECT 2
      HGET h f
      TYPE h
    `));

  it("KEYS (compared in any order)", () =>
    run("keys", `
      KEYS *
      SET one 1
      SET two 2
      SET three 3
      SET four 4
      SET "a[b" 5
      SET "a*b" 6
      SET "" 7
      SET "x?y" 8
      SET "\\x00\\xff" 9
      HSET h f v
      KEYS * ~unordered
      KEYS t* ~unordered
      KEYS *o* ~unordered
      KEYS ?o* ~unordered
      KEYS [ot]*e ~unordered
      KEYS [^o]* ~unordered
      KEYS [a-t]* ~unordered
      KEYS a\\[b
      KEYS a\\*b
      KEYS a[*]b
      KEYS x\\?y
      KEYS two
      KEYS TWO
      KEYS ""
      KEYS "\\x00*"
      KEYS h
      KEYS nomatch
      KEYS
      KEYS a b
      SELECT 1
      KEYS *
    `, [...manyKeys("many:", 300), ...parseScript(`
      KEYS many:* ~unordered
      KEYS many:1?9 ~unordered
      KEYS many:2[0-4]? ~unordered
      KEYS *:299
    `, "keys-many")]));

  it("SCAN: errors and single-step results", () =>
    run("scan-basic", `
      SCAN 0
      SET k1 v
      SCAN 0
      SCAN 0 MATCH k1
      SCAN 0 MATCH k*
      SCAN 0 MATCH nomatch
      SCAN 0 COUNT 100
      SCAN 0 match * count 1 ~type
      HSET h f v
      SCAN 0 TYPE hash
      SCAN 0 TYPE HASH
      SCAN 0 type string
      SCAN 0 TYPE nosuchtype
      SCAN 0 TYPE hash MATCH h COUNT 1000
      SCAN 0 COUNT 0
      SCAN 0 COUNT -1
      SCAN 0 COUNT x
      SCAN 0 COUNT 9223372036854775808
      SCAN 0 COUNT
      SCAN 0 MATCH
      SCAN 0 TYPE
      SCAN 0 FOO
      SCAN 0 FOO bar
      SCAN x
      SCAN " 0"
      SCAN "0 "
      SCAN 0x10
      SCAN 1.5
      SCAN 18446744073709551616
      SCAN -18446744073709551616
      SCAN x COUNT 0
      SCAN
      SCAN "" ~type
      SCAN +0 ~type
      SCAN 007 ~type
      SCAN -1 ~type
      SCAN 18446744073709551615 ~type
    `));

  // TTL rounds milliseconds to the nearest second. The PEXPIREs below sit
  // 100 ms away from a rounding boundary, so the milliseconds a loaded
  // machine spends between two commands cannot change the answer.
  it("EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT with NX, XX, GT, LT", () =>
    run("expire", `
      EXPIRE nosuch 100
      PEXPIRE nosuch 100
      EXPIREAT nosuch 100
      PEXPIREAT nosuch 100
      EXPIRE nosuch 100 NX
      SET k v
      EXPIRE k 100 XX
      EXPIRE k 100 GT
      TTL k
      EXPIRE k 100 LT
      TTL k
      PERSIST k
      EXPIRE k 100 NX
      TTL k
      EXPIRE k 200 NX
      TTL k
      EXPIRE k 200 XX
      TTL k
      EXPIRE k 100 GT
      EXPIRE k 300 GT
      TTL k
      EXPIRE k 400 LT
      EXPIRE k 50 LT
      TTL k
      EXPIRE k 50 xx gt
      EXPIRE k 60 xx GT
      TTL k
      EXPIRE k 10 XX LT
      TTL k
      PEXPIRE k 100000
      TTL k
      PEXPIRE k 1600
      TTL k
      PEXPIRE k 1400
      TTL k
      PEXPIRE k 600
      TTL k
      PEXPIRE k 400
      TTL k
      EXPIREAT k 4102444800
      EXPIRETIME k
      PEXPIRETIME k
      EXPIREAT k 4102444800 GT
      EXPIREAT k 4102444801 gt
      EXPIRETIME k
      PEXPIREAT k 4102444800999 LT
      EXPIRETIME k
      PEXPIRETIME k
      PEXPIREAT k 4102444801000 NX
      PEXPIREAT k 4102444801000 XX
      PEXPIRETIME k
      # errors: options before the number, the number before the key
      EXPIRE k 100 NX XX
      EXPIRE k 100 XX NX
      EXPIRE k 100 NX GT
      EXPIRE k 100 NX LT
      EXPIRE k 100 GT LT
      EXPIRE k 100 LT GT XX
      EXPIRE k 100 NX GT LT
      EXPIRE k x NX XX
      EXPIRE k 100 FOO
      EXPIRE k 100 nx foo
      EXPIRE k 100 ""
      EXPIRE k x
      EXPIRE k 1.5
      EXPIRE k ""
      EXPIRE k " 1"
      EXPIRE k 9223372036854775808
      EXPIRE k -9223372036854775809
      EXPIRE nosuch 9223372036854775
      EXPIRE nosuch 9223372036854776
      EXPIRE nosuch -9223372036854776
      EXPIREAT nosuch 9223372036854776
      EXPIREAT nosuch -9223372036854776
      EXPIREAT nosuch 9223372036854775
      PEXPIRE nosuch 9223372036854775807
      PEXPIRE nosuch 9223372036854000000
      PEXPIREAT nosuch 9223372036854775807
      PEXPIRE k -9223372036854775808 GT
      EXPIRE k
      EXPIRE
      PEXPIREAT k
      PEXPIRETIME k
      # a time in the past deletes the key
      EXPIRE k -1 GT
      EXISTS k
      EXPIRE k -1 LT
      EXISTS k
      SET k v
      EXPIRE k 0
      EXISTS k
      SET k v
      PEXPIRE k -100 NX
      TTL k
      SET k v
      EXPIREAT k 1
      GET k
      SET k v
      PEXPIREAT k 0 XX
      PEXPIREAT k 0
      GET k
      SET k v
      EXPIREAT k -9223372036854775
      GET k
      SET k v
      PEXPIRE k -9223372036854775808
      GET k
      HSET h f v
      EXPIRE h 100
      TTL h
      HSET h g w
      TTL h
      SET k v EX 100
      SET k w
      TTL k
    `));

  it("TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST", () =>
    run("ttl-persist", `
      TTL nosuch
      PTTL nosuch
      EXPIRETIME nosuch
      PEXPIRETIME nosuch
      SET k v
      TTL k
      PTTL k
      EXPIRETIME k
      PEXPIRETIME k
      EXPIRE k 100
      TTL k
      PTTL k ~type
      EXPIRETIME k ~type
      PEXPIRETIME k ~type
      PERSIST k
      PERSIST k
      PERSIST nosuch
      TTL k
      GET k
      TTL
      TTL a b
      PTTL
      EXPIRETIME
      PEXPIRETIME a b
      PERSIST
      PERSIST a b
    `));

  it("OBJECT ENCODING, REFCOUNT, IDLETIME, FREQ, HELP", () =>
    run("object", `
      SET i 123
      SET neg -5
      SET max 9223372036854775807
      SET over 9223372036854775808
      SET lead 0123
      SET float 1.5
      SET space " 1"
      SET minus0 -0
      SET empty ""
      SET s44 ${"x".repeat(44)}
      SET s45 ${"x".repeat(45)}
      SET shared 9999
      SET unshared 10000
      OBJECT ENCODING i
      OBJECT ENCODING neg
      OBJECT ENCODING max
      OBJECT ENCODING over
      OBJECT ENCODING lead
      OBJECT ENCODING float
      OBJECT ENCODING space
      OBJECT ENCODING minus0
      OBJECT ENCODING empty
      OBJECT ENCODING s44
      OBJECT ENCODING s45
      OBJECT ENCODING nosuch
      OBJECT REFCOUNT i
      OBJECT REFCOUNT shared
      OBJECT REFCOUNT unshared
      OBJECT REFCOUNT neg
      OBJECT REFCOUNT s45
      OBJECT REFCOUNT nosuch
      HSET h f v
      OBJECT ENCODING h
      HSET h long ${"y".repeat(65)}
      OBJECT ENCODING h
      HSET h2 ${"z".repeat(64)} ${"z".repeat(64)}
      OBJECT ENCODING h2
      OBJECT REFCOUNT h
      OBJECT IDLETIME i ~type
      OBJECT IDLETIME nosuch
      OBJECT FREQ i
      OBJECT FREQ nosuch
      OBJECT HELP
      object help
      OBJECT HELP x
      OBJECT
      OBJECT FOO
      OBJECT FOO k
      OBJECT ENCODING
      OBJECT ENCODING a b
      OBJECT REFCOUNT
      OBJECT IDLETIME
      OBJECT FREQ
      CONFIG SET maxmemory-policy allkeys-lfu
      SET fresh v
      OBJECT FREQ fresh
      OBJECT IDLETIME fresh
      CONFIG SET maxmemory-policy volatile-lru
      OBJECT FREQ fresh
      OBJECT REFCOUNT shared
      CONFIG SET maxmemory-policy noeviction
    `));

  it("RANDOMKEY", () =>
    run("randomkey", `
      RANDOMKEY
      SET only v
      RANDOMKEY
      RANDOMKEY
      HSET h f v
      DEL only
      RANDOMKEY
      SET a 1
      SET b 2
      RANDOMKEY ~type
      RANDOMKEY x
      SELECT 9
      RANDOMKEY
    `));

  it("keys that expired are gone for every command", () =>
    run("expired", `
      SET k v PX 1
      DEBUG SLEEP 0.01 ~ignore
      EXISTS k
      TYPE k
      TTL k
      RENAME k x
      COPY k x
      MOVE k 1
      PERSIST k
      EXPIRE k 100
      OBJECT ENCODING k
      KEYS k
      SET k v
      SET k2 v PX 1
      DEBUG SLEEP 0.01 ~ignore
      RENAME k k2
      GET k2
      RENAMENX k2 k
      SET k2 v PX 1
      DEBUG SLEEP 0.01 ~ignore
      RENAMENX k k2
      SET k3 v PX 1
      DEBUG SLEEP 0.01 ~ignore
      COPY k2 k3
      GET k3
    `));

  // ---- SCAN iterations, compared as sets ------------------------------------------

  /** Runs a whole SCAN iteration; returns the keys and the bytes of every reply. */
  async function iterate(client: RespClient, options: string[]): Promise<{ keys: string[]; replies: Uint8Array[] }> {
    const keys: string[] = [];
    const replies: Uint8Array[] = [];
    let cursor = "0";
    for (let calls = 0; calls < 10_000; calls++) {
      const raw = await client.commandRaw("SCAN", cursor, ...options);
      replies.push(raw);
      const reply = decodeReply(raw);
      if (reply.type !== "array") throw new Error(`SCAN ${cursor} ${options.join(" ")}: ${showBytes(raw)}`);
      const [next, page] = reply.value;
      if (next.type !== "bulk" || page.type !== "array") throw new Error(`SCAN reply shape: ${showBytes(raw)}`);
      for (const k of page.value) {
        if (k.type !== "bulk") throw new Error(`SCAN element: ${showBytes(raw)}`);
        keys.push(Buffer.from(k.value).toString("latin1"));
      }
      cursor = utf8(next.value);
      if (cursor === "0") return { keys, replies };
    }
    throw new Error("SCAN did not finish");
  }

  /** The reply's structure: `*2`, the cursor as a bulk string, then an array header (of any length). */
  function shape(raw: Uint8Array): string {
    const outer = splitAggregate(raw);
    if (!outer || outer.elements.length !== 2) return `not a 2-element array: ${showBytes(raw, 80)}`;
    const cursor = outer.elements[0];
    const inner = splitAggregate(outer.elements[1]);
    return `${utf8(outer.header)}${String.fromCharCode(cursor[0])}${inner ? String.fromCharCode(outer.elements[1][0]) : "?"}`;
  }

  it("SCAN iterations over a few hundred keys return the same keys (as sets), in RESP2 and RESP3", async () => {
    for (const protocol of [2, 3]) {
      const node = `diff-generic-scan-resp${protocol}-${Date.now().toString(36)}`;
      const redis = new RespTcpClient(servers.redis.port);
      const tidekv = new RespWsClient(servers.tidekv.wsUrl(`/node/${node}`));
      await redis.connect();
      await tidekv.connect();
      try {
        const both = async (...argv: string[]) => {
          const [a, b] = [await redis.commandRaw(...argv), await tidekv.commandRaw(...argv)];
          expect(showBytes(b), argv.join(" ")).toBe(showBytes(a));
        };
        await both("FLUSHALL");
        if (protocol === 3) {
          await redis.command("HELLO", "3");
          await tidekv.command("HELLO", "3");
        }
        for (const step of [...manyKeys("key:", 250), ...manyKeys("other:", 60)]) await both(...(step.cmd as string[]));
        for (let i = 0; i < 40; i++) await both("HSET", `hash:${i}`, "f", "v");
        await both("SELECT", "4");
        await both("SET", "elsewhere", "v");
        await both("SELECT", "0");

        const cases: string[][] = [
          [],
          ["COUNT", "1"],
          ["COUNT", "7"],
          ["COUNT", "1000"],
          ["MATCH", "key:1*"],
          ["MATCH", "other:*", "COUNT", "3"],
          ["MATCH", "*:5?"],
          ["MATCH", "nomatch*"],
          ["TYPE", "hash"],
          ["TYPE", "string", "MATCH", "other:1*", "COUNT", "20"],
          ["TYPE", "zset"],
          ["MATCH", "*"],
        ];
        for (const options of cases) {
          const expected = await iterate(redis, options);
          const actual = await iterate(tidekv, options);
          const label = `RESP${protocol} SCAN ${options.join(" ")}`;
          expect(new Set(actual.keys).size, label).toBe(actual.keys.length);
          expect([...new Set(actual.keys)].sort(), label).toEqual([...new Set(expected.keys)].sort());
          for (const raw of actual.replies) expect(shape(raw), label).toBe(shape(expected.replies[0]));
        }
        // COUNT large enough for the whole db: one call, cursor 0, on both.
        const one = async (client: RespClient) => decodeReply(await client.commandRaw("SCAN", "0", "COUNT", "100000"));
        const [r, t] = [await one(redis), await one(tidekv)];
        expect(r.type === "array" && r.value[0].type === "bulk" && utf8(r.value[0].value)).toBe("0");
        expect(t.type === "array" && t.value[0].type === "bulk" && utf8(t.value[0].value)).toBe("0");
        expect(t.type === "array" && t.value[1].type === "array" && t.value[1].value.length).toBe(350);
      } catch (e) {
        console.log(`tidekv closed: ${tidekv.closeCode} ${tidekv.closeReason}\n${servers.tidekv.log().slice(-3000)}`);
        throw e;
      } finally {
        await Promise.all([redis.close(), tidekv.close()]);
      }
    }
  });
});

/**
 * Generic (keyspace) commands inside workerd: replies and errors of DEL,
 * UNLINK, EXISTS, TYPE, RENAME(NX), COPY, MOVE, KEYS, SCAN, RANDOMKEY, the
 * EXPIRE and TTL families, PERSIST, TOUCH and OBJECT; SCAN's completeness
 * under concurrent writes; and the exact replication effects of each write.
 * Byte-for-byte comparison with redis-server is in test/e2e/generic.diff.test.ts;
 * active expiry is in expiry.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/reply.ts";
import type { Server } from "../../shared/engine/server.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay, withKeyspace, withServer } from "./effects.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const err = (message: string) => ({ error: message });
const SYNTAX = err("ERR syntax error");
const NOT_INT = err("ERR value is not an integer or out of range");
const NO_SUCH_KEY = err("ERR no such key");
const SAME_OBJECT = err("ERR source and destination objects are the same");
const DB_RANGE = err("ERR DB index is out of range");
const INT_RANGE = err("ERR value is out of range, value must between -2147483648 and 2147483647");
const NX_COMBO = err("ERR NX and XX, GT or LT options at the same time are not compatible");
const GT_LT = err("ERR GT and LT options at the same time are not compatible");
const arity = (name: string) => err(`ERR wrong number of arguments for '${name}' command`);

const sorted = (reply: Reply) => (plain(reply) as string[]).slice().sort();

/**
 * Runs `argv` inside the node with nothing else in between (no alarm can
 * remove an expired key first), after `setup` prepared the keyspace.
 */
function atomically(name: string, setup: (server: Server) => void, ...argv: string[]): Promise<unknown> {
  return withServer(name, (server) => {
    // No wake-up for the TTLs the setup sets: the test decides when keys are looked at.
    const schedule = server.keyspace.onExpirySet;
    server.keyspace.onExpirySet = null;
    try {
      setup(server);
    } finally {
      server.keyspace.onExpirySet = schedule;
    }
    const client = server.createClient("127.0.0.1:1", "127.0.0.1:0");
    try {
      return plain(server.execute(client, argv.map((a) => encoder.encode(a))) as Reply);
    } finally {
      server.removeClient(client);
    }
  });
}

/** Makes `key` (db 0) a key whose TTL has passed but that nothing has removed yet. */
function expireNow(server: Server, key: string, db = 0): void {
  const record = server.keyspace.find(db, encoder.encode(key));
  if (!record) throw new Error(`no key ${key}`);
  server.keyspace.setExpiry(record, 1);
}

describe("generic commands: replies and errors", () => {
  it("DEL, UNLINK, EXISTS (duplicates count), TOUCH, TYPE", async () => {
    const c = await NodeClient.node(uniqueNode());
    await c.call("SET", "a", "1");
    await c.call("SET", "b", "2");
    await c.call("HSET", "h", "f", "v");
    expect(plain(await c.call("EXISTS", "a", "a", "b", "nope"))).toBe(3);
    expect(plain(await c.call("TOUCH", "a", "a", "nope", "h"))).toBe(3);
    expect(plain(await c.call("TYPE", "a"))).toBe("string");
    expect((await c.call("TYPE", "h")).type).toBe("simple");
    expect(plain(await c.call("TYPE", "h"))).toBe("hash");
    expect(plain(await c.call("TYPE", "nope"))).toBe("none");
    expect(plain(await c.call("DEL", "a", "a", "nope"))).toBe(1);
    expect(plain(await c.call("UNLINK", "b", "h", "b"))).toBe(2);
    expect(plain(await c.call("EXISTS", "a", "b", "h"))).toBe(0);
    expect(plain(await c.call("DEL"))).toEqual(arity("del"));
    expect(plain(await c.call("UNLINK"))).toEqual(arity("unlink"));
    expect(plain(await c.call("EXISTS"))).toEqual(arity("exists"));
    expect(plain(await c.call("TYPE", "a", "b"))).toEqual(arity("type"));
    c.close();
  });

  it("RENAME and RENAMENX keep the value and the TTL, and report missing keys", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("RENAME", "x", "y"))).toEqual(NO_SUCH_KEY);
    expect(plain(await c.call("RENAMENX", "x", "y"))).toEqual(NO_SUCH_KEY);
    expect(plain(await c.call("RENAME", "x", "x"))).toEqual(NO_SUCH_KEY);
    await c.call("SET", "a", "1");
    await c.call("PEXPIREAT", "a", "4102444800123");
    expect(plain(await c.call("RENAME", "a", "a"))).toBe("OK");
    expect(plain(await c.call("RENAMENX", "a", "a"))).toBe(0);
    expect(plain(await c.call("RENAME", "a", "b"))).toBe("OK");
    expect(plain(await c.call("EXISTS", "a"))).toBe(0);
    expect(plain(await c.call("GET", "b"))).toBe("1");
    expect(plain(await c.call("PEXPIRETIME", "b"))).toBe(4102444800123);
    await c.call("HSET", "h", "f", "v");
    expect(plain(await c.call("RENAMENX", "b", "h"))).toBe(0);
    expect(plain(await c.call("RENAME", "h", "b"))).toBe("OK"); // overwrites, TTL of the old b gone
    expect(plain(await c.call("TTL", "b"))).toBe(-1);
    expect(plain(await c.call("HGET", "b", "f"))).toBe("v");
    expect(plain(await c.call("RENAMENX", "b", "c"))).toBe(1);
    expect(plain(await c.call("TYPE", "c"))).toBe("hash");
    expect(plain(await c.call("RENAME", "c"))).toEqual(arity("rename"));
    c.close();
  });

  it("COPY with DB and REPLACE, keeping the TTL; its errors", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("COPY", "nope", "x"))).toBe(0);
    await c.call("SET", "s", "v");
    await c.call("PEXPIREAT", "s", "4102444800123");
    expect(plain(await c.call("COPY", "s", "s"))).toEqual(SAME_OBJECT);
    expect(plain(await c.call("COPY", "s", "s", "DB", "0"))).toEqual(SAME_OBJECT);
    expect(plain(await c.call("COPY", "s", "t", "DB", "16"))).toEqual(DB_RANGE);
    expect(plain(await c.call("COPY", "s", "t", "DB", "-1"))).toEqual(DB_RANGE);
    expect(plain(await c.call("COPY", "s", "t", "DB", "x"))).toEqual(NOT_INT);
    expect(plain(await c.call("COPY", "s", "t", "DB", "99999999999"))).toEqual(INT_RANGE);
    expect(plain(await c.call("COPY", "s", "t", "DB"))).toEqual(SYNTAX);
    expect(plain(await c.call("COPY", "s", "t", "foo"))).toEqual(SYNTAX);
    expect(plain(await c.call("COPY", "s"))).toEqual(arity("copy"));

    expect(plain(await c.call("COPY", "s", "t"))).toBe(1);
    expect(plain(await c.call("GET", "t"))).toBe("v");
    expect(plain(await c.call("PEXPIRETIME", "t"))).toBe(4102444800123);
    await c.call("SET", "s", "w", "KEEPTTL");
    expect(plain(await c.call("GET", "t"))).toBe("v"); // a copy, not a reference
    expect(plain(await c.call("COPY", "s", "t"))).toBe(0);
    expect(plain(await c.call("COPY", "s", "t", "replace"))).toBe(1);
    expect(plain(await c.call("GET", "t"))).toBe("w");

    await c.call("HSET", "h", "f1", "v1", "f2", "v2");
    expect(plain(await c.call("COPY", "h", "s", "REPLACE"))).toBe(1);
    expect(plain(await c.call("TTL", "s"))).toBe(-1);
    expect(plain(await c.call("HDEL", "h", "f1"))).toBe(1);
    expect((plain(await c.call("HGETALL", "s")) as string[]).length).toBe(4);
    expect(plain(await c.call("COPY", "h", "h", "DB", "3"))).toBe(1);
    expect(plain(await c.call("COPY", "h", "h", "DB", "3"))).toBe(0);
    expect(plain(await c.call("SELECT", "3"))).toBe("OK");
    expect(plain(await c.call("HGETALL", "h"))).toEqual(["f2", "v2"]);
    expect(plain(await c.call("COPY", "h", "h", "DB", "0", "REPLACE"))).toBe(1);
    c.close();
  });

  it("MOVE moves a key and its TTL to another db; its errors", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("MOVE", "k", "0"))).toEqual(SAME_OBJECT);
    expect(plain(await c.call("MOVE", "k", "1"))).toBe(0);
    expect(plain(await c.call("MOVE", "k", "16"))).toEqual(DB_RANGE);
    expect(plain(await c.call("MOVE", "k", "x"))).toEqual(NOT_INT);
    expect(plain(await c.call("MOVE", "k", "-2147483649"))).toEqual(INT_RANGE);
    await c.call("SET", "k", "v");
    await c.call("PEXPIREAT", "k", "4102444800123");
    expect(plain(await c.call("MOVE", "k", "1"))).toBe(1);
    expect(plain(await c.call("EXISTS", "k"))).toBe(0);
    await c.call("SET", "k", "other");
    expect(plain(await c.call("MOVE", "k", "1"))).toBe(0); // taken in db 1
    await c.call("SELECT", "1");
    expect(plain(await c.call("GET", "k"))).toBe("v");
    expect(plain(await c.call("PEXPIRETIME", "k"))).toBe(4102444800123);
    expect(plain(await c.call("MOVE", "k", "1"))).toEqual(SAME_OBJECT);
    c.close();
  });

  it("KEYS matches globs and skips expired keys without removing them", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    expect(plain(await c.call("KEYS", "*"))).toEqual([]);
    const names = ["one", "two", "three", "four", "a[b", "a*b", "", "x?y"];
    for (const k of names) await c.call("SET", k, "v");
    expect(sorted(await c.call("KEYS", "*"))).toEqual(names.slice().sort());
    expect(sorted(await c.call("KEYS", "t*"))).toEqual(["three", "two"]);
    expect(sorted(await c.call("KEYS", "?o*"))).toEqual(["four"]);
    expect(sorted(await c.call("KEYS", "[ot]*e"))).toEqual(["one", "three"]);
    expect(sorted(await c.call("KEYS", "a\\[b"))).toEqual(["a[b"]);
    expect(sorted(await c.call("KEYS", "a\\*b"))).toEqual(["a*b"]);
    expect(sorted(await c.call("KEYS", "two"))).toEqual(["two"]);
    expect(sorted(await c.call("KEYS", ""))).toEqual([""]);
    expect(sorted(await c.call("KEYS", "TWO"))).toEqual([]);
    // Many keys: more than one page.
    await c.pipeline(Array.from({ length: 300 }, (_, i) => ["SET", `many:${i}`, "v"]));
    expect((plain(await c.call("KEYS", "many:*")) as string[]).length).toBe(300);
    expect(sorted(await c.call("KEYS", "many:1?9"))).toEqual(Array.from({ length: 10 }, (_, i) => `many:1${i}9`));

    const replies = (await atomically(name, (s) => { expireNow(s, "two"); expireNow(s, "one"); }, "KEYS", "t*")) as string[];
    expect(replies).toEqual(["three"]);
    expect(await atomically(name, () => {}, "KEYS", "two")).toEqual([]);
    // Still there (KEYS does not expire keys), until something looks them up.
    expect(await withKeyspace(name, (k) => k.find(0, encoder.encode("two")) !== null)).toBe(true);
    expect(plain(await c.call("KEYS"))).toEqual(arity("keys"));
    c.close();
  });

  it("SCAN with MATCH, COUNT and TYPE; cursor errors", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("SCAN", "0"))).toEqual(["0", []]);
    for (let i = 0; i < 25; i++) await c.call("SET", `s${i}`, "v");
    for (let i = 0; i < 5; i++) await c.call("HSET", `h${i}`, "f", "v");

    const all = async (...options: string[]) => {
      const seen: string[] = [];
      let cursor = "0";
      let calls = 0;
      do {
        const [next, keys] = plain(await c.call("SCAN", cursor, ...options)) as [string, string[]];
        seen.push(...keys);
        cursor = next;
        calls++;
      } while (cursor !== "0");
      return { keys: seen.sort(), calls };
    };
    const everything = await all();
    expect(everything.keys).toEqual([...Array.from({ length: 25 }, (_, i) => `s${i}`), ...Array.from({ length: 5 }, (_, i) => `h${i}`)].sort());
    expect(everything.calls).toBe(3); // 30 keys, 10 per call by default
    const small = await all("COUNT", "4");
    expect(small.keys).toEqual(everything.keys);
    expect(small.calls).toBe(8);
    expect((await all("COUNT", "1000")).calls).toBe(1);
    expect((await all("MATCH", "s1*")).keys).toEqual(["s1", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19"]);
    expect((await all("type", "HASH", "match", "*")).keys).toEqual(["h0", "h1", "h2", "h3", "h4"]);
    expect((await all("TYPE", "string", "MATCH", "s2?")).keys).toEqual(["s20", "s21", "s22", "s23", "s24"]);
    expect((await all("TYPE", "nosuchtype")).keys).toEqual([]);
    // A COUNT that examines exactly the rest ends the iteration (cursor 0), as Redis's small dicts do.
    expect(plain(await c.call("SCAN", "0", "COUNT", "30"))).toEqual(["0", expect.any(Array)]);

    expect(plain(await c.call("SCAN", "x"))).toEqual(err("ERR invalid cursor"));
    expect(plain(await c.call("SCAN", " 0"))).toEqual(err("ERR invalid cursor"));
    expect(plain(await c.call("SCAN", "1x"))).toEqual(err("ERR invalid cursor"));
    expect(plain(await c.call("SCAN", "18446744073709551616"))).toEqual(err("ERR invalid cursor"));
    expect(plain(await c.call("SCAN", "18446744073709551615"))).toEqual(["0", []]);
    expect(plain(await c.call("SCAN", "-1"))).toEqual(["0", []]);
    expect((plain(await c.call("SCAN", "", "COUNT", "100")) as unknown[])[0]).toBe("0");
    expect((plain(await c.call("SCAN", "+0", "COUNT", "100")) as [string, string[]])[1].length).toBe(30);
    expect(plain(await c.call("SCAN", "0", "COUNT", "0"))).toEqual(SYNTAX);
    expect(plain(await c.call("SCAN", "0", "COUNT", "-1"))).toEqual(SYNTAX);
    expect(plain(await c.call("SCAN", "0", "COUNT", "x"))).toEqual(NOT_INT);
    expect(plain(await c.call("SCAN", "0", "MATCH"))).toEqual(SYNTAX);
    expect(plain(await c.call("SCAN", "0", "FOO", "bar"))).toEqual(SYNTAX);
    expect(plain(await c.call("SCAN", "x", "FOO"))).toEqual(err("ERR invalid cursor"));
    expect(plain(await c.call("SCAN"))).toEqual(arity("scan"));
    c.close();
  });

  it("a full SCAN returns every key that existed for the whole iteration, despite writes in between", async () => {
    const c = await NodeClient.node(uniqueNode());
    const initial = Array.from({ length: 400 }, (_, i) => `k${i}`);
    await c.pipeline(initial.map((k) => ["SET", k, "v"]));
    const deleted = new Set<string>();
    const created = new Set<string>();
    const seen: string[] = [];
    let cursor = "0";
    let step = 0;
    do {
      const [next, keys] = plain(await c.call("SCAN", cursor, "COUNT", "7")) as [string, string[]];
      seen.push(...keys);
      cursor = next;
      // Writes between calls: delete keys ahead of and behind the cursor, add new keys,
      // delete and re-create some, rename some (a renamed key did not exist throughout).
      step++;
      const victims = [`k${(step * 37) % 400}`, `k${(step * 11 + 5) % 400}`];
      for (const v of victims) if ((plain(await c.call("DEL", v)) as number) === 1) deleted.add(v);
      await c.call("SET", `new${step}`, "v");
      created.add(`new${step}`);
      if (step % 5 === 0) {
        const k = `k${(step * 13 + 1) % 400}`;
        if ((plain(await c.call("DEL", k)) as number) === 1) deleted.add(k);
        await c.call("SET", k, "again");
        created.add(k);
      }
      if (step % 7 === 0) {
        const k = `k${(step * 17 + 3) % 400}`;
        const r = plain(await c.call("RENAME", k, `renamed${step}`));
        if (r === "OK") {
          deleted.add(k);
          created.add(`renamed${step}`);
        }
      }
    } while (cursor !== "0");
    const seenSet = new Set(seen);
    const throughout = initial.filter((k) => !deleted.has(k));
    expect(throughout.length).toBeGreaterThan(200);
    for (const k of throughout) expect(seenSet.has(k), `key ${k} existed throughout and was not returned`).toBe(true);
    // Nothing that never existed; and (tidekv's id order gives this, unlike Redis) a key that
    // existed throughout comes exactly once. A re-created key may come twice: it is a new key.
    for (const k of seen) expect(initial.includes(k) || created.has(k), `unexpected key ${k}`).toBe(true);
    for (const k of throughout) expect(seen.filter((s) => s === k).length, k).toBe(1);
    c.close();
  });

  it("RANDOMKEY", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    expect(plain(await c.call("RANDOMKEY"))).toBe(null);
    await c.call("SET", "only", "v");
    expect(plain(await c.call("RANDOMKEY"))).toBe("only");
    for (let i = 0; i < 20; i++) await c.call("SET", `r${i}`, "v");
    const picked = new Set<string>();
    for (let i = 0; i < 30; i++) picked.add(plain(await c.call("RANDOMKEY")) as string);
    expect(picked.size).toBeGreaterThan(1);
    for (const k of picked) expect(k === "only" || /^r\d+$/.test(k)).toBe(true);
    // Expired keys are never returned (and are removed when met).
    const r = await atomically(name, (s) => {
      for (let i = 0; i < 20; i++) expireNow(s, `r${i}`);
    }, "RANDOMKEY");
    expect(r).toBe("only");
    await c.call("SELECT", "5");
    expect(plain(await c.call("RANDOMKEY"))).toBe(null);
    expect(plain(await c.call("RANDOMKEY", "x"))).toEqual(arity("randomkey"));
    c.close();
  });

  it("EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT with NX, XX, GT, LT", async () => {
    const c = await NodeClient.node(uniqueNode());
    const far = 4102444800; // 2100-01-01, in seconds
    expect(plain(await c.call("EXPIRE", "nope", "100"))).toBe(0);
    await c.call("SET", "k", "v");
    // No TTL yet: XX and GT fail, NX and LT succeed.
    expect(plain(await c.call("EXPIRE", "k", "100", "XX"))).toBe(0);
    expect(plain(await c.call("EXPIRE", "k", "100", "GT"))).toBe(0);
    expect(plain(await c.call("TTL", "k"))).toBe(-1);
    expect(plain(await c.call("EXPIREAT", "k", String(far), "lt"))).toBe(1);
    expect(plain(await c.call("EXPIRETIME", "k"))).toBe(far);
    expect(plain(await c.call("PEXPIRETIME", "k"))).toBe(far * 1000);
    expect(plain(await c.call("EXPIRE", "k", "100", "NX"))).toBe(0);
    // With a TTL: GT only extends, LT only shortens.
    expect(plain(await c.call("PEXPIREAT", "k", String(far * 1000 - 1), "GT"))).toBe(0);
    expect(plain(await c.call("PEXPIREAT", "k", String(far * 1000), "GT"))).toBe(0);
    expect(plain(await c.call("PEXPIREAT", "k", String(far * 1000 + 1), "GT", "XX"))).toBe(1);
    expect(plain(await c.call("PEXPIRETIME", "k"))).toBe(far * 1000 + 1);
    expect(plain(await c.call("PEXPIREAT", "k", String(far * 1000 + 1), "LT"))).toBe(0);
    expect(plain(await c.call("EXPIRE", "k", "1000", "lt"))).toBe(1);
    const ttl = plain(await c.call("TTL", "k")) as number;
    expect(ttl).toBeGreaterThanOrEqual(999);
    expect(ttl).toBeLessThanOrEqual(1000);
    const pttl = plain(await c.call("PTTL", "k")) as number;
    expect(pttl).toBeGreaterThan(990_000);
    expect(pttl).toBeLessThanOrEqual(1_000_000);
    expect(plain(await c.call("PEXPIRE", "k", "1499"))).toBe(1);
    expect(plain(await c.call("TTL", "k"))).toBe(1); // rounded to the nearest second
    expect(plain(await c.call("EXPIRE", "k", "100", "XX"))).toBe(1);
    expect(plain(await c.call("EXPIRE", "k", "100", "NX"))).toBe(0);

    // Errors: options are checked before the number, the number before the key.
    expect(plain(await c.call("EXPIRE", "k", "100", "NX", "XX"))).toEqual(NX_COMBO);
    expect(plain(await c.call("EXPIRE", "k", "x", "NX", "GT"))).toEqual(NX_COMBO);
    expect(plain(await c.call("EXPIRE", "k", "100", "lt", "nx"))).toEqual(NX_COMBO);
    expect(plain(await c.call("EXPIRE", "k", "100", "GT", "LT"))).toEqual(GT_LT);
    expect(plain(await c.call("EXPIRE", "k", "100", "FOO"))).toEqual(err("ERR Unsupported option FOO"));
    expect(plain(await c.call("EXPIRE", "nope", "1.5"))).toEqual(NOT_INT);
    expect(plain(await c.call("EXPIRE", "k", "9223372036854775808"))).toEqual(NOT_INT);
    expect(plain(await c.call("EXPIRE", "nope", "9223372036854776"))).toEqual(err("ERR invalid expire time in 'expire' command"));
    expect(plain(await c.call("EXPIRE", "nope", "9223372036854775"))).toEqual(err("ERR invalid expire time in 'expire' command"));
    expect(plain(await c.call("EXPIREAT", "nope", "-9223372036854776"))).toEqual(err("ERR invalid expire time in 'expireat' command"));
    expect(plain(await c.call("PEXPIRE", "nope", "9223372036854775807"))).toEqual(err("ERR invalid expire time in 'pexpire' command"));
    expect(plain(await c.call("PEXPIREAT", "nope", "9223372036854775807"))).toBe(0);
    expect(plain(await c.call("TTL", "k"))).toBe(100);
    expect(plain(await c.call("EXPIRE", "k"))).toEqual(arity("expire"));

    // A time in the past deletes the key (LT with a negative time too).
    expect(plain(await c.call("EXPIRE", "k", "-1", "GT"))).toBe(0);
    expect(plain(await c.call("EXPIRE", "k", "-1", "LT"))).toBe(1);
    expect(plain(await c.call("EXISTS", "k"))).toBe(0);
    await c.call("SET", "k", "v");
    expect(plain(await c.call("PEXPIREAT", "k", "1"))).toBe(1);
    expect(plain(await c.call("TTL", "k"))).toBe(-2);
    await c.call("SET", "k", "v");
    expect(plain(await c.call("EXPIREAT", "k", "0", "NX"))).toBe(1);
    expect(plain(await c.call("EXISTS", "k"))).toBe(0);
    c.close();
  });

  it("TTL family on missing keys, keys without TTL, and PERSIST", async () => {
    const c = await NodeClient.node(uniqueNode());
    for (const cmd of ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]) {
      expect(plain(await c.call(cmd, "nope"))).toBe(-2);
    }
    await c.call("SET", "k", "v");
    for (const cmd of ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]) {
      expect(plain(await c.call(cmd, "k"))).toBe(-1);
      expect(plain(await c.call(cmd))).toEqual(arity(cmd.toLowerCase()));
    }
    expect(plain(await c.call("PERSIST", "k"))).toBe(0);
    expect(plain(await c.call("PERSIST", "nope"))).toBe(0);
    await c.call("EXPIRE", "k", "100");
    expect(plain(await c.call("PERSIST", "k"))).toBe(1);
    expect(plain(await c.call("TTL", "k"))).toBe(-1);
    expect(plain(await c.call("PERSIST", "k"))).toBe(0);
    expect(plain(await c.call("GET", "k"))).toBe("v");
    c.close();
  });

  it("OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    const cases: [string, string][] = [
      ["123", "int"], ["-5", "int"], ["9223372036854775807", "int"], ["9223372036854775808", "embstr"],
      ["0123", "embstr"], ["1.5", "embstr"], [" 1", "embstr"], ["", "embstr"],
      ["x".repeat(44), "embstr"], ["x".repeat(45), "raw"],
    ];
    for (const [i, [value, encoding]] of cases.entries()) {
      await c.call("SET", `s${i}`, value);
      expect(plain(await c.call("OBJECT", "ENCODING", `s${i}`)), `value ${JSON.stringify(value)}`).toBe(encoding);
    }
    await c.call("HSET", "h", "f", "v");
    expect(plain(await c.call("OBJECT", "encoding", "h"))).toBe("listpack");
    await c.call("HSET", "h", "long", "x".repeat(65));
    expect(plain(await c.call("OBJECT", "encoding", "h"))).toBe("hashtable");
    await c.call("HSET", "h2", ...Array.from({ length: 512 }, (_, i) => [`f${i}`, "v"]).flat());
    expect(plain(await c.call("OBJECT", "encoding", "h2"))).toBe("listpack"); // hash-max-listpack-entries is 512
    await c.call("HSET", "h2", "one-more", "v");
    expect(plain(await c.call("OBJECT", "encoding", "h2"))).toBe("hashtable");
    expect(plain(await c.call("OBJECT", "ENCODING", "nope"))).toBe(null);

    await c.call("SET", "shared", "100");
    expect(plain(await c.call("OBJECT", "REFCOUNT", "shared"))).toBe(2147483647);
    await c.call("SET", "big", "10000");
    expect(plain(await c.call("OBJECT", "REFCOUNT", "big"))).toBe(1);
    expect(plain(await c.call("OBJECT", "REFCOUNT", "h"))).toBe(1);
    expect(plain(await c.call("OBJECT", "REFCOUNT", "nope"))).toBe(null);

    expect(plain(await c.call("OBJECT", "IDLETIME", "big"))).toBe(0);
    expect(plain(await c.call("OBJECT", "IDLETIME", "nope"))).toBe(null);
    const lfu = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    expect(plain(await c.call("OBJECT", "FREQ", "big"))).toEqual(
      err(`ERR An LFU maxmemory policy is not selected, access frequency not tracked. ${lfu}`),
    );
    expect(plain(await c.call("OBJECT", "FREQ", "nope"))).toBe(null);
    await withServer(name, (s) => s.config.set([["maxmemory-policy", "allkeys-lfu"]]));
    expect(plain(await c.call("OBJECT", "FREQ", "big"))).toBe(5);
    expect(plain(await c.call("OBJECT", "IDLETIME", "big"))).toEqual(
      err(`ERR An LFU maxmemory policy is selected, idle time not tracked. ${lfu}`),
    );
    await withServer(name, (s) => s.config.set([["maxmemory-policy", "noeviction"]]));

    const help = await c.call("OBJECT", "HELP");
    expect(help.type).toBe("array");
    const lines = plain(help) as string[];
    expect(lines[0]).toBe("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    expect(lines.slice(-2)).toEqual(["HELP", "    Prints this help."]);
    expect(lines).toContain("FREQ <key>");
    expect(lines.length).toBe(15);
    expect(plain(await c.call("OBJECT", "FOO", "k"))).toEqual(err("ERR unknown subcommand 'FOO'. Try OBJECT HELP."));
    expect(plain(await c.call("OBJECT", "ENCODING"))).toEqual(arity("object|encoding"));
    expect(plain(await c.call("OBJECT"))).toEqual(arity("object"));
    c.close();
  });

  it("lazy expiry: every command sees an expired key as missing and removes it", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    const checks: [string[], unknown][] = [
      [["EXISTS", "k"], 0],
      [["TYPE", "k"], "none"],
      [["TTL", "k"], -2],
      [["PTTL", "k"], -2],
      [["EXPIRETIME", "k"], -2],
      [["TOUCH", "k"], 0],
      [["DEL", "k"], 0],
      [["UNLINK", "k"], 0],
      [["PERSIST", "k"], 0],
      [["EXPIRE", "k", "100"], 0],
      [["OBJECT", "ENCODING", "k"], null],
      [["COPY", "k", "k2"], 0],
      [["MOVE", "k", "1"], 0],
      [["RENAME", "k", "k2"], NO_SUCH_KEY],
      [["SCAN", "0", "MATCH", "k"], ["0", []]],
      [["SCAN", "0", "TYPE", "string"], ["0", []]],
    ];
    for (const [argv, expected] of checks) {
      await c.call("SET", "k", "v");
      fx.take();
      expect(await atomically(name, (s) => expireNow(s, "k"), ...argv), argv.join(" ")).toEqual(expected);
      expect(fx.take(), argv.join(" ")).toEqual([["DEL", "k"]]);
      expect(await withKeyspace(name, (k) => k.find(0, encoder.encode("k"))), argv.join(" ")).toBe(null);
    }
    c.close();
  });
});

// ---------------------------------------------------------------------------

describe("generic commands: replication effects", () => {
  it("each write leaves the exact effect Redis propagates, and replaying them rebuilds the same data", async () => {
    const name = uniqueNode("fx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    const expiresAt = (key: string, db = 0) => withKeyspace(name, (keys) => keys.find(db, encoder.encode(key))?.expiresAt ?? null);
    const run = async (...argv: string[]) => {
      const reply = await c.call(...argv);
      if (reply.type === "error") throw new Error(`${argv.join(" ")}: ${reply.value}`);
      return fx.take();
    };
    /** A relative EXPIRE must become PEXPIREAT with the stored absolute time (flags kept). */
    const relative = async (argv: string[], ms: number) => {
      const before = Date.now();
      const effects = await run(...argv);
      const after = Date.now();
      const at = await expiresAt(argv[1]);
      expect(at).not.toBe(null);
      expect(at!).toBeGreaterThanOrEqual(before + ms);
      expect(at!).toBeLessThanOrEqual(after + ms);
      expect(effects).toEqual([["PEXPIREAT", argv[1], String(at), ...argv.slice(3)]]);
    };

    expect(await run("SET", "k", "v")).toEqual([["SET", "k", "v"]]);
    await relative(["EXPIRE", "k", "100"], 100_000);
    await relative(["PEXPIRE", "k", "200000", "gt"], 200_000);
    await relative(["expire", "k", "50", "XX", "LT"], 50_000);
    expect(await run("EXPIREAT", "k", "4102444800", "GT")).toEqual([["PEXPIREAT", "k", "4102444800000", "GT"]]);
    expect(await run("pexpireat", "k", "4102444800123")).toEqual([["pexpireat", "k", "4102444800123"]]);
    expect(await expiresAt("k")).toBe(4102444800123);
    // Calls that change nothing propagate nothing.
    expect(await run("EXPIRE", "k", "100", "NX")).toEqual([]);
    expect(await run("EXPIRE", "nope", "100")).toEqual([]);
    expect(await run("PERSIST", "nope")).toEqual([]);
    expect(await run("DEL", "nope")).toEqual([]);
    expect(await run("RENAME", "k", "k")).toEqual([]);
    expect(await run("EXISTS", "k")).toEqual([]);

    expect(await run("PERSIST", "k")).toEqual([["PERSIST", "k"]]);
    expect(await run("PEXPIREAT", "k", "4102444800123")).toEqual([["PEXPIREAT", "k", "4102444800123"]]);
    expect(await run("RENAME", "k", "r")).toEqual([["RENAME", "k", "r"]]);
    expect(await run("RENAMENX", "r", "n")).toEqual([["RENAMENX", "r", "n"]]);
    expect(await run("COPY", "n", "c", "DB", "2")).toEqual([["COPY", "n", "c", "DB", "2"]]);
    expect(await run("COPY", "n", "c2")).toEqual([["COPY", "n", "c2"]]);
    expect(await run("MOVE", "c2", "3")).toEqual([["MOVE", "c2", "3"]]);
    expect(await run("HSET", "h", "f", "v")).toEqual([["HSET", "h", "f", "v"]]);
    expect(await run("COPY", "h", "hc", "REPLACE")).toEqual([["COPY", "h", "hc", "REPLACE"]]);
    expect(await run("SET", "u", "v")).toEqual([["SET", "u", "v"]]);
    expect(await run("UNLINK", "u", "nope")).toEqual([["UNLINK", "u", "nope"]]);
    expect(await run("SET", "d", "v")).toEqual([["SET", "d", "v"]]);
    expect(await run("DEL", "d", "d")).toEqual([["DEL", "d", "d"]]);

    // An expire time in the past deletes the key and propagates DEL (UNLINK with lazyfree-lazy-expire).
    expect(await run("SET", "p", "v")).toEqual([["SET", "p", "v"]]);
    expect(await run("EXPIRE", "p", "-10")).toEqual([["DEL", "p"]]);
    expect(await run("SET", "p", "v")).toEqual([["SET", "p", "v"]]);
    expect(await run("PEXPIREAT", "p", "1", "NX")).toEqual([["DEL", "p"]]);
    await withServer(name, (s) => s.config.set([["lazyfree-lazy-expire", "yes"]]));
    expect(await run("SET", "p", "v")).toEqual([["SET", "p", "v"]]);
    expect(await run("EXPIREAT", "p", "1")).toEqual([["UNLINK", "p"]]);
    await withServer(name, (s) => s.config.set([["lazyfree-lazy-expire", "no"]]));

    // Replaying the effects on a fresh node rebuilds the same keyspace, TTLs included.
    const all = fx.effects.slice();
    const copy = uniqueNode("fx-replay");
    (await NodeClient.node(copy)).close();
    await replay(copy, all);
    const dump = (node: string) =>
      withKeyspace(node, (keys) => {
        const out: string[] = [];
        for (let db = 0; db < 16; db++) {
          for (let cursor = 0; ;) {
            const { records, next } = keys.page(db, cursor, 100);
            for (const r of records) out.push(`${db}:${decoder.decode(r.key)}:${r.type}:${r.expiresAt}:${r.count}`);
            if (next === 0) break;
            cursor = next;
          }
        }
        return out.sort();
      });
    const original = await dump(name);
    expect(original.length).toBe(5); // n, h, hc in db 0; c in db 2; c2 in db 3
    expect(await dump(copy)).toEqual(original);
    c.close();
  });

  it("keys found expired by a command propagate DEL before the command's own effect, wrapped in MULTI/EXEC", async () => {
    const name = uniqueNode("fx");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    await c.call("SET", "a", "1");
    await c.call("SET", "b", "2");
    fx.take();
    expect(await atomically(name, (s) => expireNow(s, "b"), "RENAME", "a", "b")).toBe("OK");
    expect(fx.take()).toEqual([["MULTI"], ["DEL", "b"], ["RENAME", "a", "b"], ["EXEC"]]);
    await c.call("SET", "x", "1");
    fx.take();
    expect(await atomically(name, (s) => expireNow(s, "x"), "DEL", "x", "b")).toBe(1);
    expect(fx.take()).toEqual([["MULTI"], ["DEL", "x"], ["DEL", "x", "b"], ["EXEC"]]);
    await c.call("SET", "y", "1");
    fx.take();
    await withServer(name, (s) => s.config.set([["lazyfree-lazy-expire", "yes"]]));
    expect(await atomically(name, (s) => expireNow(s, "y"), "GET", "y")).toBe(null);
    expect(fx.take()).toEqual([["UNLINK", "y"]]);
    await withServer(name, (s) => s.config.set([["lazyfree-lazy-expire", "no"]]));
    c.close();
  });

  it("EXPIRE, PERSIST, RENAME, MOVE and COPY REPLACE invalidate WATCH; commands that change nothing do not", async () => {
    const name = uniqueNode();
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    const watched = async (setup: string[][], change: string[], key = "w") => {
      await a.call("DEL", "w", "w2", "src", "marker");
      for (const argv of setup) await a.call(...argv);
      expect(plain(await a.call("WATCH", key))).toBe("OK");
      const reply = await b.call(...change);
      expect(reply.type, change.join(" ")).not.toBe("error");
      await a.call("MULTI");
      await a.call("SET", "marker", "1");
      return plain(await a.call("EXEC"));
    };
    expect(await watched([["SET", "w", "v"]], ["EXPIRE", "w", "100"])).toBe(null);
    expect(await watched([["SET", "w", "v", "EX", "100"]], ["PERSIST", "w"])).toBe(null);
    expect(await watched([["SET", "w", "v"]], ["RENAME", "w", "w2"])).toBe(null);
    expect(await watched([["SET", "w", "v"]], ["SET", "w2", "x"])).toEqual(["OK"]);
    expect(await watched([["SET", "w2", "v"]], ["RENAME", "w2", "w"])).toBe(null);
    expect(await watched([["SET", "w", "v"]], ["MOVE", "w", "1"])).toBe(null);
    expect(await watched([["SET", "w", "v"], ["SET", "src", "x"]], ["COPY", "src", "w", "REPLACE"])).toBe(null);
    expect(await watched([["SET", "w", "v"]], ["EXPIRE", "w", "-1"])).toBe(null);
    expect(await watched([["SET", "w", "v"]], ["DEL", "w"])).toBe(null);
    // No change: the transaction runs.
    expect(await watched([["SET", "w", "v"]], ["PERSIST", "w"])).toEqual(["OK"]);
    expect(await watched([["SET", "w", "v"]], ["EXPIRE", "w", "100", "XX"])).toEqual(["OK"]);
    expect(await watched([["SET", "w", "v"]], ["TTL", "w"])).toEqual(["OK"]);
    a.close();
    b.close();
  });
});

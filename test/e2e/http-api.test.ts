/**
 * The HTTP API (Upstash Redis REST compatible) against a real tidekv
 * (`npm start`): the unmodified `@upstash/redis` SDK for every data type,
 * pipelines, transactions, base64 and binary values and read-your-writes;
 * then raw HTTP for every status code and header the API promises.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import { startTidekv, type TidekvServer } from "../support/processes.ts";

const TOKEN = "http-full-token";
const RO_TOKEN = "http-readonly-token";
const MAX_BODY = 65536;

let server: TidekvServer;

beforeAll(async () => {
  server = await startTidekv({
    vars: { TIDEKV_TOKEN: TOKEN, TIDEKV_READONLY_TOKEN: RO_TOKEN, TIDEKV_HTTP_MAX_BODY: String(MAX_BODY) },
  });
});

afterAll(async () => {
  await server?.stop();
});

let seq = 0;
const key = (tag: string) => `http:${tag}:${Date.now().toString(36)}:${seq++}`;

function sdk(options: Partial<RedisConfigNodejs> = {}): Redis {
  return new Redis({ url: server.url, token: TOKEN, enableTelemetry: false, retry: false, ...options });
}

interface Sent {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
  bytes: Uint8Array;
}

async function http(
  path: string,
  init: { method?: string; body?: BodyInit | null; headers?: Record<string, string>; token?: string | null } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(server.url + path, {
    method: init.method ?? (init.body != null ? "POST" : "GET"),
    body: init.body ?? undefined,
    headers,
    ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (resp2, HEAD)
  }
  return { status: response.status, headers: response.headers, text, json, bytes };
}

/** POSTs `size` bytes with Transfer-Encoding: chunked (no Content-Length). */
function chunkedPost(path: string, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: server.port,
      path,
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "transfer-encoding": "chunked" },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    const chunk = Buffer.alloc(16384, 0x79);
    for (let sent = 0; sent < size; sent += chunk.length) req.write(chunk);
    req.end();
  });
}

const post = (path: string, body: unknown, init: Parameters<typeof http>[1] = {}) =>
  http(path, { ...init, method: "POST", body: JSON.stringify(body) });

describe("@upstash/redis SDK against tidekv", () => {
  it("strings", async () => {
    const redis = sdk();
    const k = key("str");
    expect(await redis.set(k, "hello")).toBe("OK");
    expect(await redis.get(k)).toBe("hello");
    expect(await redis.append(k, " world")).toBe(11);
    expect(await redis.getrange(k, 0, 4)).toBe("hello");
    expect(await redis.strlen(k)).toBe(11);
    expect(await redis.get(key("missing"))).toBeNull();
    const n = key("n");
    expect(await redis.incr(n)).toBe(1);
    expect(await redis.incrby(n, 41)).toBe(42);
    expect(await redis.get<number>(n)).toBe(42);
    expect(await redis.incrbyfloat(n, 0.5)).toBe(42.5);
    await redis.mset({ [`${k}:a`]: "1", [`${k}:b`]: { nested: true } });
    expect(await redis.mget(`${k}:a`, `${k}:b`, key("none"))).toEqual([1, { nested: true }, null]);
    expect(await redis.set(k, "v2", { ex: 100 })).toBe("OK");
    const ttl = await redis.ttl(k);
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await redis.set(k, "nx", { nx: true })).toBeNull();
    expect(await redis.del(k, n)).toBe(2);
    expect(await redis.exists(k)).toBe(0);
  });

  it("hashes", async () => {
    const redis = sdk();
    const k = key("hash");
    expect(await redis.hset(k, { name: "tide", visits: 1 })).toBe(2);
    expect(await redis.hget(k, "name")).toBe("tide");
    expect(await redis.hincrby(k, "visits", 2)).toBe(3);
    expect(await redis.hgetall(k)).toEqual({ name: "tide", visits: 3 });
    expect(await redis.hlen(k)).toBe(2);
    expect(await redis.hexists(k, "name")).toBe(1);
    expect((await redis.hkeys(k)).sort()).toEqual(["name", "visits"]);
    expect(await redis.hdel(k, "name")).toBe(1);
    expect(await redis.hmget(k, "name", "visits")).toEqual({ name: null, visits: 3 });
    expect(await redis.hgetall(key("nohash"))).toBeNull();
  });

  it("lists", async () => {
    const redis = sdk();
    const k = key("list");
    expect(await redis.rpush(k, "a", "b", "c")).toBe(3);
    expect(await redis.lpush(k, "z")).toBe(4);
    expect(await redis.lrange(k, 0, -1)).toEqual(["z", "a", "b", "c"]);
    expect(await redis.llen(k)).toBe(4);
    expect(await redis.lpop(k)).toBe("z");
    expect(await redis.rpop(k, 2)).toEqual(["c", "b"]);
    expect(await redis.lindex(k, 0)).toBe("a");
    expect(await redis.lpop(key("nolist"))).toBeNull();
  });

  it("sets", async () => {
    const redis = sdk();
    const k = key("set");
    expect(await redis.sadd(k, "a", "b", "c")).toBe(3);
    expect(await redis.sadd(k, "a")).toBe(0);
    expect((await redis.smembers(k)).sort()).toEqual(["a", "b", "c"]);
    expect(await redis.sismember(k, "b")).toBe(1);
    expect(await redis.smismember(k, ["a", "x"])).toEqual([1, 0]);
    expect(await redis.srem(k, "a")).toBe(1);
    expect(await redis.scard(k)).toBe(2);
  });

  it("sorted sets", async () => {
    const redis = sdk();
    const k = key("zset");
    expect(await redis.zadd(k, { score: 1, member: "one" }, { score: 2.5, member: "two" }, { score: 3, member: "three" })).toBe(3);
    expect(await redis.zscore(k, "two")).toBe(2.5);
    expect(await redis.zrange(k, 0, -1)).toEqual(["one", "two", "three"]);
    expect(await redis.zrange(k, 0, 1, { withScores: true })).toEqual(["one", 1, "two", 2.5]);
    expect(await redis.zincrby(k, 10, "one")).toBe(11);
    expect(await redis.zrank(k, "one")).toBe(2);
    expect(await redis.zcard(k)).toBe(3);
    expect(await redis.zrange(k, "(2", "+inf", { byScore: true })).toEqual(["two", "three", "one"]);
    expect(await redis.zscore(k, "nobody")).toBeNull();
  });

  it("pipeline: replies in order, not atomic, errors per command", async () => {
    const redis = sdk({ enableAutoPipelining: false });
    const k = key("pipe");
    const out = await redis.pipeline().set(k, "1").incr(k).get(k).hset(`${k}:h`, { f: "v" }).exec();
    expect(out).toEqual(["OK", 2, 2, 1]);
    const kept = await redis.pipeline().set(k, "x").incr(k).get(k).exec({ keepErrors: true });
    expect(kept[0]).toEqual({ result: "OK", error: undefined });
    expect(kept[1].error).toBe("ERR value is not an integer or out of range");
    expect(kept[2].result).toBe("x");
    await expect(redis.pipeline().incr(k).exec()).rejects.toThrow(/ERR value is not an integer/);
  });

  it("auto-pipelined concurrent commands each get their own reply", async () => {
    const redis = sdk();
    const k = key("auto");
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => redis.set(`${k}:${i}`, String(i))));
    expect(replies.every((r) => r === "OK")).toBe(true);
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => redis.get<number>(`${k}:${i}`)));
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("multi-exec: atomic, same-slot keys, a clear error for keys in different slots", async () => {
    const redis = sdk();
    const tag = `{${key("tx")}}`;
    const out = await redis.multi().set(`${tag}:a`, "1").incr(`${tag}:a`).get(`${tag}:a`).exec();
    expect(out).toEqual(["OK", 2, 2]);
    await expect(redis.multi().set(`${tag}:a`, "1").set(key("elsewhere"), "2").exec()).rejects.toThrow(/CROSSSLOT/);
    // Nothing of the refused transaction ran.
    expect(await redis.get(`${tag}:a`)).toBe(2);
  });

  it("base64 responses (the SDK's default) and binary-safe values", async () => {
    const redis = sdk();
    const k = key("utf8");
    const text = "héllo ✓ 日本 \u0000 end";
    await redis.set(k, text);
    expect(await redis.get(k)).toBe(text);
    const plain = sdk({ responseEncoding: false });
    expect(await plain.get(k)).toBe(text);
    // Arbitrary bytes: sent as a POST body, read back through base64.
    const bin = key("bin");
    const bytes = new Uint8Array(256).map((_, i) => i);
    const set = await http(`/set/${encodeURIComponent(bin)}`, { method: "POST", body: bytes });
    expect(set.json).toEqual({ result: "OK" });
    const got = await http(`/get/${encodeURIComponent(bin)}`, { headers: { "Upstash-Encoding": "base64" } });
    const b64 = (got.json as { result: string }).result;
    expect(new Uint8Array(Buffer.from(b64, "base64"))).toEqual(bytes);
    expect(await http(`/strlen/${encodeURIComponent(bin)}`).then((r) => r.json)).toEqual({ result: 256 });
  });

  it("read-your-writes: every reply carries a sync token and the SDK sends it back", async () => {
    const redis = sdk({ enableAutoPipelining: false });
    const k = key("ryw");
    expect(redis.readYourWritesSyncToken).toBe("");
    await redis.set(k, "written");
    const token = redis.readYourWritesSyncToken;
    expect(token).toBeTruthy();
    expect(await redis.get(k)).toBe("written");
    const raw = await http(`/get/${k}`, { headers: { "upstash-sync-token": token! } });
    expect(raw.json).toEqual({ result: "written" });
    expect(raw.headers.get("upstash-sync-token")).toBeTruthy();
  });

  it("errors become UpstashError with the Redis error text", async () => {
    const redis = sdk({ enableAutoPipelining: false });
    const k = key("wrongtype");
    await redis.lpush(k, "x");
    await expect(redis.get(k)).rejects.toThrow("WRONGTYPE Operation against a key holding the wrong kind of value");
  });
});

describe("raw HTTP: requests", () => {
  it("POST / with a JSON array, numbers and booleans as arguments", async () => {
    const k = key("json");
    expect(await post("/", ["SET", k, 12.5, "EX", 100])).toMatchObject({ status: 200, json: { result: "OK" } });
    expect((await post("/", ["GET", k])).json).toEqual({ result: "12.5" });
    expect((await post("/", ["ECHO", true])).json).toEqual({ result: "true" });
    expect((await post("/", ["TTL", k])).json).toEqual({ result: 100 });
  });

  it("path style: segments, percent-encoding, POST body as the last argument, query pairs as trailing arguments", async () => {
    const k = key("path");
    expect((await http(`/set/${k}/a%2Fb%20c`)).json).toEqual({ result: "OK" });
    expect((await http(`/get/${k}`)).json).toEqual({ result: "a/b c" });
    expect((await http(`/set/${k}?EX=100`, { method: "POST", body: '{"json":"value"}' })).json).toEqual({ result: "OK" });
    expect((await http(`/get/${k}`)).json).toEqual({ result: '{"json":"value"}' });
    expect((await http(`/ttl/${k}`)).json).toEqual({ result: 100 });
    expect((await http(`/set/${k}/v?NX`)).json).toEqual({ result: null });
    expect((await http(`/SET/${k}/v2?XX&GET`, { method: "PUT" })).json).toEqual({ result: '{"json":"value"}' });
    const head = await http(`/get/${k}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
  });

  it("the _token query parameter is a credential, never an argument", async () => {
    const k = key("qtoken");
    expect((await http(`/set/${k}/v?_token=${TOKEN}`, { token: null })).json).toEqual({ result: "OK" });
    expect((await http(`/get/${k}?_token=${TOKEN}`, { token: null })).json).toEqual({ result: "v" });
  });

  it("pipeline replies [{result},{error}] with 200, even when commands fail", async () => {
    const k = key("rawpipe");
    const out = await post("/pipeline", [["SET", k, "1"], ["INCR", k], ["NOSUCHCMD"], ["LPUSH", k, "x"], ["GET", k]]);
    expect(out.status).toBe(200);
    expect(out.json).toEqual([
      { result: "OK" },
      { result: 2 },
      { error: "ERR unknown command 'NOSUCHCMD', with args beginning with: " },
      { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: "2" },
    ]);
  });

  it("multi-exec: results per command; a discarded transaction is one {error} with 400", async () => {
    const tag = `{${key("rawtx")}}`;
    const ok = await post("/multi-exec", [["SET", `${tag}:a`, "x"], ["INCR", `${tag}:a`], ["GET", `${tag}:a`]]);
    expect(ok.status).toBe(200);
    // Runtime errors do not discard a transaction (as in Redis).
    expect(ok.json).toEqual([{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: "x" }]);
    const discarded = await post("/multi-exec", [["SET", `${tag}:b`, "1"], ["GET"]]);
    expect(discarded.status).toBe(400);
    expect(discarded.json).toEqual({
      error: "EXECABORT Transaction discarded because of: ERR wrong number of arguments for 'get' command",
    });
    expect((await post("/", ["EXISTS", `${tag}:b`])).json).toEqual({ result: 0 });
    const cross = await post("/multi-exec", [["SET", key("x1"), "1"], ["SET", key("x2"), "1"]]);
    expect(cross).toMatchObject({ status: 400, json: { error: "CROSSSLOT Keys in request don't hash to the same slot" } });
  });

  it("blocking commands answer at once when they can, and at their timeout otherwise", async () => {
    const k = key("blocking");
    await post("/", ["RPUSH", k, "a"]);
    expect((await post("/", ["BLPOP", k, "1"])).json).toEqual({ result: [k, "a"] });
    expect((await post("/", ["BLPOP", k, "0.05"])).json).toEqual({ result: null });
  });

  it("commands that need a connection are refused", async () => {
    for (const argv of [["AUTH", TOKEN], ["SELECT", "1"], ["HELLO", "3"], ["SUBSCRIBE", "c"], ["MONITOR"]]) {
      const out = await post("/", argv);
      expect(out.status).toBe(400);
      expect((out.json as { error: string }).error).toMatch(/not available over the HTTP API/);
    }
  });
});

describe("raw HTTP: replies", () => {
  it("maps RESP to JSON as Upstash does: integers, nulls, nested arrays, flattened maps, doubles as strings, big integers exact", async () => {
    const k = key("map");
    await post("/", ["ZADD", k, "1.5", "a", "2", "b"]);
    expect((await post("/", ["ZSCORE", k, "a"])).json).toEqual({ result: "1.5" });
    expect((await post("/", ["ZRANGE", k, "0", "-1", "WITHSCORES"])).json).toEqual({ result: ["a", "1.5", "b", "2"] });
    expect((await post("/", ["ZSCORE", k, "nobody"])).json).toEqual({ result: null });
    // A RESP3 map (CONFIG GET) arrives flattened.
    expect((await post("/", ["CONFIG", "GET", "maxmemory-policy"])).json).toEqual({ result: ["maxmemory-policy", "noeviction"] });
    const big = key("big");
    await post("/", ["SET", big, "9007199254740993"]);
    const incr = await post("/", ["INCR", big]);
    expect(incr.text).toBe('{"result":9007199254740994}');
    const h = key("nested");
    await post("/", ["HSET", h, "f", "v"]);
    expect((await post("/", ["HSCAN", h, "0"])).json).toEqual({ result: ["0", ["f", "v"]] });
  });

  it("Upstash-Encoding: base64 encodes every string but OK; integers, nulls and errors stay", async () => {
    const b64 = { "Upstash-Encoding": "base64" };
    const k = key("b64");
    expect((await post("/", ["SET", k, "value"], { headers: b64 })).json).toEqual({ result: "OK" });
    expect((await post("/", ["GET", k], { headers: b64 })).json).toEqual({ result: Buffer.from("value").toString("base64") });
    expect((await post("/", ["PING"], { headers: b64 })).json).toEqual({ result: Buffer.from("PONG").toString("base64") });
    expect((await post("/", ["STRLEN", k], { headers: b64 })).json).toEqual({ result: 5 });
    expect((await post("/", ["GET", key("none")], { headers: b64 })).json).toEqual({ result: null });
    expect((await post("/", ["INCR", k], { headers: b64 })).json).toEqual({ error: "ERR value is not an integer or out of range" });
    const pipe = await post("/pipeline", [["MGET", k, key("none")], ["SET", k, "OK"], ["GET", k]], { headers: b64 });
    expect(pipe.json).toEqual([
      { result: [Buffer.from("value").toString("base64"), null] },
      { result: "OK" },
      { result: Buffer.from("OK").toString("base64") },
    ]);
  });

  it("Upstash-Response-Format: resp2 answers raw RESP2 bytes; combined with base64 it is a 400", async () => {
    const resp2 = { "Upstash-Response-Format": "resp2" };
    const k = key("resp2");
    const set = await post("/", ["SET", k, "v"], { headers: resp2 });
    expect(set.status).toBe(200);
    expect(set.headers.get("content-type")).toBe("application/octet-stream");
    expect(set.text).toBe("+OK\r\n");
    expect((await post("/", ["GET", k], { headers: resp2 })).text).toBe("$1\r\nv\r\n");
    expect((await post("/", ["GET", key("none")], { headers: resp2 })).text).toBe("$-1\r\n");
    const pipe = await post("/pipeline", [["INCR", key("c")], ["LRANGE", key("none"), "0", "-1"], ["INCR", k]], { headers: resp2 });
    expect(pipe.text).toBe(":1\r\n*0\r\n-ERR value is not an integer or out of range\r\n");
    const failed = await post("/", ["INCR", k], { headers: resp2 });
    expect(failed.status).toBe(400);
    expect(failed.text).toBe("-ERR value is not an integer or out of range\r\n");
    const both = await post("/", ["GET", k], { headers: { ...resp2, "Upstash-Encoding": "base64" } });
    expect(both.status).toBe(400);
    expect((both.json as { error: string }).error).toMatch(/cannot be combined/);
  });

  it("every reply sets upstash-sync-token, errors included, and a presented token is accepted", async () => {
    const k = key("sync");
    const write = await post("/", ["SET", k, "1"]);
    const token = write.headers.get("upstash-sync-token");
    expect(token).toBeTruthy();
    const failed = await post("/", ["LPUSH", k, "x"], { headers: { "upstash-sync-token": token! } });
    expect(failed.status).toBe(400);
    expect(failed.headers.has("upstash-sync-token")).toBe(true);
    const read = await post("/", ["GET", k], { headers: { "upstash-sync-token": token! } });
    expect(read.json).toEqual({ result: "1" });
    expect(read.headers.get("upstash-sync-token")).toBeTruthy();
    const denied = await post("/", ["GET", k], { token: "wrong" });
    expect(denied.headers.has("upstash-sync-token")).toBe(true);
  });
});

describe("raw HTTP: status codes", () => {
  it("400 for a failed command and for malformed bodies", async () => {
    expect(await post("/", ["GET"])).toMatchObject({ status: 400, json: { error: "ERR wrong number of arguments for 'get' command" } });
    for (const body of ["not json", "{}", "[]", '"SET"', '[["SET","a"]]', "[null]", '["SET",{"a":1}]']) {
      const out = await http("/", { method: "POST", body });
      expect(out.status, body).toBe(400);
      expect(typeof (out.json as { error: unknown }).error, body).toBe("string");
    }
    for (const body of ["[]", '["SET","a","b"]', "{", '[["GET"],"x"]']) {
      const out = await http("/pipeline", { method: "POST", body });
      expect(out.status, body).toBe(400);
    }
    expect((await http("/multi-exec", { method: "POST", body: "[]" })).status).toBe(400);
  });

  it("401 without a token or with a wrong one", async () => {
    for (const token of [null, "wrong", `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const out = await post("/", ["PING"], { token });
      expect(out.status, String(token)).toBe(401);
      expect(out.json).toEqual({ error: "WRONGPASS invalid or missing auth token" });
    }
    expect((await http(`/get/x?_token=wrong`, { token: null })).status).toBe(401);
    expect((await post("/pipeline", [["PING"]], { token: null })).status).toBe(401);
    expect((await post("/multi-exec", [["PING"]], { token: "nope" })).status).toBe(401);
    await expect(sdk({ token: "wrong" }).get("x")).rejects.toThrow(/WRONGPASS invalid or missing auth token/);
  });

  it("405 for other methods, and for /pipeline and /multi-exec without POST", async () => {
    for (const method of ["DELETE", "PATCH", "OPTIONS"]) {
      const out = await http("/get/x", { method });
      expect(out.status, method).toBe(405);
      expect(out.headers.get("allow")).toBe("GET, HEAD, POST, PUT");
    }
    expect((await http("/pipeline")).status).toBe(405);
    expect((await http("/multi-exec", { method: "DELETE" })).status).toBe(405);
    expect((await http("/pipeline", { method: "GET" })).headers.get("allow")).toBe("POST, PUT");
  });

  it("413 over the configured body limit (declared length and streamed)", async () => {
    const k = key("big");
    const ok = await http(`/set/${k}`, { method: "POST", body: "x".repeat(MAX_BODY) });
    expect(ok.status).toBe(200);
    const over = await http(`/set/${k}`, { method: "POST", body: "x".repeat(MAX_BODY + 1) });
    expect(over.status).toBe(413);
    expect((over.json as { error: string }).error).toMatch(/larger than the limit of 65536 bytes/);
    // Chunked, with no declared length: the limit is enforced while reading.
    const streamed = await chunkedPost(`/set/${k}`, MAX_BODY * 2);
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatch(/larger than the limit/);
    expect((await http(`/strlen/${k}`)).json).toEqual({ result: MAX_BODY });
  });
});

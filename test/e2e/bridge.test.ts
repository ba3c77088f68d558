/**
 * `tidekv bridge` (the real bin) in front of a real tidekv: redis-cli,
 * redis-benchmark and ioredis talk to it over TCP, unmodified.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { freePort, startTidekv, type TidekvServer } from "../support/processes.ts";
import { run, startTidekvCommand, tidekv, type Running } from "./cli-support.ts";

let server: TidekvServer;
let bridge: Running;
let port: number;
let nodeBridge: Running;
let nodePort: number;
const nodeName = `bridge-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  server = await startTidekv();
  port = await freePort();
  bridge = await startTidekvCommand(["bridge", "--listen", String(port), "--url", server.wsUrl("/resp")]);
  nodePort = await freePort();
  nodeBridge = await startTidekvCommand(["bridge", "--listen", String(nodePort), "--url", server.wsUrl(`/node/${nodeName}`)]);
});

afterAll(async () => {
  await bridge?.stop();
  await nodeBridge?.stop();
  await server?.stop();
});

const redisCli = (...args: string[]) => run("redis-cli", ["-p", String(port), ...args]);

describe("bridge with redis-cli", () => {
  it("one-shot commands, formatted and raw", async () => {
    expect((await redisCli("PING")).stdout.toString()).toBe("PONG\n");
    expect((await redisCli("SET", "greeting", "hello world")).stdout.toString()).toBe("OK\n");
    expect((await redisCli("--no-raw", "GET", "greeting")).stdout.toString()).toBe('"hello world"\n');
    expect((await redisCli("--no-raw", "GET", "missing")).stdout.toString()).toBe("(nil)\n");
    expect((await redisCli("--no-raw", "RPUSH", "list", "a", "b")).stdout.toString()).toBe("(integer) 2\n");
    expect((await redisCli("--no-raw", "LRANGE", "list", "0", "-1")).stdout.toString()).toBe('1) "a"\n2) "b"\n');
    expect((await redisCli("--no-raw", "GET", "list")).stdout.toString()).toBe(
      "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n",
    );
    expect((await redisCli("-3", "--no-raw", "HSET", "h", "f", "v")).stdout.toString()).toBe("(integer) 1\n");
    expect((await redisCli("-3", "--no-raw", "HGETALL", "h")).stdout.toString()).toBe('1# "f" => "v"\n');
  });

  it("an interactive-style session: SELECT and MULTI state live on the connection", async () => {
    const script = ["SELECT 3", "SET only-in-3 yes", "MULTI", "INCR tx", "INCR tx", "EXEC", "GET only-in-3", "SELECT 0", "GET only-in-3"].join("\n");
    // A standalone node: /resp is a cluster, where only db 0 exists.
    const out = (await run("redis-cli", ["-p", String(nodePort), "--no-raw"], { input: script + "\n" })).stdout.toString();
    expect(out).toBe(["OK", "OK", "OK", "QUEUED", "QUEUED", "1) (integer) 1\n2) (integer) 2", '"yes"', "OK", "(nil)", ""].join("\n"));
  });

  it("redis-benchmark -t set,get, plain and pipelined (-P 16)", async () => {
    for (const extra of [[], ["-P", "16"]]) {
      const r = await run("redis-benchmark", ["-p", String(port), "-t", "set,get", "-n", "2000", "-q", ...extra], { timeoutMs: 110_000 });
      const text = r.stdout.toString().replace(/\r/g, "\n");
      expect(r.code, r.stderr).toBe(0);
      expect(text).toMatch(/^SET: [\d.]+ requests per second/m);
      expect(text).toMatch(/^GET: [\d.]+ requests per second/m);
    }
    // The benchmark really wrote through the bridge (its default value is 3 bytes).
    expect((await redisCli("STRLEN", "key:__rand_int__")).stdout.toString()).toBe("3\n");
  }, 240_000);
});

describe("bridge with ioredis", () => {
  const clients: Redis[] = [];
  const connect = (db = 0) => {
    const r = new Redis({ host: "127.0.0.1", port: nodePort, db, maxRetriesPerRequest: 1 });
    clients.push(r);
    return r;
  };
  afterAll(() => clients.forEach((c) => c.disconnect()));

  it("a mixed workload: pipelining, MULTI/EXEC, WATCH, SELECT, binary values, blocking pops", async () => {
    const a = connect(1);
    const b = connect(0);
    // Pipelining: replies come back in order.
    const pipe = a.pipeline();
    for (let i = 0; i < 200; i++) pipe.incr("counter").set(`k${i}`, `v${i}`).get(`k${i}`);
    const results = await pipe.exec();
    results!.forEach(([err, value], i) => {
      expect(err).toBeNull();
      const n = Math.floor(i / 3);
      expect(value).toBe([n + 1, "OK", `v${n}`][i % 3]);
    });
    // SELECT is per connection: a is in db 1, b in db 0.
    expect(await b.get("counter")).toBeNull();
    await b.select(1);
    expect(await b.get("counter")).toBe("200");
    await b.select(0);
    // MULTI/EXEC.
    expect(await a.multi().set("tx", "1").incr("tx").get("tx").exec()).toEqual([
      [null, "OK"],
      [null, 2],
      [null, "2"],
    ]);
    // WATCH: a write from another connection aborts the transaction.
    await a.watch("watched");
    await b.select(1);
    await b.set("watched", "changed");
    expect(await a.multi().set("watched", "mine").exec()).toBeNull();
    expect(await a.get("watched")).toBe("changed");
    // Binary-safe values.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await a.set("bin", bytes);
    expect(await a.getBuffer("bin")).toEqual(bytes);
    // A blocking pop on one connection is served by a push from another.
    const popped = a.blpop("queue", 10);
    await new Promise((r) => setTimeout(r, 300));
    expect(await b.rpush("queue", "job")).toBe(1);
    expect(await popped).toEqual(["queue", "job"]);
    // Errors come back as ioredis ReplyErrors.
    await expect(a.lpush("tx", "x")).rejects.toThrow(/^WRONGTYPE/);
    // Many concurrent commands on many connections.
    const many = Array.from({ length: 5 }, (_, i) => connect(2 + (i % 2)));
    await Promise.all(many.flatMap((c, i) => Array.from({ length: 40 }, (_, j) => c.incr(`c${i % 2}`).then(() => j))));
    expect(await many[0].get("c0")).toBe("120");
    expect(await many[1].get("c1")).toBe("80");
  });
});

describe("bridge startup errors", () => {
  it("a port already in use is one clear line and exit status 1", async () => {
    const r = await tidekv(["bridge", "--listen", String(port), "--url", server.wsUrl("/resp")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tidekv: bridge: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+\n$/);
  });
});

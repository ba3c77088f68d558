/**
 * The client library (client/src) against a real tidekv (`npm start`):
 * pipelining order, RESP3, typed errors, transactions, databases, binary
 * values, and reconnection across a server restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTidekv, type TidekvServer } from "../support/processes.ts";
import { Client, ConnectionError, RedisError, type ClientEvent } from "../../client/src/index.ts";

let server: TidekvServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startTidekv();
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await server?.stop();
});

const node = (tag: string) => `client-${tag}-${Math.random().toString(36).slice(2, 8)}`;

async function open(path: string, options: ConstructorParameters<typeof Client>[1] = {}): Promise<Client> {
  const c = await Client.connect(server.wsUrl(path), options);
  clients.push(c);
  return c;
}

describe("client library against tidekv", () => {
  it("pipelines keep order: 500 mixed commands in one frame", async () => {
    const c = await open(`/node/${node("pipe")}`);
    const cmds: string[][] = [];
    for (let i = 0; i < 250; i++) cmds.push(["INCR", "n"], ["RPUSH", "list", String(i)]);
    const replies = await c.pipeline(cmds);
    replies.forEach((r, i) => expect(r).toBe(Math.floor(i / 2) + 1));
    expect(await c.call("LRANGE", "list", "0", "4")).toEqual(["0", "1", "2", "3", "4"]);
    // Concurrent callers on one client: each gets its own reply.
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => c.call("ECHO", `m${i}`)));
    expect(many).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  });

  it("RESP3: HELLO 3 on connect, maps and doubles come back typed", async () => {
    const c = await open(`/node/${node("resp3")}`, { protocol: 3 });
    await c.call("HSET", "h", "a", "1", "b", "2");
    expect(await c.call("HGETALL", "h")).toEqual({ a: "1", b: "2" });
    expect(await c.callReply(["HGETALL", "h"])).toMatchObject({ type: "map" });
    await c.call("ZADD", "z", "1.5", "m");
    expect(await c.callReply(["ZSCORE", "z", "m"])).toEqual({ type: "double", value: 1.5 });
    const r2 = await open(`/node/${node("resp2")}`);
    await r2.call("HSET", "h", "a", "1");
    expect(await r2.call("HGETALL", "h")).toEqual(["a", "1"]);
  });

  it("typed errors carry the code", async () => {
    const c = await open(`/node/${node("err")}`);
    await c.call("RPUSH", "l", "x");
    const e = await c.call("GET", "l").catch((x) => x);
    expect(e).toBeInstanceOf(RedisError);
    expect(e.code).toBe("WRONGTYPE");
    expect(e.message).toBe("WRONGTYPE Operation against a key holding the wrong kind of value");
    const e2 = await c.call("NOSUCHCOMMAND").catch((x) => x);
    expect(e2.code).toBe("ERR");
    const [ok, bad] = await c.pipeline([["SET", "s", "1"], ["INCR", "l"]]);
    expect(ok).toBe("OK");
    expect((bad as RedisError).code).toBe("WRONGTYPE");
  });

  it("multi(), SELECT and binary values", async () => {
    const path = `/node/${node("tx")}`;
    const c = await open(path, { db: 5 });
    expect(await c.multi([["SET", "a", "1"], ["INCR", "a"], ["GET", "a"]])).toEqual(["OK", 2, "2"]);
    const other = await open(path);
    expect(await other.call("GET", "a")).toBeNull(); // db 0
    await other.call("SELECT", "5");
    expect(await other.call("GET", "a")).toBe("2");
    const bytes = new Uint8Array(256).map((_, i) => i);
    await c.call("SET", "bin", bytes);
    expect(await c.callBuffer("GET", "bin")).toEqual(bytes);
  });

  it("reconnects after the server restarts: in-flight commands fail clearly, later ones wait and succeed", async () => {
    const events: ClientEvent[] = [];
    const name = node("restart");
    const c = await open(`/node/${name}`, {
      db: 2,
      onEvent: (e) => events.push(e),
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 200 },
    });
    await c.call("SET", "survivor", "yes");
    const blocked = c.call("BLPOP", "never", "0").catch((e) => e);
    await new Promise((r) => setTimeout(r, 200));
    const restarting = server.restart();
    const err = await blocked;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/lost before the reply to BLPOP arrived/);
    const waiting = c.call("GET", "survivor");
    await restarting;
    expect(await waiting).toBe("yes"); // db 2 was selected again on the new socket
    expect(events.some((e) => e.type === "disconnect")).toBe(true);
    expect(events.filter((e) => e.type === "connect").length).toBeGreaterThanOrEqual(2);
  });
});

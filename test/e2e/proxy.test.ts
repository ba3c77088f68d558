/**
 * The /resp routing proxy under `npm start` (wrangler dev, the default
 * 3-shard cluster): order of replies to many frames across shards, a
 * redis-cli-style transaction one frame at a time, a blocked command and the
 * frames behind it, and byte-for-byte differential runs against a single
 * redis-server (the proxy must look like one Redis for everything it splits
 * and routes).
 */
import { describe, expect, it } from "vitest";
import { encodeCommand } from "../../shared/resp/index.ts";
import { keySlot } from "../../shared/cluster/slot.ts";
import { runDifferential, useDifferentialServers, type Step } from "../support/differential.ts";
import { RespWsClient, showBytes, toBytes } from "../support/resp-client.ts";

const servers = useDifferentialServers();
const raw = (s: string) => showBytes(toBytes(s));
const got = (b: Uint8Array) => showBytes(b);
const shardOf = (key: string) => Math.min(2, Math.floor(keySlot(toBytes(key)) / (16384 / 3)));

async function open(): Promise<RespWsClient> {
  return RespWsClient.open(servers.tidekv.wsUrl("/resp"), { timeoutMs: 30_000 });
}

/** Differential runs against the proxy: every "fresh node" is /resp (FLUSHALL empties the cluster). */
function diff(name: string, steps: Step[]): Promise<void> {
  return runDifferential(name, steps, {
    targets: { redisPort: servers.redis.port, tidekvNodeUrl: () => servers.tidekv.wsUrl("/resp") },
  });
}

describe("/resp proxy, frame by frame", () => {
  it("replies to 300 separate frames for all three shards come back in order", async () => {
    const c = await open();
    const keys = Array.from({ length: 100 }, (_, i) => `ord:${i}`);
    expect(new Set(keys.map(shardOf)).size).toBe(3);
    for (const [i, key] of keys.entries()) {
      c.sendRaw(encodeCommand(["SET", key, String(i)]));
      c.sendRaw(encodeCommand(["INCR", key]));
      c.sendRaw(encodeCommand(["GET", key]));
    }
    const replies: string[] = [];
    for (let i = 0; i < 300; i++) replies.push(got(await c.readRaw()));
    const expected: string[] = [];
    for (const [i] of keys.entries()) {
      const v = String(i + 1);
      expected.push(raw("+OK\r\n"), raw(`:${i + 1}\r\n`), raw(`$${v.length}\r\n${v}\r\n`));
    }
    expect(replies).toEqual(expected);
    await c.close();
  });

  it("a transaction typed one command at a time (redis-cli)", async () => {
    const c = await open();
    expect(got(await c.commandRaw("MULTI"))).toBe(raw("+OK\r\n"));
    expect(got(await c.commandRaw("SET", "cli:{t}:a", "1"))).toBe(raw("+QUEUED\r\n"));
    expect(got(await c.commandRaw("INCRBY", "cli:{t}:a", "41"))).toBe(raw("+QUEUED\r\n"));
    expect(got(await c.commandRaw("GET", "cli:{t}:a"))).toBe(raw("+QUEUED\r\n"));
    expect(got(await c.commandRaw("EXEC"))).toBe(raw("*3\r\n+OK\r\n:42\r\n$2\r\n42\r\n"));
    await c.close();
  });

  it("frames sent behind a blocked command wait for it, then answer in order", async () => {
    const c = await open();
    const pusher = await open();
    c.sendRaw(encodeCommand(["BLPOP", "blk:{q}", "0"]));
    c.sendRaw(encodeCommand(["SET", "blk:other", "x"]));
    c.sendRaw(encodeCommand(["GET", "blk:other"]));
    // The SET waits behind BLPOP, as in Redis: nothing is there yet.
    expect(got(await pusher.commandRaw("EXISTS", "blk:other"))).toBe(raw(":0\r\n"));
    expect(got(await pusher.commandRaw("RPUSH", "blk:{q}", "job"))).toBe(raw(":1\r\n"));
    expect(got(await c.readRaw())).toBe(raw("*2\r\n$7\r\nblk:{q}\r\n$3\r\njob\r\n"));
    expect(got(await c.readRaw())).toBe(raw("+OK\r\n"));
    expect(got(await c.readRaw())).toBe(raw("$1\r\nx\r\n"));
    await c.close();
    await pusher.close();
  });
});

describe("/resp proxy vs one redis-server, byte for byte (RESP2 and RESP3)", () => {
  const keys = Array.from({ length: 40 }, (_, i) => `d:${i}`);
  it("multi-key commands split across shards", () =>
    diff("proxy-multikey", [
      { cmd: ["MSET", ...keys.flatMap((k, i) => [k, `v${i}`])] },
      { cmd: ["MGET", ...keys, "d:missing", keys[3]] },
      { cmd: ["EXISTS", ...keys, "d:missing", keys[0], keys[0]] },
      { cmd: ["TOUCH", ...keys.slice(0, 10), "d:missing"] },
      { cmd: ["DEL", ...keys.slice(0, 20), "d:missing"] },
      { cmd: ["UNLINK", ...keys.slice(15)] },
      { cmd: ["MGET", ...keys.slice(0, 5)] },
      { cmd: ["MSET", "d:a"] },
      { cmd: ["MSET", "d:a", "1", "d:b"] },
      { cmd: ["MGET"] },
      { cmd: ["DEL"] },
      { cmd: ["RPUSH", "d:list", "x"] },
      { cmd: ["MGET", "d:list", "d:a"] },
      { cmd: ["MSETNX", "d:{x}1", "1", "d:{x}2", "2"] },
      { cmd: ["MSETNX", "d:{x}1", "1", "d:{x}3", "3"] },
      { cmd: ["DBSIZE"] },
      { cmd: ["KEYS", "d:*"], compare: "unordered" },
      { cmd: ["RANDOMKEY"], compare: "type" },
      { cmd: ["FLUSHALL"] },
      { cmd: ["DBSIZE"] },
      { cmd: ["RANDOMKEY"] },
      { cmd: ["KEYS", "*"] },
    ]));

  it("one-slot commands, transactions, errors and connection commands", () =>
    diff("proxy-single", [
      { cmd: ["SET", "s:{u}:a", "1"] },
      { cmd: ["HSET", "s:{u}:h", "f1", "1", "f2", "2"] },
      { cmd: ["HGETALL", "s:{u}:h"] },
      { cmd: ["ZADD", "s:{u}:z", "1.5", "m"] },
      { cmd: ["ZSCORE", "s:{u}:z", "m"] },
      { cmd: ["GET", "s:{u}:none"] },
      { cmd: ["BLPOP", "s:{u}:none", "0.01"] },
      { cmd: ["SUNION", "s:{u}:x", "s:{u}:y"] },
      { cmd: ["RENAME", "s:{u}:a", "s:{u}:b"] },
      { cmd: ["MULTI"] },
      { cmd: ["INCR", "s:{u}:b"] },
      { cmd: ["LPUSH", "s:{u}:b", "x"] },
      { cmd: ["GET", "s:{u}:b"] },
      { cmd: ["EXEC"] },
      { cmd: ["MULTI"] },
      { cmd: ["MULTI"] },
      { cmd: ["NOSUCHCMD"] },
      { cmd: ["EXEC"] },
      { cmd: ["EXEC"] },
      { cmd: ["DISCARD"] },
      { cmd: ["WATCH", "s:{u}:b"] },
      { cmd: ["MULTI"] },
      { cmd: ["WATCH", "s:{u}:b"] },
      { cmd: ["GET", "s:{u}:b"] },
      { cmd: ["EXEC"] },
      { cmd: ["UNWATCH"] },
      { cmd: ["PING"] },
      { cmd: ["PING", "hello"] },
      { cmd: ["ECHO", "e"] },
      { cmd: ["PING", "a", "b"] },
      { cmd: ["GET"] },
      { cmd: ["NOSUCH", "a", "b"] },
      { cmd: ["SELECT", "0"] },
      { cmd: ["SCAN", "x"] },
      { cmd: ["INCR", "s:{u}:h"] },
    ]));
});

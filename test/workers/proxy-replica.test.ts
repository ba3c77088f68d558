/**
 * Replica reads with read-your-writes (docs/proxy.md): after READONLY on
 * /resp, reads are served by replicas that have applied the client's own
 * writes (TIDEKV.READAFTER), and by masters otherwise. The replica is made
 * to lag by holding its replication stream (pauseReplica).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createClusterRouter } from "../../worker/router/node-link.ts";
import { decodeSyncToken } from "../../worker/router/sync-token.ts";
import { calls, caughtUp, clusterReady, keysOnShard, pauseReplica, shardOf, slotOf } from "./proxy-support.ts";
import { NodeClient, plain } from "./support.ts";

const enc = new TextEncoder();
const argv = (...words: string[]) => words.map((w) => enc.encode(w));
const text = (reply: { type: string; value?: unknown }) => (reply.type === "bulk" ? new TextDecoder().decode(reply.value as Uint8Array) : reply.type);

beforeAll(async () => {
  await clusterReady();
});

describe("READONLY on /resp", () => {
  it("a lagging replica never hides the client's own write; a caught-up one serves reads", async () => {
    const [key] = keysOnShard("ryw:", 0, 1);
    const shard = await shardOf(slotOf(key));
    const replica = shard.replicas[0];
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("SET", key, "v0"))).toBe("OK");
    expect(plain(await c.call("READONLY"))).toBe("OK");
    await caughtUp(shard.master, replica);

    // Caught up: the replica serves the read.
    let replicaGets = await calls(replica, "get");
    let masterGets = await calls(shard.master, "get");
    expect(plain(await c.call("GET", key))).toBe("v0");
    expect(await calls(replica, "get")).toBe(replicaGets + 1);
    expect(await calls(shard.master, "get")).toBe(masterGets);

    // The replica stops applying the stream; the client writes and reads at once.
    const resume = await pauseReplica(replica);
    try {
      expect(plain(await c.call("SET", key, "v1"))).toBe("OK");
      replicaGets = await calls(replica, "get");
      masterGets = await calls(shard.master, "get");
      const guardsBefore = await calls(replica, "tidekv.readafter");
      expect(plain(await c.call("GET", key))).toBe("v1");
      // The replica was asked first, refused (behind), and the master answered.
      expect(await calls(replica, "tidekv.readafter")).toBe(guardsBefore + 1);
      expect(await calls(shard.master, "get")).toBe(masterGets + 1);
      // It really lags: read directly on it.
      const direct = await NodeClient.node(replica);
      expect(plain(await direct.call("READONLY"))).toBe("OK");
      expect(plain(await direct.call("GET", key))).toBe("v0");
      direct.close();
      // A pipeline: write then read in one frame, both see the write.
      const [set, get] = (await c.pipeline([["SET", key, "v2"], ["GET", key]])).map(plain);
      expect([set, get]).toEqual(["OK", "v2"]);
    } finally {
      await resume();
    }
    await caughtUp(shard.master, replica);
    replicaGets = await calls(replica, "get");
    expect(plain(await c.call("GET", key))).toBe("v2");
    expect(await calls(replica, "get")).toBe(replicaGets + 1);

    // READWRITE: back to masters only.
    expect(plain(await c.call("READWRITE"))).toBe("OK");
    replicaGets = await calls(replica, "get");
    expect(plain(await c.call("GET", key))).toBe("v2");
    expect(await calls(replica, "get")).toBe(replicaGets);
    c.close();
  });

  it("without READONLY every read goes to masters", async () => {
    const [key] = keysOnShard("rw-only:", 1, 1);
    const shard = await shardOf(slotOf(key));
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("SET", key, "x"))).toBe("OK");
    await caughtUp(shard.master, shard.replicas[0]);
    const replicaGets = await calls(shard.replicas[0], "get");
    expect(plain(await c.call("GET", key))).toBe("x");
    expect(await calls(shard.replicas[0], "get")).toBe(replicaGets);
    c.close();
  });

  it("writes made before READONLY are covered too", async () => {
    const [key] = keysOnShard("before-ro:", 2, 1);
    const shard = await shardOf(slotOf(key));
    const replica = shard.replicas[0];
    const c = await NodeClient.connect("/resp");
    await caughtUp(shard.master, replica);
    const resume = await pauseReplica(replica);
    try {
      expect(plain(await c.call("SET", key, "written-before"))).toBe("OK");
      expect(plain(await c.call("READONLY"))).toBe("OK");
      expect(plain(await c.call("GET", key))).toBe("written-before");
    } finally {
      await resume();
    }
    c.close();
  });
});

describe("sync tokens (the HTTP API's upstash-sync-token)", () => {
  it("a token from one session keeps a later session's replica reads fresh; no token may read stale", async () => {
    const router = createClusterRouter(env as never);
    const [key] = keysOnShard("tok:", 1, 1);
    const shard = await shardOf(slotOf(key));
    const replica = shard.replicas[0];
    const writer = await router.open({ readFromReplicas: true });
    expect(text(await writer.send(argv("SET", key, "a")))).toBe("simple");
    await caughtUp(shard.master, replica);

    const resume = await pauseReplica(replica);
    let token: string | null;
    try {
      expect((await writer.send(argv("SET", key, "b"))).type).toBe("simple");
      token = writer.syncToken;
      writer.close();
      const decoded = decodeSyncToken(token)!;
      expect(decoded.shards.get(shard.shardId)?.offset).toBeGreaterThan(0);

      // A new session with the token (the next HTTP request): sees "b".
      const withToken = await router.open({ readFromReplicas: true, syncToken: token });
      expect(text(await withToken.send(argv("GET", key)))).toBe("b");
      withToken.close();

      // A session without it reads the lagging replica: "a" (what the token protects against).
      const without = await router.open({ readFromReplicas: true });
      expect(text(await without.send(argv("GET", key)))).toBe("a");
      without.close();
    } finally {
      await resume();
    }
    await caughtUp(shard.master, replica);
    const replicaGets = await calls(replica, "get");
    const later = await router.open({ readFromReplicas: true, syncToken: token });
    expect(text(await later.send(argv("GET", key)))).toBe("b");
    expect(await calls(replica, "get")).toBe(replicaGets + 1);
    later.close();
  });
});

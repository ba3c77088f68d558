/**
 * Cross-runtime replication over the WebSocket protocol: `npm start`
 * (wrangler dev, Durable Object nodes) and a Deno node (deno/main.ts) on
 * loopback ports, each direction, with full sync, partial resync after the
 * Deno process is killed or restarted, and after the link drops.
 */
import { request } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTidekv, type TidekvServer } from "../support/processes.ts";
import { startDenoNode, type DenoNode } from "../support/deno.ts";
import { RespWsClient, utf8 } from "../support/resp-client.ts";
import type { Reply } from "../../shared/resp/index.ts";

const text = (reply: Reply): string => {
  if (reply.type === "bulk" || reply.type === "verbatim") return utf8(reply.value);
  if (reply.type === "simple" || reply.type === "error") return reply.value;
  if (reply.type === "integer") return String(reply.value);
  if (reply.type === "null") return "(nil)";
  return JSON.stringify(reply);
};

async function call(c: RespWsClient, ...argv: string[]): Promise<string> {
  return text(await c.command(...argv));
}

async function info(c: RespWsClient, section: string, field: string): Promise<string | undefined> {
  return (await call(c, "INFO", section)).match(new RegExp(`^${field}:(.*)$`, "m"))?.[1]?.trim();
}

/** Polls until `check` holds (a wait with a generous limit, not a timing assertion). */
async function until(what: string, check: () => Promise<boolean>, limitMs = 90_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes `count` keys prefix:i = prefix-value:i, pipelined 1,000 commands per frame; checks every reply. */
async function writeKeys(c: RespWsClient, prefix: string, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += 1000) {
    const n = Math.min(1000, from + count - start);
    const replies = await c.pipeline(Array.from({ length: n }, (_, i) => ["SET", `${prefix}:${start + i}`, `${prefix}-value:${start + i}`]));
    const bad = replies.find((r) => !(r.type === "simple" && r.value === "OK"));
    if (bad) throw new Error(`SET failed: ${text(bad)}`);
  }
}

/** Reads keys prefix:from.. back (pipelined GETs) and returns how many hold their expected value. */
async function countKeys(c: RespWsClient, prefix: string, from: number, count: number): Promise<number> {
  let good = 0;
  for (let start = from; start < from + count; start += 1000) {
    const n = Math.min(1000, from + count - start);
    const replies = await c.pipeline(Array.from({ length: n }, (_, i) => ["GET", `${prefix}:${start + i}`]));
    replies.forEach((r, i) => {
      if (r.type === "bulk" && utf8(r.value) === `${prefix}-value:${start + i}`) good++;
    });
  }
  return good;
}

/** The HTTP status of a WebSocket upgrade request (node:http: fetch refuses an Upgrade header). */
function upgradeStatus(port: number, path: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", Authorization: authorization },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Registers the end of a describe block's processes: every client, Deno node
 * and wrangler dev stopped after its tests, and their logs printed when a
 * test fails.
 */
function stopAfterwards(started: () => { tidekv?: TidekvServer; denoNodes: DenoNode[]; clients: RespWsClient[] }): void {
  afterAll(async () => {
    const { tidekv, denoNodes, clients } = started();
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(denoNodes.map((n) => n.stop()));
    await tidekv?.stop();
  });

  afterEach((context) => {
    if (context.task.result?.state !== "fail") return;
    const { tidekv, denoNodes } = started();
    // What the servers said, for the failure report.
    console.error(`--- wrangler dev log (tail) ---\n${tidekv?.log().slice(-6000)}`);
    for (const n of denoNodes) console.error(`--- deno node :${n.port} log (tail) ---\n${n.log().slice(-4000)}`);
  });
}

const linkUp = async (replica: RespWsClient) => (await info(replica, "replication", "master_link_status")) === "up";

describe("cross-runtime replication (wrangler dev + deno)", () => {
  let tidekv: TidekvServer;
  const denoNodes: DenoNode[] = [];
  const clients: RespWsClient[] = [];
  const open = async (url: string) => {
    const c = await RespWsClient.open(url, { timeoutMs: 60_000 });
    clients.push(c);
    return c;
  };
  const suffix = Date.now().toString(36);

  beforeAll(async () => {
    tidekv = await startTidekv();
  });

  stopAfterwards(() => ({ tidekv, denoNodes, clients }));

  it("a Deno replica follows a Durable Object master, and resumes with a partial resync after a SIGKILL", async () => {
    const masterName = `do-master-${suffix}`;
    const master = await open(tidekv.wsUrl(`/node/${masterName}`));
    await writeKeys(master, "key", 0, 10_000);

    const deno = await startDenoNode({ replicaof: tidekv.wsUrl(`/node/${masterName}`) });
    denoNodes.push(deno);
    let replica = await open(deno.wsUrl("/resp"));
    await until("the full sync", async () => (await linkUp(replica)) && (await call(replica, "DBSIZE")) === "10000");
    expect(await countKeys(replica, "key", 0, 10_000)).toBe(10_000);
    const role = await replica.command("ROLE");
    expect(role.type === "array" && text(role.value[0])).toBe("slave");
    expect(await info(master, "stats", "sync_full")).toBe("1");
    const partialBefore = Number(await info(master, "stats", "sync_partial_ok"));

    // A write after the sync travels on the stream.
    await call(master, "SET", "streamed", "yes");
    await until("the stream", async () => (await call(replica, "GET", "streamed")) === "yes");

    // SIGKILL: no shutdown, no goodbye. Then the master moves on without it.
    await deno.kill();
    await replica.closed;
    await writeKeys(master, "more", 0, 2_000);
    await call(master, "DEL", "key:0", "key:1");
    await call(master, "INCRBY", "counter", "5");

    await deno.restart();
    replica = await open(deno.wsUrl("/resp"));
    await until("the partial resync", async () => (await linkUp(replica)) && (await call(replica, "GET", "counter")) === "5");
    expect(Number(await info(master, "stats", "sync_partial_ok"))).toBe(partialBefore + 1);
    expect(await info(master, "stats", "sync_full")).toBe("1");
    expect(await call(replica, "DBSIZE")).toBe(await call(master, "DBSIZE"));
    expect(await countKeys(replica, "more", 0, 2_000)).toBe(2_000);
    expect(await call(replica, "EXISTS", "key:0", "key:1", "key:2")).toBe("1");
    expect(await call(replica, "DEBUG", "DIGEST")).toBe(await call(master, "DEBUG", "DIGEST"));
    // Same offsets (the master's stream PINGs move it on, so wait for the replica to catch up).
    await until("equal offsets", async () =>
      (await info(replica, "replication", "master_repl_offset")) === (await info(master, "replication", "master_repl_offset")));
  }, 300_000);

  it("a Durable Object replica follows a Deno master: full sync, partial resync after the link drops and after a restart", async () => {
    const deno = await startDenoNode({ name: `deno-master-${suffix}` });
    denoNodes.push(deno);
    let master = await open(deno.wsUrl("/resp"));
    await writeKeys(master, "dkey", 0, 10_000);
    const replicaName = `do-replica-${suffix}`;
    const replica = await open(tidekv.wsUrl(`/node/${replicaName}`));
    // The Durable Object dials the Deno node by URL (fetch with Upgrade: websocket).
    expect(await call(replica, "REPLICAOF", deno.wsUrl(`/node/deno-master-${suffix}`), "0")).toBe("OK");
    await until("the full sync", async () => (await linkUp(replica)) && (await call(replica, "DBSIZE")) === "10000");
    expect(await countKeys(replica, "dkey", 0, 10_000)).toBe(10_000);
    expect(await info(master, "stats", "sync_full")).toBe("1");
    expect(await info(master, "replication", "connected_slaves")).toBe("1");

    // The link drops (the master cuts its replica); writes go on meanwhile; the replica continues.
    // (CLIENT KILL TYPE replica: every client counts as "normal" in tidekv so far, so by id: the
    // replica's connection is the one whose last command is its REPLCONF ACK.)
    const replicaLine = (await call(master, "CLIENT", "LIST")).split("\n").find((l) => / cmd=(replconf|psync)\b/.test(l));
    const replicaId = replicaLine?.match(/\bid=(\d+)/)?.[1];
    expect(replicaId, await call(master, "CLIENT", "LIST")).toBeDefined();
    expect(await call(master, "CLIENT", "KILL", "ID", replicaId!)).toBe("1");
    await writeKeys(master, "dmore", 0, 1_000);
    await until("the partial resync after the drop", async () => (await linkUp(replica)) && (await call(replica, "DBSIZE")) === "11000");
    expect(await info(master, "stats", "sync_partial_ok")).toBe("1");
    expect(await info(master, "stats", "sync_full")).toBe("1");

    // A clean restart of the Deno master (SIGTERM): its backlog and ids are in SQLite, so the replica continues again.
    expect(await deno.terminate()).toBe(0);
    await master.closed;
    await deno.restart();
    master = await open(deno.wsUrl("/resp"));
    await writeKeys(master, "dafter", 0, 500);
    await until("the partial resync after the restart", async () => (await linkUp(replica)) && (await call(replica, "DBSIZE")) === "11500");
    expect(await info(master, "stats", "sync_partial_ok")).toBe("1"); // counters start over with the process
    expect(await info(master, "stats", "sync_full")).toBe("0");
    expect(await countKeys(replica, "dafter", 0, 500)).toBe(500);
    expect(await call(replica, "DEBUG", "DIGEST")).toBe(await call(master, "DEBUG", "DIGEST"));
  }, 300_000);
});

describe("cross-runtime replication with a token configured", () => {
  const token = `e2e-token-${Date.now().toString(36)}`;
  const auth = { headers: { Authorization: `Bearer ${token}` }, timeoutMs: 60_000 };
  let tidekv: TidekvServer;
  const denoNodes: DenoNode[] = [];
  const clients: RespWsClient[] = [];
  const open = async (url: string, options: typeof auth | { timeoutMs: number } = auth) => {
    const c = await RespWsClient.open(url, options);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    tidekv = await startTidekv({ vars: { TIDEKV_TOKEN: token } });
  });

  stopAfterwards(() => ({ tidekv, denoNodes, clients }));

  it("a Deno replica without the token authenticates its link with masterauth", async () => {
    const masterName = `auth-master-${Date.now().toString(36)}`;
    const master = await open(tidekv.wsUrl(`/node/${masterName}`));
    await writeKeys(master, "akey", 0, 1_000);
    const deno = await startDenoNode(); // no TIDEKV_TOKEN: its links present nothing
    denoNodes.push(deno);
    const replica = await open(deno.wsUrl("/resp"), { timeoutMs: 60_000 });
    // Without credentials the master refuses the handshake (NOAUTH) and the link stays down.
    expect(await call(replica, "REPLICAOF", tidekv.wsUrl(`/node/${masterName}`), "0")).toBe("OK");
    await until("a refused handshake", async () =>
      /cmdstat_replconf:.*rejected_calls=[1-9]/.test(await call(master, "INFO", "commandstats")));
    expect(await info(replica, "replication", "master_link_status")).toBe("down");
    expect(await call(replica, "DBSIZE")).toBe("0");
    // With masterauth the handshake sends AUTH <token> and the next attempt succeeds.
    expect(await call(replica, "CONFIG", "SET", "masterauth", token)).toBe("OK");
    await until("the authenticated link", async () => (await linkUp(replica)) && (await call(replica, "DBSIZE")) === "1000");
    expect(await countKeys(replica, "akey", 0, 1_000)).toBe(1_000);
    expect(await call(replica, "DEBUG", "DIGEST")).toBe(await call(master, "DEBUG", "DIGEST"));
  }, 180_000);

  it("a Durable Object replica presents the deployment's token to a Deno master that requires it", async () => {
    const name = `auth-deno-${Date.now().toString(36)}`;
    const deno = await startDenoNode({ name, env: { TIDEKV_TOKEN: token } });
    denoNodes.push(deno);
    // The Deno master refuses anonymous commands, as the worker does.
    const anonymous = await open(deno.wsUrl("/resp"), { timeoutMs: 60_000 });
    expect(await call(anonymous, "GET", "x")).toBe("NOAUTH Authentication required.");
    expect(await upgradeStatus(deno.port, "/resp", "Bearer wrong")).toBe(401);
    await expect(RespWsClient.open(deno.wsUrl("/resp"), { headers: { Authorization: "Bearer wrong" } })).rejects.toThrow();
    const master = await open(deno.wsUrl("/resp"));
    await writeKeys(master, "bkey", 0, 1_000);
    const replica = await open(tidekv.wsUrl(`/node/auth-do-replica-${Date.now().toString(36)}`));
    expect(await call(replica, "REPLICAOF", deno.wsUrl(`/node/${name}`), "0")).toBe("OK");
    await until("the link", async () => (await linkUp(replica)) && (await call(replica, "DBSIZE")) === "1000");
    expect(await call(replica, "DEBUG", "DIGEST")).toBe(await call(master, "DEBUG", "DIGEST"));
  }, 180_000);
});

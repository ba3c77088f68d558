// The Deno server in-process: routes, named nodes, replication between two nodes of one process, restart.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { serve, type DenoServer } from "./server.ts";
import { infoField, until, WsClient } from "./testing.ts";

function start(dataDir: string): DenoServer {
  return serve({ port: 0, dataDir, sync: "normal", log: (level, message) => level !== "info" && console.error(level, message) });
}

function withServer(fn: (server: DenoServer, dataDir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dataDir = Deno.makeTempDirSync({ prefix: "tidekv-deno-server-" });
    const server = start(dataDir);
    try {
      await fn(server, dataDir);
    } finally {
      await server.shutdown();
      Deno.removeSync(dataDir, { recursive: true });
    }
  };
}

const url = (server: DenoServer, path: string) => `ws://127.0.0.1:${server.port}${path}`;

Deno.test("routes: / text, 426 without an upgrade, 400 for a bad node name", withServer(async (server) => {
  const root = await fetch(`http://127.0.0.1:${server.port}/`);
  ok((await root.text()).startsWith("tidekv: RESP over WebSocket"));
  const plain = await fetch(`http://127.0.0.1:${server.port}/resp`);
  assertEquals(plain.status, 426);
  await plain.body?.cancel();
  const bad = await fetch(`http://127.0.0.1:${server.port}/node/a%2Fb`, { headers: { Upgrade: "websocket" } });
  assertEquals(bad.status, 400);
  await bad.body?.cancel();
}));

Deno.test("/resp is the default node; /node/NAME nodes are separate files created on first use", withServer(async (server, dataDir) => {
  const resp = await WsClient.open(url(server, "/resp"));
  const viaName = await WsClient.open(url(server, "/node/default"));
  const other = await WsClient.open(url(server, "/node/other"));
  assertEquals(await resp.call("SET", "k", "from-resp"), "OK");
  assertEquals(await viaName.call("GET", "k"), "from-resp");
  assertEquals(await other.call("GET", "k"), null);
  assertEquals(await other.pipeline([["SET", "k", "other"], ["GET", "k"]]), ["OK", "other"]);
  assertEquals(await resp.call("GET", "k"), "from-resp");
  const files = [...Deno.readDirSync(dataDir)].map((e) => e.name).filter((n) => n.endsWith(".sqlite")).sort();
  assertEquals(files, ["default.sqlite", "other.sqlite"]);
  await Promise.all([resp.close(), viaName.close(), other.close()]);
}));

Deno.test("a node follows another node of the same process by name; a restart resumes with a partial resync", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "tidekv-deno-server-" });
  let server = start(dataDir);
  try {
    let master = await WsClient.open(url(server, "/node/m"));
    let replica = await WsClient.open(url(server, "/node/r"));
    const keys = Array.from({ length: 500 }, (_, i) => ["SET", `key:${i}`, `value:${i}`]);
    await master.pipeline(keys);
    assertEquals(await replica.call("REPLICAOF", "m", "0"), "OK");
    await until("full sync", async () => infoField(await replica.call("INFO", "replication"), "master_link_status") === "up");
    await master.call("SET", "after-sync", "1");
    await until("stream", async () => (await replica.call("GET", "after-sync")) === "1");
    assertEquals(await replica.call("DBSIZE"), 501);
    assertEquals(await replica.call("DEBUG", "DIGEST"), await master.call("DEBUG", "DIGEST"));
    assertEquals(infoField(await master.call("INFO", "stats"), "sync_full"), "1");

    // Restart the whole process state: both nodes closed, reopened from their files.
    await Promise.all([master.close(), replica.close()]);
    await server.shutdown();
    server = start(dataDir);
    master = await WsClient.open(url(server, "/node/m"));
    await master.pipeline(Array.from({ length: 100 }, (_, i) => ["INCR", `counter:${i % 7}`]));
    replica = await WsClient.open(url(server, "/node/r"));
    await until("partial resync", async () => {
      const info = await replica.call("INFO", "replication");
      return infoField(info, "master_link_status") === "up" && (await replica.call("GET", "counter:0")) === "15";
    });
    const stats = await master.call("INFO", "stats");
    assertEquals(infoField(stats, "sync_partial_ok"), "1");
    assertEquals(infoField(stats, "sync_full"), "0"); // counters restart with the process, as in Redis
    assertEquals(await replica.call("DEBUG", "DIGEST"), await master.call("DEBUG", "DIGEST"));
    await Promise.all([master.close(), replica.close()]);
  } finally {
    await server.shutdown();
    Deno.removeSync(dataDir, { recursive: true });
  }
});

Deno.test("masterauth: the link sends AUTH from CONFIG SET masterauth/masteruser", withServer(async (server) => {
  const master = await WsClient.open(url(server, "/node/am"));
  const replica = await WsClient.open(url(server, "/node/ar"));
  await master.call("SET", "k", "v");
  // No password is configured on the master: the one-argument AUTH is refused and the link stays down.
  assertEquals(await replica.call("CONFIG", "SET", "masterauth", "s3cret"), "OK");
  assertEquals(await replica.call("REPLICAOF", "am", "0"), "OK");
  await until("a refused AUTH", async () => {
    const stats = String(await master.call("INFO", "commandstats"));
    return /cmdstat_auth:calls=\d+.*failed_calls=[1-9]/.test(stats) || /cmdstat_auth:calls=[1-9]/.test(stats);
  });
  assertEquals(infoField(await replica.call("INFO", "replication"), "master_link_status"), "down");
  assertEquals(await replica.call("GET", "k"), null);
  // AUTH default <password> logs in (the default user is nopass until tokens exist): the link comes up.
  assertEquals(await replica.call("CONFIG", "SET", "masteruser", "default"), "OK");
  await until("the link", async () => (await replica.call("GET", "k")) === "v");
  assertEquals(infoField(await replica.call("INFO", "replication"), "master_link_status"), "up");
  // The refused attempts left no half-open link behind on the master.
  assertEquals(infoField(await master.call("INFO", "clients"), "connected_clients"), "2");
  await Promise.all([master.close(), replica.close()]);
}));

Deno.test("tokens: as on the worker, checked on the upgrade or by AUTH; links present the token", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "tidekv-deno-server-" });
  const server = serve({ port: 0, dataDir, sync: "normal", tokens: { token: "full-secret", readonlyToken: "ro-secret" }, log: () => {} });
  try {
    const wrong = await fetch(`http://127.0.0.1:${server.port}/resp`, { headers: { Upgrade: "websocket", Authorization: "Bearer nope" } });
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();

    const anonymous = await WsClient.open(url(server, "/node/t"));
    assertEquals(await anonymous.call("GET", "k"), { error: "NOAUTH Authentication required." });
    assertEquals(await anonymous.call("AUTH", "full-secret"), "OK");
    assertEquals(await anonymous.call("SET", "k", "v"), "OK");

    const full = await WsClient.open(url(server, "/node/t?token=full-secret"));
    assertEquals(await full.call("GET", "k"), "v");
    const readonly = await WsClient.open(url(server, "/node/t?token=ro-secret"));
    assertEquals(await readonly.call("GET", "k"), "v");
    assertEquals(String((await readonly.call("SET", "k", "w") as { error: string }).error).split(" ")[0], "NOPERM");

    // A node of this process follows another by name: the link presents the token, no masterauth needed.
    const replica = await WsClient.open(url(server, "/node/t2?token=full-secret"));
    assertEquals(await replica.call("REPLICAOF", "t", "0"), "OK");
    await until("the link", async () => (await replica.call("GET", "k")) === "v");
    await Promise.all([anonymous.close(), full.close(), readonly.close(), replica.close()]);
  } finally {
    await server.shutdown();
    Deno.removeSync(dataDir, { recursive: true });
  }
});

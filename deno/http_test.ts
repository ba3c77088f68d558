// The worker's HTTP API (Upstash REST compatible, worker/http) served by the Deno server in-process, on its default node.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { serve, type DenoServer } from "./server.ts";
import { WsClient } from "./testing.ts";

function withServer(
  fn: (server: DenoServer, http: (path: string, init?: RequestInit) => Promise<{ status: number; body: unknown }>) => Promise<void>,
  options: { tokens?: { token: string | null; readonlyToken: string | null }; defaultName?: string } = {},
): () => Promise<void> {
  return async () => {
    const dataDir = Deno.makeTempDirSync({ prefix: "tidekv-deno-http-" });
    const server = serve({ port: 0, dataDir, sync: "normal", log: () => {}, ...options });
    const http = async (path: string, init?: RequestInit) => {
      const response = await fetch(`http://127.0.0.1:${server.port}${path}`, init);
      return { status: response.status, body: await response.json() };
    };
    try {
      await fn(server, http);
    } finally {
      await server.shutdown();
      Deno.removeSync(dataDir, { recursive: true });
    }
  };
}

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: "POST", body: JSON.stringify(body), headers });

Deno.test("POST / runs one command; errors are 400 with the node's error text", withServer(async (_server, http) => {
  assertEquals(await http("/", post(["SET", "k", "v", "EX", 100])), { status: 200, body: { result: "OK" } });
  assertEquals(await http("/", post(["GET", "k"])), { status: 200, body: { result: "v" } });
  assertEquals(await http("/", post(["TTL", "k"])), { status: 200, body: { result: 100 } });
  assertEquals(await http("/", post(["INCR", "k"])), { status: 400, body: { error: "ERR value is not an integer or out of range" } });
  assertEquals(await http("/", post(["GET", "missing"])), { status: 200, body: { result: null } });
  assertEquals((await http("/", post(["SUBSCRIBE", "c"]))).status, 400);
}));

Deno.test("path style: GET /set/k/v then /get/k; the data is the default node's (/resp)", withServer(async (server, http) => {
  assertEquals(await http("/set/greeting/hello%20world"), { status: 200, body: { result: "OK" } });
  assertEquals(await http("/get/greeting"), { status: 200, body: { result: "hello world" } });
  assertEquals(await http("/set/n/1?EX=50"), { status: 200, body: { result: "OK" } });
  assertEquals(await http("/ttl/n"), { status: 200, body: { result: 50 } });
  const ws = await WsClient.open(`ws://127.0.0.1:${server.port}/resp`);
  assertEquals(await ws.call("GET", "greeting"), "hello world");
  assertEquals(await ws.call("SET", "from-ws", "x"), "OK");
  await ws.close();
  assertEquals(await http("/get/from-ws"), { status: 200, body: { result: "x" } });
}, { defaultName: "main" }));

Deno.test("/pipeline: every reply, errors in place", withServer(async (_server, http) => {
  const out = await http("/pipeline", post([["SET", "a", "1"], ["INCR", "a"], ["HSET", "a", "f", "v"], ["MGET", "a", "none"]]));
  assertEquals(out, {
    status: 200,
    body: [
      { result: "OK" },
      { result: 2 },
      { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: ["2", null] },
    ],
  });
}));

Deno.test("/multi-exec: one transaction; a queueing error discards it", withServer(async (_server, http) => {
  assertEquals(await http("/multi-exec", post([["SET", "{t}a", "1"], ["INCRBY", "{t}a", "5"], ["GET", "{t}a"]])), {
    status: 200,
    body: [{ result: "OK" }, { result: 6 }, { result: "6" }],
  });
  const discarded = await http("/multi-exec", post([["SET", "{t}a", "9"], ["NOSUCHCOMMAND"]]));
  assertEquals(discarded.status, 400);
  assertEquals(String((discarded.body as { error: string }).error).startsWith("EXECABORT"), true);
  assertEquals(await http("/get/{t}a"), { status: 200, body: { result: "6" } });
  assertEquals((await http("/multi-exec", post([["SET", "a", "1"], ["SET", "b", "2"]]))).body, {
    error: "CROSSSLOT Keys in request don't hash to the same slot",
  });
}));

Deno.test("tokens: as on the worker (Bearer or ?_token=; the read-only token cannot write)", withServer(async (_server, http) => {
  assertEquals(await http("/get/k"), { status: 401, body: { error: "WRONGPASS invalid or missing auth token" } });
  assertEquals((await http("/set/k/v", { headers: { Authorization: "Bearer wrong" } })).status, 401);
  assertEquals(await http("/set/k/v", { headers: { Authorization: "Bearer full-secret" } }), { status: 200, body: { result: "OK" } });
  assertEquals(await http("/get/k?_token=ro-secret"), { status: 200, body: { result: "v" } });
  const refused = await http("/set/k/w?_token=ro-secret");
  assertEquals(refused.status, 400);
  assertEquals(String((refused.body as { error: string }).error).startsWith("NOPERM"), true);
  assertEquals(await http("/get/k?_token=full-secret"), { status: 200, body: { result: "v" } });
}, { tokens: { token: "full-secret", readonlyToken: "ro-secret" } }));

/**
 * Authentication and authorization on every public route of a real tidekv:
 * the HTTP API, ws://HOST/resp and ws://HOST/node/NAME, with no token, a wrong
 * token, the read-only token, and an ACL user limited to `~app:*` and
 * `+@read`; a deployment without tokens is open; and internal traffic
 * (x-tidekv-* headers, RPC-like paths) is refused on every public route.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "@upstash/redis";
import { startTidekv, type TidekvServer } from "../support/processes.ts";
import { RespWsClient, type Arg } from "../support/resp-client.ts";
import type { Reply } from "../../shared/resp/index.ts";

const TOKEN = "auth-full-token";
const RO_TOKEN = "auth-readonly-token";
const NOAUTH = "NOAUTH Authentication required.";
const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";

let secured: TidekvServer;
let open: TidekvServer;
const clients: RespWsClient[] = [];

beforeAll(async () => {
  [secured, open] = await Promise.all([
    startTidekv({ vars: { TIDEKV_TOKEN: TOKEN, TIDEKV_READONLY_TOKEN: RO_TOKEN } }),
    startTidekv(),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.allSettled([secured?.stop(), open?.stop()]);
});

let seq = 0;
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${seq++}`;

async function ws(server: TidekvServer, path: string, headers?: Record<string, string>): Promise<RespWsClient> {
  const c = await RespWsClient.open(server.wsUrl(path), headers ? { headers } : undefined);
  clients.push(c);
  return c;
}

/** A reply as plain data: strings, numbers, arrays, { error }. */
function plain(reply: Reply): unknown {
  switch (reply.type) {
    case "bulk":
    case "verbatim":
      return new TextDecoder().decode(reply.value);
    case "simple":
      return reply.value;
    case "error":
      return { error: reply.value };
    case "integer":
      return Number(reply.value);
    case "null":
    case "nullarray":
      return null;
    case "array":
    case "set":
    case "push":
      return reply.value.map(plain);
    case "map":
      return reply.value.flatMap(([k, v]) => [plain(k), plain(v)]);
    default:
      return reply.value;
  }
}

/** The HTTP status a WebSocket upgrade gets (101 when accepted). */
function upgradeStatus(server: TidekvServer, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: server.port,
      path,
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

const call = async (c: RespWsClient, ...argv: Arg[]) => plain(await c.command(...argv));

async function http(server: TidekvServer, path: string, init: RequestInit & { bearer?: string | null; basic?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
  if (init.basic) headers.set("authorization", `Basic ${Buffer.from(init.basic).toString("base64")}`);
  const response = await fetch(server.url + path, { ...init, headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

const command = (server: TidekvServer, argv: unknown[], auth: { bearer?: string | null; basic?: string } = {}) =>
  http(server, "/", { method: "POST", body: JSON.stringify(argv), ...auth });

const RESP_ROUTES = ["/resp", "/node/auth-node-routes"];

describe("RESP routes with a token configured", () => {
  for (const route of RESP_ROUTES) {
    describe(route, () => {
      it("refuses every command but AUTH/HELLO/QUIT/RESET before authentication", async () => {
        const c = await ws(secured, route);
        expect(await call(c, "PING")).toEqual({ error: NOAUTH });
        expect(await call(c, "GET", "k")).toEqual({ error: NOAUTH });
        expect(await call(c, "SET", "k", "v")).toEqual({ error: NOAUTH });
        expect(await call(c, "ACL", "WHOAMI")).toEqual({ error: NOAUTH });
        // A node words a refused EXEC as Redis does; the /resp proxy answers it itself.
        const exec = route === "/resp" ? NOAUTH : `EXECABORT Transaction discarded because of: ${NOAUTH}`;
        expect(await call(c, "EXEC")).toEqual({ error: exec });
        expect(await call(c, "RESET")).toBe("RESET");
        expect(await call(c, "HELLO", "3")).toEqual({ error: expect.stringMatching(/^NOAUTH HELLO must be called/) });
        expect(await call(c, "QUIT")).toBe("OK");
      });

      it("a wrong token gets WRONGPASS; AUTH <token> and AUTH default <token> work", async () => {
        const c = await ws(secured, route);
        expect(await call(c, "AUTH", "wrong")).toEqual({ error: WRONGPASS });
        expect(await call(c, "AUTH", "default", "wrong")).toEqual({ error: WRONGPASS });
        expect(await call(c, "AUTH", "nobody", TOKEN)).toEqual({ error: WRONGPASS });
        expect(await call(c, "PING")).toEqual({ error: NOAUTH });
        expect(await call(c, "AUTH", TOKEN)).toBe("OK");
        expect(await call(c, "PING")).toBe("PONG");
        expect(await call(c, "ACL", "WHOAMI")).toBe("default");
        const d = await ws(secured, route);
        expect(await call(d, "AUTH", "default", TOKEN)).toBe("OK");
        expect(await call(d, "SET", unique("k"), "v")).toBe("OK");
      });

      it("HELLO 3 AUTH default <token> authenticates and switches protocol", async () => {
        const c = await ws(secured, route);
        expect(await call(c, "HELLO", "3", "AUTH", "default", "wrong")).toEqual({ error: WRONGPASS });
        const hello = await c.command("HELLO", "3", "AUTH", "default", TOKEN);
        expect(hello.type).toBe("map");
        expect(await call(c, "PING")).toBe("PONG");
      });

      it("a token on the upgrade (Authorization header or ?token=) pre-authenticates; a wrong one is refused", async () => {
        const c = await ws(secured, route, { authorization: `Bearer ${TOKEN}` });
        expect(await call(c, "PING")).toBe("PONG");
        const q = await ws(secured, `${route}?token=${TOKEN}`);
        expect(await call(q, "PING")).toBe("PONG");
        const ro = await ws(secured, `${route}?token=${RO_TOKEN}`);
        expect(await call(ro, "ACL", "WHOAMI")).toBe("default_ro");
        expect(await upgradeStatus(secured, route, { authorization: "Bearer wrong" })).toBe(401);
        expect(await upgradeStatus(secured, `${route}?token=wrong`)).toBe(401);
        expect(await upgradeStatus(secured, `${route}?token=${TOKEN}`)).toBe(101);
      });

      it("the read-only token can read but not write, nor run KEYS or SCAN", async () => {
        const admin = await ws(secured, `${route}?token=${TOKEN}`);
        const k = unique("ro");
        await call(admin, "SET", k, "v");
        const c = await ws(secured, route);
        expect(await call(c, "AUTH", RO_TOKEN)).toBe("OK");
        expect(await call(c, "ACL", "WHOAMI")).toBe("default_ro");
        expect(await call(c, "GET", k)).toBe("v");
        expect(await call(c, "SET", k, "x")).toEqual({ error: "NOPERM this user has no permissions to run the 'set' command" });
        expect(await call(c, "DEL", k)).toEqual({ error: "NOPERM this user has no permissions to run the 'del' command" });
        expect(await call(c, "KEYS", "*")).toEqual({ error: "NOPERM this user has no permissions to run the 'keys' command" });
        expect(await call(c, "SCAN", "0")).toEqual({ error: "NOPERM this user has no permissions to run the 'scan' command" });
        expect(await call(c, "FLUSHALL")).toEqual({ error: "NOPERM this user has no permissions to run the 'flushall' command" });
        expect(await call(c, "MULTI")).toBe("OK");
        expect(await call(c, "GET", k)).toBe("QUEUED");
        const queued = await call(c, "SET", k, "y");
        if (route === "/resp") {
          // The proxy queues by itself; the node refuses the transaction at EXEC.
          expect(queued).toBe("QUEUED");
          expect(await call(c, "EXEC")).toEqual({ error: expect.stringMatching(/^EXECABORT /) });
        } else {
          expect(queued).toEqual({ error: "NOPERM this user has no permissions to run the 'set' command" });
          expect(await call(c, "EXEC")).toEqual({ error: "EXECABORT Transaction discarded because of previous errors." });
        }
        expect(await call(admin, "GET", k)).toBe("v");
        const d = await ws(secured, route);
        expect(await call(d, "AUTH", "default", RO_TOKEN)).toBe("OK");
        expect(await call(d, "ACL", "WHOAMI")).toBe("default_ro");
      });

      it("an ACL user limited to ~app:* and +@read", async () => {
        const admin = await ws(secured, `${route}?token=${TOKEN}`);
        const user = unique("app");
        const rules = ["on", ">app-pass", "~app:*", "+@read"];
        if (route === "/resp") {
          // Cluster-wide: created through the HTTP API, whose reply waits until every node has the user.
          expect((await command(secured, ["ACL", "SETUSER", user, ...rules], { bearer: TOKEN })).json).toEqual({ result: "OK" });
        } else {
          expect(await call(admin, "ACL", "SETUSER", user, ...rules)).toBe("OK");
        }
        await call(admin, "SET", "app:1", "one");
        await call(admin, "SET", "other:1", "two");
        const c = await ws(secured, route);
        expect(await call(c, "AUTH", user, "wrong")).toEqual({ error: WRONGPASS });
        expect(await call(c, "AUTH", user, "app-pass")).toBe("OK");
        expect(await call(c, "GET", "app:1")).toBe("one");
        expect(await call(c, "MGET", "app:1", "app:2")).toEqual(["one", null]);
        expect(await call(c, "GET", "other:1")).toEqual({ error: "NOPERM this user has no permissions to access one of the keys used as arguments" });
        expect(await call(c, "MGET", "app:1", "other:1")).toEqual({ error: "NOPERM this user has no permissions to access one of the keys used as arguments" });
        expect(await call(c, "SET", "app:1", "x")).toEqual({ error: "NOPERM this user has no permissions to run the 'set' command" });
        // (The /resp proxy answers PING itself.)
        if (route !== "/resp") expect(await call(c, "PING")).toEqual({ error: "NOPERM this user has no permissions to run the 'ping' command" });
        expect(await call(c, "ACL", "WHOAMI")).toEqual({ error: "NOPERM this user has no permissions to run the 'acl|whoami' command" });
        if (route === "/resp") return;
        // Disabled users cannot log in; deleting the user closes its connections.
        expect(await call(admin, "ACL", "SETUSER", user, "off")).toBe("OK");
        const d = await ws(secured, route);
        expect(await call(d, "AUTH", user, "app-pass")).toEqual({ error: WRONGPASS });
        expect(await call(admin, "ACL", "DELUSER", user)).toBe(1);
        await c.closed;
        expect(c.isClosed).toBe(true);
      });
    });
  }
});

describe("HTTP API with a token configured", () => {
  it("no token and wrong tokens are 401 on every form of request", async () => {
    for (const bearer of [null, "wrong"]) {
      expect((await command(secured, ["PING"], { bearer })).status).toBe(401);
      expect((await http(secured, "/get/k", { bearer })).status).toBe(401);
      expect((await http(secured, "/pipeline", { method: "POST", body: '[["PING"]]', bearer })).status).toBe(401);
      expect((await http(secured, "/multi-exec", { method: "POST", body: '[["PING"]]', bearer })).status).toBe(401);
    }
    expect((await command(secured, ["PING"], { bearer: TOKEN })).json).toEqual({ result: "PONG" });
  });

  it("the read-only token reads, and gets an error for writes and for KEYS/SCAN", async () => {
    const k = unique("httpro");
    await command(secured, ["SET", k, "v"], { bearer: TOKEN });
    expect((await command(secured, ["GET", k], { bearer: RO_TOKEN })).json).toEqual({ result: "v" });
    expect(await command(secured, ["SET", k, "x"], { bearer: RO_TOKEN })).toEqual({
      status: 400,
      json: { error: "NOPERM this user has no permissions to run the 'set' command" },
    });
    expect((await command(secured, ["KEYS", "*"], { bearer: RO_TOKEN })).status).toBe(400);
    expect((await command(secured, ["SCAN", "0"], { bearer: RO_TOKEN })).status).toBe(400);
    const pipe = await http(secured, "/pipeline", { method: "POST", body: JSON.stringify([["GET", k], ["DEL", k]]), bearer: RO_TOKEN });
    expect(pipe.json).toEqual([{ result: "v" }, { error: "NOPERM this user has no permissions to run the 'del' command" }]);
    const ro = new Redis({ url: secured.url, token: RO_TOKEN, enableTelemetry: false, retry: false });
    expect(await ro.get(k)).toBe("v");
    await expect(ro.set(k, "y")).rejects.toThrow(/NOPERM/);
    expect((await command(secured, ["GET", k], { bearer: TOKEN })).json).toEqual({ result: "v" });
  });

  it("an ACL user (Basic credentials) limited to ~app:* and +@read", async () => {
    const user = unique("httpapp");
    await command(secured, ["ACL", "SETUSER", user, "on", ">pw", "~app:*", "+@read"], { bearer: TOKEN });
    await command(secured, ["SET", "app:h", "1"], { bearer: TOKEN });
    const basic = `${user}:pw`;
    expect((await command(secured, ["GET", "app:h"], { basic })).json).toEqual({ result: "1" });
    expect(await command(secured, ["GET", "secret"], { basic })).toEqual({
      status: 400,
      json: { error: "NOPERM this user has no permissions to access one of the keys used as arguments" },
    });
    expect((await command(secured, ["SET", "app:h", "2"], { basic })).json).toEqual({
      error: "NOPERM this user has no permissions to run the 'set' command",
    });
    const tx = await http(secured, "/multi-exec", { method: "POST", body: '[["GET","app:h"]]', basic });
    expect(tx.status).toBe(400);
    expect((tx.json as { error: string }).error).toMatch(/NOPERM this user has no permissions to run the '(multi|exec)' command/);
    expect((await command(secured, ["GET", "app:h"], { basic: `${user}:wrong` })).status).toBe(401);
    expect((await command(secured, ["GET", "app:h"], { basic: "nobody:pw" })).status).toBe(401);
    expect((await command(secured, ["GET", "app:h"], { bearer: TOKEN })).json).toEqual({ result: "1" });
  });
});

describe("ACL users apply cluster-wide", () => {
  it("a user created on one node reaches every node of the cluster, and so does its deletion", async () => {
    const user = unique("everywhere");
    // Through the HTTP API: the reply comes once the coordinator has pushed the change to every node.
    expect((await command(secured, ["ACL", "SETUSER", user, "on", ">pw", "~*", "+@all"], { bearer: TOKEN })).json).toEqual({ result: "OK" });
    const nodes = ["default-s0-m", "default-s0-r1", "default-s1-m", "default-s1-r1", "default-s2-m", "default-s2-r1"];
    for (const name of nodes) {
      const c = await ws(secured, `/node/${name}`);
      expect(await call(c, "AUTH", user, "pw"), name).toBe("OK");
      expect(await call(c, "ACL", "WHOAMI"), name).toBe(user);
    }
    expect((await command(secured, ["ACL", "DELUSER", user], { bearer: TOKEN })).json).toEqual({ result: 1 });
    for (const name of nodes) {
      const c = await ws(secured, `/node/${name}?token=${TOKEN}`);
      expect(await call(c, "ACL", "GETUSER", user), name).toBeNull();
    }
  });
});

describe("a deployment without tokens is open", () => {
  it("HTTP needs no token (any token is accepted)", async () => {
    expect((await command(open, ["PING"])).json).toEqual({ result: "PONG" });
    expect((await command(open, ["PING"], { bearer: "anything" })).json).toEqual({ result: "PONG" });
  });

  for (const route of RESP_ROUTES) {
    it(`${route} starts authenticated as default; AUTH <password> is refused as in Redis`, async () => {
      const c = await ws(open, route);
      expect(await call(c, "PING")).toBe("PONG");
      expect(await call(c, "ACL", "WHOAMI")).toBe("default");
      expect(await call(c, "AUTH", "x")).toEqual({
        error: "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
      });
      expect(await call(c, "AUTH", "default", "anything")).toBe("OK");
    });
  }

  it("an ACL user still only gets what its rules allow", async () => {
    const c = await ws(open, "/resp");
    const user = unique("openapp");
    expect(await call(c, "ACL", "SETUSER", user, "on", ">pw", "~app:*", "+@read")).toBe("OK");
    expect(await call(c, "AUTH", user, "pw")).toBe("OK");
    expect(await call(c, "SET", "app:x", "1")).toEqual({ error: "NOPERM this user has no permissions to run the 'set' command" });
    // Over HTTP a failed login runs nothing, even where the default user is open.
    const k = unique("never");
    const denied = await http(open, "/set/" + k + "/v", { basic: `${user}:wrong` });
    expect(denied.status).toBe(401);
    expect((await command(open, ["EXISTS", k])).json).toEqual({ result: 0 });
  });
});

describe("internal traffic is not reachable from public routes", () => {
  const INTERNAL_HEADERS = {
    "x-tidekv-auth": "default",
    "x-tidekv-node": "default",
    "x-tidekv-internal": "1",
    "x-tidekv-role": "master",
  };

  it("x-tidekv-* headers on a WebSocket upgrade do not authenticate it", async () => {
    for (const route of [...RESP_ROUTES, "/node/default"]) {
      const c = await ws(secured, route, INTERNAL_HEADERS);
      expect(await call(c, "PING")).toEqual({ error: NOAUTH });
      expect(await call(c, "REPLCONF", "listening-port", "1")).toEqual({ error: NOAUTH });
      expect(await call(c, "PSYNC", "?", "-1")).toEqual({ error: NOAUTH });
    }
  });

  it("RPC-like paths and message shapes are refused without a token, and never reach a node's internals with one", async () => {
    const paths = ["/", "/run", "/rpc", "/internal", "/cluster", "/coordinator", "/node/default", "/node/default/run", "/__rpc/run", "/admin"];
    const bodies = [
      JSON.stringify({ commands: [["FLUSHALL"]], user: "default", node: "default", state: null }),
      JSON.stringify({ method: "run", args: [{ commands: [["FLUSHALL"]] }] }),
      JSON.stringify(["PSYNC", "?", "-1"]),
    ];
    const k = unique("survivor");
    await command(secured, ["SET", k, "1"], { bearer: TOKEN });
    for (const path of paths) {
      for (const method of ["GET", "POST"]) {
        for (const body of method === "POST" ? bodies : [undefined]) {
          const out = await http(secured, path, { method, body, headers: INTERNAL_HEADERS });
          if (path === "/" && method === "GET") continue; // the banner
          expect([401, 426], `${method} ${path} ${body}`).toContain(out.status);
        }
      }
    }
    // With the token, the same shapes are just unknown or malformed commands.
    for (const path of ["/run", "/rpc", "/internal", "/cluster"]) {
      const out = await http(secured, path, { method: "POST", body: bodies[0], headers: INTERNAL_HEADERS, bearer: TOKEN });
      expect(out.status).toBe(400);
    }
    expect((await command(secured, ["PSYNC", "?", "-1"], { bearer: TOKEN })).status).toBe(400);
    expect((await command(secured, ["GET", k], { bearer: TOKEN })).json).toEqual({ result: "1" });
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { array, bignum, boolean, bulk, double, error, integer, map, NULL, NULL_ARRAY, OK, push, set, simple, type Reply } from "../../../shared/resp/index.ts";
import { Client, ConnectionError, RedisError, createClient, type ClientEvent } from "../../../client/src/index.ts";
import { MockServer, type Handler } from "./mock-node.ts";

const servers: MockServer[] = [];
const clients: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error("condition not met in 5 s");
}

async function serve(handler: Handler): Promise<MockServer> {
  const s = await MockServer.start(handler);
  servers.push(s);
  return s;
}

async function connect(url: string, options: Parameters<typeof Client.connect>[1] = {}): Promise<Client> {
  const c = await Client.connect(url, options);
  clients.push(c);
  return c;
}

/** A tiny key-value handler: SET/GET/INCR/SELECT per connection db. */
function kv(): Handler {
  const dbs = new Map<number, Map<string, string>>();
  return (argv, conn) => {
    const db = dbs.get(conn.db) ?? new Map<string, string>();
    dbs.set(conn.db, db);
    switch (argv[0].toUpperCase()) {
      case "HELLO":
        return argv[1] === "3" ? map([[bulk("proto"), integer(3)]]) : array([bulk("proto"), integer(2)]);
      case "AUTH":
        return argv[2] === "secret" ? OK : error("WRONGPASS invalid username-password pair or user is disabled.");
      case "SELECT":
        conn.db = Number(argv[1]);
        return OK;
      case "SET":
        db.set(argv[1], argv[2]);
        return OK;
      case "GET":
        return db.has(argv[1]) ? bulk(db.get(argv[1])!) : NULL;
      case "INCR": {
        const n = Number(db.get(argv[1]) ?? 0) + 1;
        db.set(argv[1], String(n));
        return integer(n);
      }
      case "PING":
        return simple("PONG");
      default:
        return error(`ERR unknown command '${argv[0]}'`);
    }
  };
}

describe("client: commands and pipelines", () => {
  it("sends a pipeline in one frame and matches replies in order", async () => {
    const server = await serve(kv());
    const c = await connect(server.url());
    const cmds = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? ["INCR", "n"] : ["GET", "n"]));
    const framesBefore = server.frames.get("resp") ?? 0;
    const replies = await c.pipeline(cmds);
    expect(server.frames.get("resp")! - framesBefore).toBe(1);
    replies.forEach((r, i) => expect(r).toBe(i % 2 === 0 ? i / 2 + 1 : String((i + 1) / 2)));
  });

  it("batches commands issued in the same tick into one frame, replies still in order", async () => {
    const server = await serve(kv());
    const c = await connect(server.url());
    const before = server.frames.get("resp") ?? 0;
    const results = await Promise.all([c.call("SET", "a", "1"), c.call("INCR", "a"), c.call("GET", "a"), c.call("PING")]);
    expect(results).toEqual(["OK", 2, "2", "PONG"]);
    expect(server.frames.get("resp")! - before).toBe(1);
  });

  it("converts every reply type; callReply keeps the model", async () => {
    const replies: Record<string, Reply> = {
      a: array([bulk("x"), integer(5), NULL, array([simple("ok")])]),
      m: map([[bulk("k"), double(1.5)], [integer(7), boolean(true)]]),
      s: set([bulk("m")]),
      b: bignum("12345678901234567890"),
      n: NULL_ARRAY,
      big: integer(2n ** 62n),
    };
    const server = await serve((argv) => (argv[0] === "HELLO" ? map([]) : (replies[argv[1]] ?? error("ERR ?"))));
    const c = await connect(server.url(), { protocol: 3 });
    expect(await c.call("X", "a")).toEqual(["x", 5, null, ["ok"]]);
    expect(await c.call("X", "m")).toEqual({ k: 1.5, "7": true });
    expect(await c.call("X", "s")).toEqual(["m"]);
    expect(await c.call("X", "b")).toBe(12345678901234567890n);
    expect(await c.call("X", "n")).toBeNull();
    expect(await c.call("X", "big")).toBe(2n ** 62n);
    expect(await c.callBuffer("X", "a")).toEqual([new TextEncoder().encode("x"), 5, null, ["ok"]]);
    expect(await c.callReply(["X", "s"])).toEqual(set([bulk("m")]));
  });

  it("sends binary arguments byte-exact", async () => {
    const server = await serve((argv) => bulk(argv[1]));
    const c = await connect(server.url());
    await c.callReply(["ECHO", new Uint8Array([0, 13, 10, 255])]);
    expect(server.received.at(-1)!.argv[1]).toBe(new TextDecoder().decode(new Uint8Array([0, 13, 10, 255])));
  });
});

describe("client: errors", () => {
  it("throws RedisError with the code; pipelines return errors in place", async () => {
    const server = await serve((argv) => {
      if (argv[0] === "BAD") return error("WRONGTYPE Operation against a key holding the wrong kind of value");
      if (argv[0] === "MOVE") return error("MOVED 3999 node-b:6381");
      return OK;
    });
    const c = await connect(server.url());
    const e = await c.call("BAD").catch((x) => x);
    expect(e).toBeInstanceOf(RedisError);
    expect(e.code).toBe("WRONGTYPE");
    expect(e.message).toBe("WRONGTYPE Operation against a key holding the wrong kind of value");
    expect(e.command).toBe("BAD");
    expect((await c.call("MOVE").catch((x) => x)).code).toBe("MOVED");
    const [ok, bad, ok2] = await c.pipeline([["OK"], ["BAD"], ["OK"]]);
    expect(ok).toBe("OK");
    expect(bad).toBeInstanceOf(RedisError);
    expect((bad as RedisError).code).toBe("WRONGTYPE");
    expect(ok2).toBe("OK");
    expect(await c.callReply(["BAD"])).toEqual(error("WRONGTYPE Operation against a key holding the wrong kind of value"));
  });

  it("multi(): EXEC's results, nested errors as values, EXECABORT thrown, WATCH abort as null", async () => {
    let mode = "ok";
    const server = await serve((argv) => {
      const cmd = argv[0].toUpperCase();
      if (cmd === "MULTI") return OK;
      if (cmd === "EXEC") {
        if (mode === "abort") return error("EXECABORT Transaction discarded because of previous errors.");
        if (mode === "watch") return NULL_ARRAY;
        return array([OK, error("WRONGTYPE nope"), integer(3)]);
      }
      if (mode === "abort" && cmd === "BAD") return error("ERR unknown command 'BAD'");
      return simple("QUEUED");
    });
    const c = await connect(server.url());
    const r = await c.multi([["SET", "a", "1"], ["LPUSH", "a", "x"], ["INCR", "n"]]);
    expect(r![0]).toBe("OK");
    expect((r![1] as RedisError).code).toBe("WRONGTYPE");
    expect(r![2]).toBe(3);
    expect(server.commands().slice(-5).map((a) => a[0])).toEqual(["MULTI", "SET", "LPUSH", "INCR", "EXEC"]);
    mode = "abort";
    const e = await c.multi([["BAD"]]).catch((x) => x);
    expect(e).toBeInstanceOf(RedisError);
    expect(e.code).toBe("EXECABORT");
    expect(e.message).toContain("ERR unknown command 'BAD'");
    mode = "watch";
    expect(await c.multi([["SET", "a", "2"]])).toBeNull();
  });

  it("fails fast with a ConnectionError when nothing listens", async () => {
    const server = await serve(kv());
    const url = server.url();
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
    const e = await Client.connect(url).catch((x) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.message).toMatch(/could not connect to ws:\/\/127\.0\.0\.1:\d+\/resp: .*ECONNREFUSED/);
  });
});

describe("client: RESP3 and auth", () => {
  it("HELLO 3 on connect; RESP3 types arrive as such; pushes go to onPush", async () => {
    const server = await serve((argv, conn) => {
      if (argv[0] === "HELLO") return map([[bulk("server"), bulk("mock")], [bulk("proto"), integer(3)]]);
      if (argv[0] === "SUB") {
        conn.push(push([bulk("message"), bulk("ch"), bulk("hi")]));
        return array([bulk("subscribe"), bulk("ch"), integer(1)]);
      }
      return double(conn.protocol === 3 ? 2.5 : -1);
    });
    const pushes: Reply[] = [];
    const c = await connect(server.url(), { protocol: 3, onPush: (r) => pushes.push(r) });
    expect(server.received[0].argv).toEqual(["HELLO", "3"]);
    expect(c.protocol).toBe(3);
    expect(await c.callReply(["ZSCORE", "z", "m"])).toEqual(double(2.5));
    expect(await c.call("SUB")).toEqual(["subscribe", "ch", 1]);
    expect(pushes).toEqual([push([bulk("message"), bulk("ch"), bulk("hi")])]);
  });

  it("puts the token on the URL and authenticates in-band (AUTH in RESP2, HELLO 3 AUTH in RESP3)", async () => {
    const server = await serve(kv());
    const c2 = await connect(server.url(), { token: "secret" });
    expect(server.received.at(-1)!.argv).toEqual(["AUTH", "default", "secret"]);
    expect(c2.url).toContain("token=secret");
    expect(c2.displayUrl).not.toContain("secret");
    await connect(server.url(), { token: "secret", protocol: 3, clientName: "me" });
    expect(server.received.at(-1)!.argv).toEqual(["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"]);
  });

  it("a refused AUTH rejects connect() with the RedisError and is not retried", async () => {
    const server = await serve(kv());
    const e = await Client.connect(server.url(), { token: "wrong" }).catch((x) => x);
    expect(e).toBeInstanceOf(RedisError);
    expect(e.code).toBe("WRONGPASS");
    expect(e.message).not.toContain("wrong "); // the token is never echoed
    expect(server.accepted.get("resp")).toBe(1);
  });
});

describe("client: reconnection", () => {
  it("fails commands in flight when the socket drops, reconnects, replays SELECT, and later commands succeed", async () => {
    const handle = kv();
    let dropNext = false;
    const server = await serve((argv, conn) => {
      if (argv[0] === "SLOW" && dropNext) {
        dropNext = false;
        return "drop";
      }
      return handle(argv, conn);
    });
    const events: ClientEvent["type"][] = [];
    const c = await connect(server.url(), { onEvent: (e) => events.push(e.type), reconnect: { initialDelayMs: 10 } });
    await c.call("SELECT", "3");
    await c.call("SET", "k", "v");
    dropNext = true;
    const e = await c.call("SLOW").catch((x) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.sent).toBe(true);
    expect(e.message).toMatch(/lost before the reply to SLOW arrived.*may or may not have run/);
    // Issued while the client is reconnecting: waits, then runs on the new socket in db 3.
    expect(await c.call("GET", "k")).toBe("v");
    expect(server.accepted.get("resp")).toBe(2);
    expect(events).toContain("disconnect");
    const second = server.received.findIndex((r, i) => i > 0 && r.argv[0] === "SELECT" && server.received[i - 1].argv[0] === "SLOW");
    expect(second).toBeGreaterThan(0);
  });

  it("waits for the server to come back (backoff), then runs the waiting command", async () => {
    const server = await serve(kv());
    const events: ClientEvent[] = [];
    const c = await connect(server.url(), { onEvent: (e) => events.push(e), reconnect: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 50 } });
    await c.call("SET", "k", "1");
    await server.stop();
    await until(() => events.some((e) => e.type === "disconnect"));
    const pending = c.call("INCR", "k");
    await new Promise((r) => setTimeout(r, 300));
    await server.restart();
    expect(await pending).toBe(2); // the handler kept its data: the INCR ran exactly once, after the restart
    const reconnecting = events.filter((e) => e.type === "reconnecting");
    expect(reconnecting.length).toBeGreaterThan(1);
    const delays = reconnecting.map((e) => (e.type === "reconnecting" ? e.delayMs : 0));
    expect(Math.max(...delays)).toBeGreaterThan(delays[0]);
  });

  it("gives up after maxAttempts: waiting commands fail with a clear error", async () => {
    const server = await serve(kv());
    let lost = false;
    const c = await connect(server.url(), {
      reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 },
      onEvent: (e) => (lost ||= e.type === "disconnect"),
    });
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
    await until(() => lost);
    const e = await c.call("PING").catch((x) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.message).toMatch(/could not reconnect to .* after 3 attempts/);
  });

  it("close() fails commands in flight and refuses new ones", async () => {
    const server = await serve(async (argv) => {
      if (argv[0] === "SLOW") await new Promise((r) => setTimeout(r, 200));
      return OK;
    });
    const c = await connect(server.url());
    const pending = c.call("SLOW");
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(ConnectionError);
    await expect(c.call("PING")).rejects.toThrow(/is closed/);
  });
});

describe("createClient", () => {
  it("connects a single-node client by default", async () => {
    const server = await serve(kv());
    const c = await createClient(`http://127.0.0.1:${server.port}`);
    clients.push(c);
    expect(await c.call("PING")).toBe("PONG");
    expect(server.accepted.get("resp")).toBe(1); // http:// became ws://, no path became /resp
  });
});

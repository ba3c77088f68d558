/**
 * The /resp routing proxy over the default cluster (3 shards x 1 replica):
 * routing by slot, split multi-key commands, pipelining order across shards,
 * CROSSSLOT, transactions and blocking commands in one slot, keyless
 * commands. Pipelines are sent as ONE frame (the test pool's WebSocket proxy
 * may reorder frames sent back to back; frame-by-frame order is in test/e2e).
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeCommand, ReplyParser } from "../../shared/resp/index.ts";
import { mergeKeyspace } from "../../worker/router/cluster.ts";
import { clusterReady, keysOnShard, shardOf, slotOf } from "./proxy-support.ts";
import { NodeClient, plain } from "./support.ts";

const CROSSSLOT = { error: "CROSSSLOT Keys in request don't hash to the same slot" };
const MASTERS = ["default-s0-m", "default-s1-m", "default-s2-m"];

beforeAll(async () => {
  await clusterReady();
});

/** Keys of `prefix` stored on each master, read directly on the nodes. */
async function keysPerMaster(prefix: string): Promise<number[]> {
  const counts: number[] = [];
  for (const name of MASTERS) {
    const c = await NodeClient.node(name);
    counts.push((plain(await c.call("KEYS", `${prefix}*`)) as string[]).length);
    c.close();
  }
  return counts;
}

describe("routing", () => {
  it("sends each key to the master owning its slot", async () => {
    const c = await NodeClient.connect("/resp");
    // foo: slot 12182 (shard 2), bar: 5061 (shard 0), hello: 866 (shard 0); one on shard 1.
    const mid = keysOnShard("route:mid:", 1, 1)[0];
    for (const key of ["route:{foo}", "route:{bar}", mid]) expect(plain(await c.call("SET", key, `v-${key}`))).toBe("OK");
    for (const key of ["route:{foo}", "route:{bar}", mid]) expect(plain(await c.call("GET", key))).toBe(`v-${key}`);
    expect(await keysPerMaster("route:")).toEqual([1, 1, 1]);
    // The master of shard 2 holds {foo} and answers MOVED for {bar}: the proxy did the routing.
    const direct = await NodeClient.node("default-s2-m");
    expect(plain(await direct.call("GET", "route:{foo}"))).toBe("v-route:{foo}");
    expect(plain(await direct.call("GET", "route:{bar}"))).toEqual({ error: expect.stringMatching(/^MOVED 5061 default-s0-m:\d+$/) });
    direct.close();
    c.close();
  });

  it("answers PING and ECHO, and CLUSTER KEYSLOT with Redis's vectors", async () => {
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("PING"))).toBe("PONG");
    expect(plain(await c.call("PING", "hi"))).toBe("hi");
    expect(plain(await c.call("PING", "a", "b"))).toEqual({ error: "ERR wrong number of arguments for 'ping' command" });
    expect(plain(await c.call("ECHO", "x"))).toBe("x");
    expect(plain(await c.call("CLUSTER", "KEYSLOT", "foo"))).toBe(12182);
    expect(plain(await c.call("CLUSTER", "KEYSLOT", "{user1000}.following"))).toBe(3443);
    expect(plain(await c.call("NOSUCHCOMMAND", "x"))).toEqual({ error: "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' " });
    expect(plain(await c.call("GET"))).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
    c.close();
  });
});

describe("multi-key commands across slots", () => {
  it("MSET, MGET, EXISTS, TOUCH, DEL and UNLINK over 1,000 keys in many slots", async () => {
    const c = await NodeClient.connect("/resp");
    const keys = Array.from({ length: 1000 }, (_, i) => `fan:${i}`);
    const slots = new Set(keys.map(slotOf));
    expect(slots.size).toBeGreaterThan(900);
    const mset = ["MSET", ...keys.flatMap((k, i) => [k, `value-${i}`])];
    expect(plain(await c.call(...mset))).toBe("OK");
    const counts = await keysPerMaster("fan:");
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1000);
    for (const n of counts) expect(n).toBeGreaterThan(250);

    // MGET keeps the order of the request, with nil for missing keys.
    const wanted = [...keys.slice(0, 500).reverse(), "fan:missing", ...keys.slice(500)];
    const values = plain(await c.call("MGET", ...wanted)) as (string | null)[];
    expect(values).toHaveLength(1001);
    expect(values[0]).toBe("value-499");
    expect(values[499]).toBe("value-0");
    expect(values[500]).toBeNull();
    expect(values[501]).toBe("value-500");
    expect(values[1000]).toBe("value-999");
    expect(values).toEqual(wanted.map((k) => (k === "fan:missing" ? null : `value-${k.slice(4)}`)));

    expect(plain(await c.call("EXISTS", ...keys, "fan:missing", keys[0]))).toBe(1001);
    expect(plain(await c.call("TOUCH", ...keys.slice(0, 300)))).toBe(300);
    expect(plain(await c.call("DEL", ...keys.slice(0, 600), "fan:missing"))).toBe(600);
    expect(plain(await c.call("UNLINK", ...keys))).toBe(400);
    expect(await keysPerMaster("fan:")).toEqual([0, 0, 0]);
    expect(plain(await c.call("MGET", keys[0], keys[999]))).toEqual([null, null]);
    c.close();
  }, 60_000); // large frames are slow through the test pool's WebSocket proxy

  it("MSET's arity and wrong types are reported as Redis does", async () => {
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("MSET", "ar:{a}", "1", "ar:{b}"))).toEqual({ error: "ERR wrong number of arguments for 'mset' command" });
    expect(plain(await c.call("MSET", "ar:{a}"))).toEqual({ error: "ERR wrong number of arguments for 'mset' command" });
    await c.call("RPUSH", "ar:{list}", "x");
    expect(plain(await c.call("MGET", "ar:{list}", "ar:{a}", "ar:{b}"))).toEqual([null, null, null]);
    c.close();
  });

  it("answers CROSSSLOT for other multi-key commands spanning slots", async () => {
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("MSETNX", "x:{a}", "1", "x:{b}", "2"))).toEqual(CROSSSLOT);
    expect(plain(await c.call("MSETNX", "x:{a}1", "1", "x:{a}2", "2"))).toBe(1);
    expect(plain(await c.call("MGET", "x:{a}1", "x:{a}2"))).toEqual(["1", "2"]);
    expect(plain(await c.call("SUNION", "x:{a}", "x:{b}"))).toEqual(CROSSSLOT);
    expect(plain(await c.call("RENAME", "x:{a}1", "x:{b}1"))).toEqual(CROSSSLOT);
    expect(plain(await c.call("BLPOP", "x:{a}", "x:{b}", "0"))).toEqual(CROSSSLOT);
    expect(plain(await c.call("WATCH", "x:{a}", "x:{b}"))).toEqual(CROSSSLOT);
    expect(plain(await c.call("RENAME", "x:{a}1", "x:{a}3"))).toBe("OK");
    expect(plain(await c.call("GET", "x:{a}3"))).toBe("1");
    c.close();
  });
});

describe("pipelining", () => {
  it("one frame of commands for every shard answers in order", async () => {
    const c = await NodeClient.connect("/resp");
    const keys = Array.from({ length: 60 }, (_, i) => `pipe:${i}`);
    const commands: string[][] = [];
    for (const [i, key] of keys.entries()) {
      commands.push(["SET", key, String(i)]);
      commands.push(["INCRBY", key, "1000"]);
      commands.push(["GET", key]);
      commands.push(["ECHO", `after-${i}`]);
    }
    commands.push(["MGET", ...keys.slice(0, 5)]);
    commands.push(["DEL", ...keys]);
    commands.push(["EXISTS", ...keys]);
    const replies = (await c.pipeline(commands)).map(plain);
    const expected: unknown[] = [];
    for (const [i] of keys.entries()) expected.push("OK", 1000 + i, String(1000 + i), `after-${i}`);
    expected.push(["1000", "1001", "1002", "1003", "1004"], 60, 0);
    expect(replies).toEqual(expected);
    c.close();
  });

  it("a later command on one shard waits for nothing on others, yet replies stay in order", async () => {
    const c = await NodeClient.connect("/resp");
    const [a] = keysOnShard("order:", 0, 1);
    const [b] = keysOnShard("order:", 2, 1);
    const replies = (await c.pipeline([["RPUSH", a, "1", "2", "3"], ["SET", b, "x"], ["LRANGE", a, "0", "-1"], ["GET", b], ["DEL", a, b]])).map(plain);
    expect(replies).toEqual([3, "OK", ["1", "2", "3"], "x", 2]);
    c.close();
  });
});

describe("transactions", () => {
  it("MULTI/EXEC in one slot runs on its shard", async () => {
    const c = await NodeClient.connect("/resp");
    const replies = (
      await c.pipeline([["MULTI"], ["SET", "tx:{u1}:a", "1"], ["INCR", "tx:{u1}:a"], ["PING"], ["GET", "tx:{u1}:a"], ["EXEC"]])
    ).map(plain);
    expect(replies).toEqual(["OK", "QUEUED", "QUEUED", "QUEUED", "QUEUED", ["OK", 2, "PONG", "2"]]);
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("MULTI"))).toEqual({ error: "ERR MULTI calls can not be nested" });
    expect(plain(await c.call("DISCARD"))).toBe("OK");
    expect(plain(await c.call("EXEC"))).toEqual({ error: "ERR EXEC without MULTI" });
    expect(plain(await c.call("DISCARD"))).toEqual({ error: "ERR DISCARD without MULTI" });
    c.close();
  });

  it("EXEC answers CROSSSLOT when the queue spans slots, EXECABORT after a refused command", async () => {
    const c = await NodeClient.connect("/resp");
    const spanning = (await c.pipeline([["MULTI"], ["SET", "tx:{a}", "1"], ["SET", "tx:{b}", "2"], ["EXEC"]])).map(plain);
    expect(spanning).toEqual(["OK", "QUEUED", "QUEUED", CROSSSLOT]);
    const refused = (await c.pipeline([["MULTI"], ["SET", "tx:{a}", "1"], ["SUNION", "tx:{a}", "tx:{b}"], ["NOSUCH"], ["EXEC"]])).map(plain);
    expect(refused).toEqual([
      "OK",
      "QUEUED",
      CROSSSLOT,
      { error: "ERR unknown command 'NOSUCH', with args beginning with: " },
      { error: "EXECABORT Transaction discarded because of previous errors." },
    ]);
    expect(plain(await c.call("MGET", "tx:{a}", "tx:{b}"))).toEqual([null, null]);
    c.close();
  });

  it("WATCH pins the transaction to its slot; a write from another client aborts EXEC", async () => {
    const c = await NodeClient.connect("/resp");
    const other = await NodeClient.connect("/resp");
    expect(plain(await c.call("SET", "w:{k}", "1"))).toBe("OK");
    expect(plain(await c.call("WATCH", "w:{k}"))).toBe("OK");
    expect(plain(await c.call("WATCH", "w:{other}"))).toEqual(CROSSSLOT);
    expect(plain(await other.call("SET", "w:{k}", "2"))).toBe("OK");
    expect((await c.pipeline([["MULTI"], ["INCR", "w:{k}"], ["EXEC"]])).map(plain)).toEqual(["OK", "QUEUED", null]);
    // Not touched this time: EXEC runs.
    expect(plain(await c.call("WATCH", "w:{k}"))).toBe("OK");
    expect((await c.pipeline([["MULTI"], ["INCR", "w:{k}"], ["EXEC"]])).map(plain)).toEqual(["OK", "QUEUED", [3]]);
    // UNWATCH, then another slot is fine.
    expect(plain(await c.call("WATCH", "w:{k}"))).toBe("OK");
    expect(plain(await c.call("UNWATCH"))).toBe("OK");
    expect(plain(await c.call("WATCH", "w:{other}"))).toBe("OK");
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("WATCH", "w:{other}"))).toEqual({ error: "ERR WATCH inside MULTI is not allowed" });
    expect(plain(await c.call("DISCARD"))).toBe("OK");
    c.close();
    other.close();
  });

  it("refuses connection-state commands inside MULTI", async () => {
    const c = await NodeClient.connect("/resp");
    const replies = (await c.pipeline([["MULTI"], ["READONLY"], ["SET", "st:k", "v"], ["EXEC"]])).map(plain);
    expect(replies).toEqual([
      "OK",
      { error: "ERR Command not allowed inside a transaction" },
      "QUEUED",
      { error: "EXECABORT Transaction discarded because of previous errors." },
    ]);
    expect(plain(await c.call("EXISTS", "st:k"))).toBe(0);
    c.close();
  });
});

describe("blocking commands", () => {
  it("BLPOP through the proxy is woken by a push from another proxy client", async () => {
    const waiter = await NodeClient.connect("/resp");
    const pusher = await NodeClient.connect("/resp");
    const popped = waiter.call("BLPOP", "bl:{q}", "0");
    // The waiter's later commands wait behind the blocked one, as in Redis.
    const after = waiter.call("ECHO", "after");
    // Make sure the BLPOP reached the node before pushing.
    const node = await NodeClient.node((await shardOf(slotOf("bl:{q}"))).master);
    for (let i = 0; i < 400; i++) {
      const clients = plain(await node.call("INFO", "clients")) as string;
      if (/blocked_clients:[1-9]/.test(clients)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    node.close();
    expect(plain(await pusher.call("RPUSH", "bl:{q}", "job"))).toBe(1);
    expect(plain(await popped)).toEqual(["bl:{q}", "job"]);
    expect(plain(await after)).toBe("after");
    // A timeout answers a null array; BLMOVE in one slot works too.
    expect(await waiter.call("BLPOP", "bl:{q}", "0.01")).toEqual({ type: "nullarray" });
    await pusher.call("RPUSH", "bl:{q}:src", "a");
    expect(plain(await waiter.call("BLMOVE", "bl:{q}:src", "bl:{q}:dst", "LEFT", "RIGHT", "0"))).toBe("a");
    waiter.close();
    pusher.close();
  });
});

describe("keyless commands", () => {
  it("DBSIZE sums, KEYS and SCAN see every shard, FLUSHALL empties them all", async () => {
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("FLUSHALL"))).toBe("OK");
    const keys = Array.from({ length: 90 }, (_, i) => `kl:${i}`);
    expect(plain(await c.call("MSET", ...keys.flatMap((k) => [k, "v"])))).toBe("OK");
    expect(plain(await c.call("DBSIZE"))).toBe(90);
    expect((plain(await c.call("KEYS", "kl:*")) as string[]).sort()).toEqual([...keys].sort());
    expect(plain(await c.call("KEYS", "kl:1?"))).toHaveLength(10);

    const seen: string[] = [];
    let cursor = "0";
    let rounds = 0;
    const cursors = new Set<string>();
    do {
      const [next, batch] = plain(await c.call("SCAN", cursor, "COUNT", "7")) as [string, string[]];
      seen.push(...batch);
      cursor = next;
      cursors.add(next);
      rounds++;
    } while (cursor !== "0" && rounds < 1000);
    expect(cursor).toBe("0");
    expect([...new Set(seen)].sort()).toEqual([...keys].sort());
    expect(cursors.size).toBeGreaterThan(3);
    // MATCH is passed on; bad cursors are refused like Redis.
    let matched: string[] = [];
    cursor = "0";
    do {
      const [next, batch] = plain(await c.call("SCAN", cursor, "MATCH", "kl:8*")) as [string, string[]];
      matched = matched.concat(batch);
      cursor = next;
    } while (cursor !== "0");
    expect(matched.sort()).toEqual(["kl:8", "kl:80", "kl:81", "kl:82", "kl:83", "kl:84", "kl:85", "kl:86", "kl:87", "kl:88", "kl:89"]);
    expect(plain(await c.call("SCAN", "abc"))).toEqual({ error: "ERR invalid cursor" });
    expect(plain(await c.call("SCAN", "99999999999999999999999"))).toEqual({ error: "ERR invalid cursor" });

    const random = plain(await c.call("RANDOMKEY")) as string;
    expect(keys).toContain(random);

    const info = plain(await c.call("INFO", "keyspace")) as string;
    expect(info).toMatch(/^# Keyspace\r\ndb0:keys=90,expires=0,avg_ttl=0\r\n/);
    const all = plain(await c.call("INFO")) as string;
    expect(all).toContain("db0:keys=90,");
    expect(all).toContain("cluster_enabled:1");

    expect(plain(await c.call("FLUSHALL"))).toBe("OK");
    expect(plain(await c.call("DBSIZE"))).toBe(0);
    expect(plain(await c.call("RANDOMKEY"))).toBeNull();
    expect(plain(await c.call("SCAN", "0"))).toEqual(["1", []]);
    c.close();
  });

  it("SELECT is db 0 only, as in Redis Cluster", async () => {
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("SELECT", "0"))).toBe("OK");
    expect(plain(await c.call("SELECT", "1"))).toEqual({ error: expect.stringMatching(/^ERR /) });
    c.close();
  });

  it("merges the Keyspace sections of INFO", () => {
    const a = "# Server\r\nx:1\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=1000\r\n";
    const b = "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=3000\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n";
    expect(mergeKeyspace([a, b])).toBe("# Server\r\nx:1\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=2000\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n");
    const middle = "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n# Other\r\ny:2\r\n";
    expect(mergeKeyspace([middle, b])).toBe("# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=3000\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n\r\n# Other\r\ny:2\r\n");
  });
});

describe("protocol and connection state", () => {
  it("HELLO 3 switches every shard's replies to RESP3; RESET goes back to RESP2", async () => {
    const c = await NodeClient.connect("/resp");
    await c.call("DEL", "p:{a}", "p:{b}");
    await c.call("HSET", "p:{a}", "f", "v");
    await c.call("HSET", "p:{b}", "f", "v");
    expect((await c.call("HGETALL", "p:{a}")).type).toBe("array");
    const hello = await c.call("HELLO", "3");
    expect(hello.type).toBe("map");
    expect((plain(hello) as [string, unknown][]).find(([k]) => k === "proto")?.[1]).toBe(3);
    expect((await c.call("HGETALL", "p:{a}")).type).toBe("map");
    expect((await c.call("HGETALL", "p:{b}")).type).toBe("map");
    expect(await c.call("GET", "p:none")).toEqual({ type: "null" });
    expect(plain(await c.call("RESET"))).toBe("RESET");
    expect((await c.call("HGETALL", "p:{b}")).type).toBe("array");
    c.close();
  });

  it("QUIT answers OK and closes", async () => {
    const c = await NodeClient.connect("/resp");
    expect(plain(await c.call("QUIT"))).toBe("OK");
    expect((await c.closed).code).toBe(1000);
  });

  it("a protocol error is answered after the replies before it, then the connection closes", async () => {
    const c = await NodeClient.connect("/resp");
    c.sendRaw("*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n");
    expect(plain(await c.next())).toBe("PONG");
    expect(plain(await c.next())).toEqual({ error: "ERR Protocol error: invalid bulk length" });
    expect((await c.closed).code).toBe(1002);
  });

  it("inline commands work", async () => {
    const c = await NodeClient.connect("/resp");
    c.sendRaw("SET inl:k hello\r\nGET inl:k\r\n");
    expect(plain(await c.next())).toBe("OK");
    expect(plain(await c.next())).toBe("hello");
    c.close();
  });
});

describe("internal headers", () => {
  it("a public request cannot name the node it reaches (x-tidekv-* headers are stripped)", async () => {
    const name = `spoof-${Date.now().toString(36)}`;
    const response = await SELF.fetch(`http://tidekv.test/node/${name}`, {
      headers: { Upgrade: "websocket", "x-tidekv-node": "default-s1-m", "X-Tidekv-Auth": "default" },
    });
    const ws = response.webSocket!;
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    ws.accept();
    const parser = new ReplyParser();
    const replies: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      ws.addEventListener("message", (event) => {
        parser.feed(new Uint8Array(event.data as ArrayBuffer));
        for (let r = parser.next(); r !== undefined; r = parser.next()) replies.push(plain(r));
        if (replies.length === 2) resolve();
      });
    });
    // Had the header been passed on, the node would believe it is default-s1-m,
    // join the default cluster and redirect "foo" (slot 12182) to shard 2.
    const set = encodeCommand(["SET", "foo", "here"]);
    const get = encodeCommand(["GET", "foo"]);
    const frame = new Uint8Array(set.length + get.length);
    frame.set(set);
    frame.set(get, set.length);
    ws.send(frame);
    await done;
    expect(replies).toEqual(["OK", "here"]);
    ws.close(1000, "done");
  });
});

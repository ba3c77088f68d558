/**
 * Blocking list commands inside workerd, with several real WebSocket clients
 * on one node: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
 *
 * What is checked: the non-blocking path answers at once; a blocked client
 * does not hold up other clients; a push wakes the blocked clients in the
 * order they blocked (one element wakes only the first); a push inside
 * MULTI/EXEC wakes them after EXEC; timeouts (fractional, and 0 = forever)
 * fire through the Durable Object alarm; a closed connection leaves no
 * waiter; inside MULTI the commands do not block; commands pipelined after a
 * blocking one are answered after it; INFO counts blocked clients; the
 * replication effects are the pops and moves that happened.
 *
 * Waiting uses polling (INFO from another client, or the alarm time against
 * the wall clock), never assertions on elapsed time.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/index.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, replay } from "./effects.ts";

const WRONGTYPE = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
const stub = (name: string) => (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function open(prefix = "blk") {
  const name = uniqueNode(prefix);
  const admin = await NodeClient.node(name);
  const fx = await captureEffects(name);
  const clients: NodeClient[] = [admin];
  const client = async () => {
    const c = await NodeClient.node(name);
    clients.push(c);
    return c;
  };
  const closeAll = () => clients.forEach((c) => c.close());
  return { name, admin, fx, client, closeAll };
}

/** INFO clients' blocked_clients, as another client sees it. */
async function blockedClients(c: NodeClient): Promise<number> {
  const info = String(plain(await c.call("INFO", "clients")));
  const match = /blocked_clients:(\d+)/.exec(info);
  if (!match) throw new Error(`no blocked_clients in INFO: ${info}`);
  return Number(match[1]);
}

/** Polls until `n` clients are blocked (each blocking command is sent only after the previous one blocked). */
async function waitBlocked(c: NodeClient, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await blockedClients(c)) === n) return;
    await sleep(2);
  }
  throw new Error(`never saw ${n} blocked clients (now ${await blockedClients(c)})`);
}

/** Tracks whether a promised reply has arrived yet. */
function track(promise: Promise<Reply>): { readonly settled: boolean; readonly reply: Promise<Reply> } {
  let settled = false;
  const reply = promise.then((r) => {
    settled = true;
    return r;
  });
  return {
    get settled() {
      return settled;
    },
    reply,
  };
}

function alarmTime(name: string): Promise<number | null> {
  return runInDurableObject(stub(name), (_instance, state) => state.storage.getAlarm());
}

/** Waits until the node's alarm is due, then runs it (repeatedly while one stays due). */
async function runDueAlarms(name: string, until: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !until(); i++) {
    const at = await alarmTime(name);
    if (at !== null && at <= Date.now()) await runDurableObjectAlarm(stub(name));
    else await sleep(at === null ? 5 : Math.min(20, Math.max(1, at - Date.now() + 1)));
  }
}

describe("the non-blocking path", () => {
  it("BLPOP/BRPOP/BLMPOP/BLMOVE/BRPOPLPUSH answer at once when data exists, with the non-blocking effect", async () => {
    const { admin: c, fx, closeAll } = await open();
    await c.call("RPUSH", "l", "a", "b", "c", "d", "e", "f");
    fx.take();
    expect(plain(await c.call("BLPOP", "missing", "l", 0))).toEqual(["l", "a"]);
    expect(plain(await c.call("BRPOP", "l", "missing", "1.5"))).toEqual(["l", "f"]);
    expect(plain(await c.call("BLMPOP", 0, 2, "missing", "l", "RIGHT", "COUNT", 2))).toEqual(["l", ["e", "d"]]);
    expect(plain(await c.call("BLMOVE", "l", "dst", "LEFT", "right", 0))).toBe("b");
    expect(plain(await c.call("BRPOPLPUSH", "l", "dst", 0))).toBe("c");
    expect(await blockedClients(c)).toBe(0);
    expect(await c.call("EXISTS", "l")).toEqual({ type: "integer", value: 0 });
    expect(plain(await c.call("LRANGE", "dst", 0, -1))).toEqual(["c", "b"]);
    expect(fx.take()).toEqual([
      ["LPOP", "l"],
      ["RPOP", "l"],
      ["RPOP", "l", "2"],
      ["LMOVE", "l", "dst", "LEFT", "right"],
      ["RPOPLPUSH", "l", "dst"],
    ]);
    closeAll();
  });

  it("argument and type errors", async () => {
    const { admin: c, closeAll } = await open();
    await c.call("SET", "s", "v");
    await c.call("RPUSH", "l", "a");
    const notFloat = { error: "ERR timeout is not a float or out of range" };
    const negative = { error: "ERR timeout is negative" };
    expect(plain(await c.call("BLPOP", "l", "x"))).toEqual(notFloat);
    expect(plain(await c.call("BLPOP", "l", "-1"))).toEqual(negative);
    expect(plain(await c.call("BRPOP", "l", "inf"))).toEqual(negative);
    expect(plain(await c.call("BLMOVE", "l", "d", "LEFT", "LEFT", "x"))).toEqual(notFloat);
    expect(plain(await c.call("BLMOVE", "l", "d", "UP", "LEFT", "x"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await c.call("BRPOPLPUSH", "l", "d", "-0.5"))).toEqual(negative);
    expect(plain(await c.call("BLMPOP", "x", 0, "l", "LEFT"))).toEqual({ error: "ERR numkeys should be greater than 0" });
    expect(plain(await c.call("BLMPOP", "x", 1, "l", "LEFT", "COUNT", 0))).toEqual({ error: "ERR count should be greater than 0" });
    expect(plain(await c.call("BLMPOP", "x", 1, "l", "LEFT"))).toEqual(notFloat);
    expect(plain(await c.call("BLPOP", "missing", "s", 0))).toEqual(WRONGTYPE);
    expect(plain(await c.call("BLMOVE", "s", "l", "LEFT", "LEFT", 0))).toEqual(WRONGTYPE);
    expect(plain(await c.call("BLMOVE", "l", "s", "LEFT", "LEFT", 0))).toEqual(WRONGTYPE);
    expect(plain(await c.call("BLMPOP", 0, 2, "s", "l", "LEFT"))).toEqual(WRONGTYPE);
    expect(plain(await c.call("LRANGE", "l", 0, -1))).toEqual(["a"]);
    expect(await blockedClients(c)).toBe(0);
    closeAll();
  });
});

describe("blocking and waking", () => {
  it("a blocked client waits while others are served, and a push wakes it with the right reply", async () => {
    const { admin, fx, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BLPOP", "a", "b", 0));
    await waitBlocked(admin, 1);
    expect(plain(await admin.call("SET", "x", "y"))).toBe("OK");
    expect(plain(await admin.call("GET", "x"))).toBe("y");
    expect(pending.settled).toBe(false);
    fx.take();
    expect(plain(await admin.call("RPUSH", "b", "v1", "v2"))).toBe(2);
    expect(plain(await pending.reply)).toEqual(["b", "v1"]);
    expect(plain(await admin.call("LRANGE", "b", 0, -1))).toEqual(["v2"]);
    expect(await blockedClients(admin)).toBe(0);
    expect(fx.take()).toEqual([["RPUSH", "b", "v1", "v2"], ["LPOP", "b"]]);
    closeAll();
  });

  it("serves blocked clients in the order they blocked; one element wakes only the first", async () => {
    const { admin, fx, client, closeAll } = await open();
    const waiting = [];
    for (let i = 0; i < 3; i++) {
      const c = await client();
      waiting.push(track(c.call("BRPOP", "q", 0)));
      await waitBlocked(admin, i + 1);
    }
    fx.take();
    expect(plain(await admin.call("LPUSH", "q", "first"))).toBe(1);
    expect(plain(await waiting[0].reply)).toEqual(["q", "first"]);
    expect(await blockedClients(admin)).toBe(2);
    expect(waiting[1].settled || waiting[2].settled).toBe(false);
    expect(plain(await admin.call("LPUSH", "q", "second", "third"))).toBe(2);
    expect(plain(await waiting[1].reply)).toEqual(["q", "second"]);
    expect(plain(await waiting[2].reply)).toEqual(["q", "third"]);
    expect(await blockedClients(admin)).toBe(0);
    expect(plain(await admin.call("EXISTS", "q"))).toBe(0);
    expect(fx.take()).toEqual([
      ["LPUSH", "q", "first"],
      ["RPOP", "q"],
      ["LPUSH", "q", "second", "third"],
      ["RPOP", "q"],
      ["RPOP", "q"],
    ]);
    closeAll();
  });

  it("a push inside MULTI/EXEC wakes the blocked client after EXEC", async () => {
    const { admin, fx, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BLPOP", "q", 0));
    await waitBlocked(admin, 1);
    fx.take();
    await admin.call("MULTI");
    await admin.call("RPUSH", "q", "x");
    await admin.call("RPUSH", "q", "y");
    expect(pending.settled).toBe(false);
    expect(plain(await admin.call("EXEC"))).toEqual([1, 2]);
    expect(plain(await pending.reply)).toEqual(["q", "x"]);
    expect(plain(await admin.call("LRANGE", "q", 0, -1))).toEqual(["y"]);
    expect(fx.take()).toEqual([["MULTI"], ["RPUSH", "q", "x"], ["RPUSH", "q", "y"], ["EXEC"], ["LPOP", "q"]]);
    closeAll();
  });

  it("a client blocked on several keys is served from the key that became ready (Redis 7.0)", async () => {
    const { admin, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BLPOP", "a", "b", 0));
    await waitBlocked(admin, 1);
    await admin.call("MULTI");
    await admin.call("RPUSH", "b", "x");
    await admin.call("RPUSH", "a", "y");
    await admin.call("EXEC");
    expect(plain(await pending.reply)).toEqual(["b", "x"]);
    expect(plain(await admin.call("LRANGE", "a", 0, -1))).toEqual(["y"]);
    closeAll();
  });

  it("a key replaced by another type keeps the client waiting; it is served once a list comes back", async () => {
    const { admin, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BLPOP", "k", 0));
    await waitBlocked(admin, 1);
    await admin.call("SET", "k", "string");
    expect(await blockedClients(admin)).toBe(1);
    expect(pending.settled).toBe(false);
    await admin.call("DEL", "k");
    await admin.call("RPUSH", "k", "v");
    expect(plain(await pending.reply)).toEqual(["k", "v"]);
    closeAll();
  });

  it("clients wait in their own db", async () => {
    const { admin, fx, client, closeAll } = await open();
    const c1 = await client();
    await c1.call("SELECT", 1);
    const pending = track(c1.call("BLPOP", "q", 0));
    await waitBlocked(admin, 1);
    await admin.call("RPUSH", "q", "db0");
    expect(await blockedClients(admin)).toBe(1);
    await admin.call("SELECT", 1);
    fx.take();
    await admin.call("RPUSH", "q", "db1");
    expect(plain(await pending.reply)).toEqual(["q", "db1"]);
    expect(fx.takeRaw().map((e) => [e.db, new TextDecoder().decode(e.argv[0])])).toEqual([[1, "RPUSH"], [1, "LPOP"]]);
    await admin.call("SELECT", 0);
    expect(plain(await admin.call("LRANGE", "q", 0, -1))).toEqual(["db0"]);
    closeAll();
  });
});

describe("BLMOVE, BRPOPLPUSH, BLMPOP when served after blocking", () => {
  it("BLMOVE moves and is propagated as LMOVE; its push wakes clients blocked on the destination", async () => {
    const { admin, fx, client, closeAll } = await open();
    const mover = await client();
    const popper = await client();
    const moved = track(mover.call("BLMOVE", "src", "dst", "RIGHT", "LEFT", 0));
    await waitBlocked(admin, 1);
    const popped = track(popper.call("BLPOP", "dst", 0));
    await waitBlocked(admin, 2);
    fx.take();
    await admin.call("RPUSH", "src", "a", "b");
    expect(plain(await moved.reply)).toBe("b");
    expect(plain(await popped.reply)).toEqual(["dst", "b"]);
    expect(plain(await admin.call("LRANGE", "src", 0, -1))).toEqual(["a"]);
    expect(plain(await admin.call("EXISTS", "dst"))).toBe(0);
    expect(fx.take()).toEqual([
      ["RPUSH", "src", "a", "b"],
      ["LMOVE", "src", "dst", "right", "left"],
      ["LPOP", "dst"],
    ]);
    closeAll();
  });

  it("BRPOPLPUSH is propagated as RPOPLPUSH", async () => {
    const { admin, fx, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BRPOPLPUSH", "src", "dst", 0));
    await waitBlocked(admin, 1);
    fx.take();
    await admin.call("RPUSH", "src", "a", "b");
    expect(plain(await pending.reply)).toBe("b");
    expect(plain(await admin.call("LRANGE", "dst", 0, -1))).toEqual(["b"]);
    expect(fx.take()).toEqual([["RPUSH", "src", "a", "b"], ["RPOPLPUSH", "src", "dst"]]);
    closeAll();
  });

  it("a BLMOVE whose destination became another type gets WRONGTYPE and moves nothing", async () => {
    const { admin, fx, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BLMOVE", "src", "dst", "LEFT", "LEFT", 0));
    await waitBlocked(admin, 1);
    await admin.call("SET", "dst", "string");
    fx.take();
    await admin.call("RPUSH", "src", "x");
    expect(plain(await pending.reply)).toEqual(WRONGTYPE);
    expect(plain(await admin.call("LRANGE", "src", 0, -1))).toEqual(["x"]);
    expect(await blockedClients(admin)).toBe(0);
    expect(fx.take()).toEqual([["RPUSH", "src", "x"]]);
    closeAll();
  });

  it("BLMPOP pops up to COUNT from the ready list and is propagated as the pop with the popped count", async () => {
    const { admin, fx, client, closeAll } = await open();
    const c1 = await client();
    const pending = track(c1.call("BLMPOP", 0, 2, "a", "b", "LEFT", "COUNT", 5));
    await waitBlocked(admin, 1);
    fx.take();
    await admin.call("RPUSH", "b", "1", "2", "3");
    expect(plain(await pending.reply)).toEqual(["b", ["1", "2", "3"]]);
    expect(plain(await admin.call("EXISTS", "b"))).toBe(0);
    expect(fx.take()).toEqual([["RPUSH", "b", "1", "2", "3"], ["LPOP", "b", "3"]]);
    closeAll();
  });
});

describe("timeouts", () => {
  /**
   * Shifts node `name`'s clock (host.now) by `offsetMs` from the wall clock,
   * so a test can let a long timeout pass without waiting for it; returns a
   * function that restores the real clock.
   */
  async function shiftClock(name: string, offsetMs: () => number): Promise<() => Promise<void>> {
    const hostOf = (instance: unknown) => (instance as { node: { host: { now: () => number } } }).node.host;
    let original: (() => number) | null = null;
    await runInDurableObject(stub(name), (instance: unknown) => {
      const host = hostOf(instance);
      original = host.now;
      host.now = () => Date.now() + offsetMs();
    });
    return () => runInDurableObject(stub(name), (instance: unknown) => {
      hostOf(instance).now = original!;
    });
  }

  it("a blocked client times out when the alarm runs after its timeout, not before", async () => {
    const { name, admin, fx, client, closeAll } = await open();
    let offset = 0;
    const restore = await shiftClock(name, () => offset);
    try {
      const c1 = await client();
      const c2 = await client();
      const blpop = track(c1.call("BLPOP", "q", "1000.5"));
      await waitBlocked(admin, 1);
      const blmove = track(c2.call("BLMOVE", "q", "d", "LEFT", "LEFT", "2000"));
      await waitBlocked(admin, 2);
      await runDurableObjectAlarm(stub(name));
      expect(await blockedClients(admin)).toBe(2);
      offset = 1000_501; // past BLPOP's timeout only
      await runDurableObjectAlarm(stub(name));
      expect((await blpop.reply).type).toBe("nullarray");
      expect(await blockedClients(admin)).toBe(1);
      expect(blmove.settled).toBe(false);
      offset = 2000_001;
      await runDurableObjectAlarm(stub(name));
      // Redis 7.0 answers a timed-out BLMOVE with a null array (a null bulk only inside MULTI).
      expect((await blmove.reply).type).toBe("nullarray");
      expect(await blockedClients(admin)).toBe(0);
      expect(fx.take()).toEqual([]);
      // A later push is not consumed by anyone.
      expect(plain(await admin.call("RPUSH", "q", "late"))).toBe(1);
      expect(plain(await admin.call("LLEN", "q"))).toBe(1);
    } finally {
      await restore();
      closeAll();
    }
  });

  it("fractional timeouts fire through the alarm, with each command's timeout reply", async () => {
    const { name, admin, fx, client, closeAll } = await open();
    const c1 = await client();
    const c2 = await client();
    const c3 = await client();
    const c4 = await client();
    await c4.call("HELLO", 3);
    const replies = [
      track(c1.call("BLPOP", "q", "0.1")),
      track(c2.call("BLMOVE", "q", "d", "LEFT", "LEFT", "0.05")),
      track(c3.call("BLMPOP", "0.1", 1, "q", "LEFT")),
      track(c4.call("BRPOP", "q", "0.1")),
    ];
    await runDueAlarms(name, () => replies.every((r) => r.settled));
    const types = [];
    for (const r of replies) types.push((await r.reply).type);
    // RESP3 has one null, `_`, which the parser reads as "null".
    expect(types).toEqual(["nullarray", "nullarray", "nullarray", "null"]);
    expect(await blockedClients(admin)).toBe(0);
    expect(fx.take()).toEqual([]);
    closeAll();
  });

  it("timeout 0 waits forever: alarms that run meanwhile leave the client blocked", async () => {
    const { name, admin, client, closeAll } = await open();
    let offset = 0;
    const restore = await shiftClock(name, () => offset);
    try {
      const short = await client();
      const forever = await client();
      const waitsForever = track(forever.call("BLPOP", "q", 0));
      await waitBlocked(admin, 1);
      const timesOut = track(short.call("BLPOP", "other", "10"));
      await waitBlocked(admin, 2);
      offset = 10 * 365 * 24 * 3600 * 1000; // ten years later
      await runDurableObjectAlarm(stub(name));
      expect((await timesOut.reply).type).toBe("nullarray");
      await runDurableObjectAlarm(stub(name));
      expect(waitsForever.settled).toBe(false);
      expect(await blockedClients(admin)).toBe(1);
      await admin.call("RPUSH", "q", "v");
      expect(plain(await waitsForever.reply)).toEqual(["q", "v"]);
    } finally {
      await restore();
      closeAll();
    }
  });
});

describe("connections, transactions and pipelining", () => {
  it("a closed connection leaves no waiter behind", async () => {
    const { admin, client, closeAll } = await open();
    const c1 = await client();
    void c1.call("BLPOP", "q", 0);
    await waitBlocked(admin, 1);
    c1.close();
    await waitBlocked(admin, 0);
    expect(plain(await admin.call("RPUSH", "q", "kept"))).toBe(1);
    expect(plain(await admin.call("LRANGE", "q", 0, -1))).toEqual(["kept"]);
    closeAll();
  });

  it("inside MULTI blocking commands behave as their non-blocking forms", async () => {
    const { admin: c, fx, closeAll } = await open();
    await c.call("MULTI");
    await c.call("BLPOP", "q", 0);
    await c.call("BLMOVE", "q", "d", "LEFT", "LEFT", 0);
    await c.call("BRPOPLPUSH", "q", "d", 0);
    await c.call("BLMPOP", 0, 1, "q", "LEFT");
    await c.call("RPUSH", "q", "a", "b");
    await c.call("BRPOP", "q", 0);
    await c.call("BLMOVE", "q", "d", "LEFT", "RIGHT", 0);
    const exec = await c.call("EXEC");
    expect(exec.type).toBe("array");
    const replies = (exec as { value: readonly Reply[] }).value;
    expect(replies.map((r) => r.type)).toEqual(["nullarray", "null", "null", "nullarray", "integer", "array", "bulk"]);
    expect(plain(exec)).toEqual([null, null, null, null, 2, ["q", "b"], "a"]);
    expect(await blockedClients(c)).toBe(0);
    expect(fx.take()).toEqual([
      ["MULTI"],
      ["RPUSH", "q", "a", "b"],
      ["RPOP", "q"],
      ["LMOVE", "q", "d", "LEFT", "RIGHT"],
      ["EXEC"],
    ]);
    closeAll();
  });

  it("commands pipelined after a blocking one are answered after its reply", async () => {
    const { admin, client, closeAll } = await open();
    const c1 = await client();
    const all = c1.pipeline([["BLPOP", "q", 0], ["PING"], ["RPUSH", "mine", "x"], ["LLEN", "q"]]);
    await waitBlocked(admin, 1);
    expect(plain(await admin.call("EXISTS", "mine"))).toBe(0); // not run yet
    await admin.call("RPUSH", "q", "v1", "v2");
    expect((await all).map(plain)).toEqual([["q", "v1"], "PONG", 1, 1]);
    closeAll();
  });

  it("INFO counts blocked clients", async () => {
    const { admin, client, closeAll } = await open();
    expect(await blockedClients(admin)).toBe(0);
    const c1 = await client();
    const c2 = await client();
    const p1 = c1.call("BLPOP", "q1", 0);
    await waitBlocked(admin, 1);
    const p2 = c2.call("BLMOVE", "q2", "d", "LEFT", "LEFT", 0);
    await waitBlocked(admin, 2);
    expect(await blockedClients(admin)).toBe(2);
    await admin.call("RPUSH", "q2", "x");
    await p2;
    expect(await blockedClients(admin)).toBe(1);
    await admin.call("RPUSH", "q1", "x");
    await p1;
    expect(await blockedClients(admin)).toBe(0);
    closeAll();
  });
});

describe("effects of a blocking workload", () => {
  it("rebuild the same lists on an empty node", async () => {
    const { admin, fx, client, closeAll } = await open();
    const workers = [await client(), await client(), await client()];
    const commands = [
      ["BLMOVE", "jobs", "work", "LEFT", "RIGHT", 0],
      ["BLMPOP", 0, 2, "jobs", "urgent", "RIGHT", "COUNT", 2],
      ["BRPOPLPUSH", "work", "done", 0],
    ];
    const pending: Promise<Reply>[] = [];
    for (let i = 0; i < commands.length; i++) {
      pending.push(workers[i].call(...commands[i]));
      await waitBlocked(admin, i + 1);
    }
    await admin.call("RPUSH", "jobs", "j1", "j2", "j3");
    await admin.call("LPUSH", "urgent", "u1");
    expect((await Promise.all(pending)).map(plain)).toEqual(["j1", ["jobs", ["j3", "j2"]], "j1"]);
    expect(plain(await admin.call("BLPOP", "urgent", 0))).toEqual(["urgent", "u1"]);
    await admin.call("RPUSH", "work", "w1", "w2");
    const keys = ["jobs", "work", "done", "urgent"];
    const expected = [];
    for (const k of keys) expected.push(plain(await admin.call("LRANGE", k, 0, -1)));
    const copy = uniqueNode("blkreplay");
    await replay(copy, fx.takeRaw());
    const c = await NodeClient.node(copy);
    const actual = [];
    for (const k of keys) actual.push(plain(await c.call("LRANGE", k, 0, -1)));
    expect(expected).toEqual([[], ["w1", "w2"], ["j1"], []]);
    expect(actual).toEqual(expected);
    c.close();
    closeAll();
  });
});

/**
 * The cluster Session's routing logic against scripted fake nodes (no
 * workerd): redirections (MOVED refresh and retry, ASK with ASKING, the
 * retry cap), reply order across nodes, and read-your-writes bookkeeping.
 * The same paths run against real nodes in test/workers/proxy*.test.ts.
 */
import { describe, expect, it } from "vitest";
import { keySlot } from "../../../shared/cluster/slot.ts";
import type { ClusterNode, Topology } from "../../../shared/cluster/topology.ts";
import { encodeReply, RequestParser, type Reply } from "../../../shared/resp/index.ts";
import { array, bulk, error, integer, NULL, OK } from "../../../shared/resp/reply.ts";
import { ClusterRouter, MAX_REDIRECTS, type ClusterSession, type NodeDialer } from "../../../worker/router/cluster.ts";
import { decodeSyncToken, encodeSyncToken } from "../../../worker/router/sync-token.ts";
import { ClusterView, type TopologySource } from "../../../worker/router/topology-source.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const hex = (c: string) => c.repeat(40);

function node(name: string, id: string, shard: string, role: "master" | "replica", masterId: string | null = null): ClusterNode {
  return { id: hex(id), name, shardId: hex(shard), role, masterId: masterId ? hex(masterId) : null, configEpoch: 1, flags: [] };
}

/** Two shards: A (slots 0-8191: master a, replica ar) and B (8192-16383: master b). */
function topology(epoch: number, ownerOfLowHalf = "1"): Topology {
  return {
    name: "t",
    epoch,
    nodes: [node("a", "1", "a", "master"), node("ar", "2", "a", "replica", "1"), node("b", "3", "b", "master")],
    slots: [
      { start: 0, end: 8191, masterId: hex(ownerOfLowHalf) },
      { start: 8192, end: 16383, masterId: hex("3") },
    ],
    migrations: [],
  };
}

type Handler = (argv: string[], conn: { asking: boolean }) => Reply;

/** Fake nodes: each answers with its handler; every command is logged per node. */
class FakeCluster {
  readonly log: Record<string, string[]> = {};
  readonly handlers: Record<string, Handler> = {};
  readonly frames: Record<string, number> = {};
  view: ClusterView;
  refreshes = 0;
  next: Topology | null = null;

  constructor(t: Topology) {
    this.view = new ClusterView(t);
  }

  source(): TopologySource {
    return {
      current: () => this.view,
      get: async () => this.view,
      refresh: async () => {
        this.refreshes++;
        if (this.next) this.view = new ClusterView(this.next);
        return this.view;
      },
    };
  }

  dialer(): NodeDialer {
    return async (name, handlers) => {
      const parser = new RequestParser({ maxBulkLength: 1 << 20, maxMultibulkLength: 1 << 20 });
      const conn = { asking: false };
      return {
        send: (bytes) => {
          this.frames[name] = (this.frames[name] ?? 0) + 1;
          parser.feed(bytes);
          const out: Uint8Array[] = [];
          for (let argv = parser.next(); argv !== null; argv = parser.next()) {
            if (argv instanceof Error) throw argv;
            const words = argv.map((a) => dec.decode(a));
            (this.log[name] ??= []).push(words.join(" "));
            const handler = this.handlers[name] ?? (() => OK);
            const reply = handler(words, conn);
            if (words[0].toUpperCase() !== "ASKING") conn.asking = false;
            else conn.asking = true;
            out.push(encodeReply(reply, 2));
          }
          const total = out.reduce((n, b) => n + b.length, 0);
          const frame = new Uint8Array(total);
          let at = 0;
          for (const b of out) {
            frame.set(b, at);
            at += b.length;
          }
          // Replies arrive later, like a real socket.
          setTimeout(() => handlers.onMessage(frame), 0);
        },
        close: () => {},
      };
    };
  }

  router(): ClusterRouter {
    return new ClusterRouter({ topology: this.source(), dial: this.dialer() });
  }
}

const argv = (...words: string[]) => words.map((w) => enc.encode(w));
const keyIn = (lowHalf: boolean, prefix = "k") => {
  for (let i = 0; ; i++) {
    const key = `${prefix}${i}`;
    if (keySlot(enc.encode(key)) < 8192 === lowHalf) return key;
  }
};

/** A keyspace handler: GET/SET plus the tidekv commands, with an offset that grows on writes. */
function store(replid: string, state = { offset: 100, data: new Map<string, string>() }): Handler {
  return (w) => {
    const cmd = w[0].toUpperCase();
    if (cmd === "SET") {
      state.data.set(w[1], w[2]);
      state.offset += 10;
      return OK;
    }
    if (cmd === "GET") return state.data.has(w[1]) ? bulk(state.data.get(w[1])!) : NULL;
    if (cmd === "TIDEKV.OFFSET") return array([bulk(replid), integer(state.offset)]);
    if (cmd === "TIDEKV.READAFTER") return w[1] === replid && Number(w[2]) <= state.offset ? OK : error("STALE behind");
    return OK;
  };
}

describe("redirections", () => {
  it("MOVED: refreshes the topology and retries on the new owner, in order", async () => {
    const cluster = new FakeCluster(topology(1));
    const k = keyIn(true);
    const slot = keySlot(enc.encode(k));
    // Node a lost the low half to b: it redirects everything there.
    cluster.handlers.a = () => error(`MOVED ${slot} b:443`);
    const b = store(hex("9"));
    cluster.handlers.b = b;
    cluster.next = topology(2, "3");
    const session = await cluster.router().open({ trackSyncToken: false });
    const replies = await Promise.all([
      session.send(argv("SET", k, "1")),
      session.send(argv("GET", k)),
      session.send(argv("SET", k, "2")),
      session.send(argv("GET", k)),
    ]);
    expect(replies).toEqual([OK, bulk("1"), OK, bulk("2")]);
    expect(cluster.refreshes).toBe(1);
    expect(cluster.log.b).toEqual([`SET ${k} 1`, `GET ${k}`, `SET ${k} 2`, `GET ${k}`]);
    expect(session.epoch).toBe(2);
    // Now routed to b directly.
    expect(await session.send(argv("GET", k))).toEqual(bulk("2"));
    expect(cluster.log.a).toHaveLength(4);
  });

  it("ASK: sends ASKING then the command to the target, without a refresh", async () => {
    const cluster = new FakeCluster(topology(1));
    const k = keyIn(true);
    const slot = keySlot(enc.encode(k));
    cluster.handlers.a = (w) => (w[0] === "GET" ? error(`ASK ${slot} b:443`) : OK);
    cluster.handlers.b = (w, conn) => (w[0] === "GET" ? (conn.asking ? bulk("moved-value") : error(`MOVED ${slot} a:443`)) : OK);
    const session = await cluster.router().open();
    expect(await session.send(argv("GET", k))).toEqual(bulk("moved-value"));
    expect(cluster.log.b).toEqual(["ASKING", `GET ${k}`]);
    expect(cluster.refreshes).toBe(0);
  });

  it(`gives up after ${MAX_REDIRECTS} redirections with TRYAGAIN`, async () => {
    const cluster = new FakeCluster(topology(1));
    const k = keyIn(true);
    const slot = keySlot(enc.encode(k));
    cluster.handlers.a = () => error(`MOVED ${slot} b:443`);
    cluster.handlers.b = () => error(`MOVED ${slot} a:443`);
    const session = await cluster.router().open({ trackSyncToken: false });
    const reply = await session.send(argv("GET", k));
    expect(reply).toEqual(error(`TRYAGAIN tidekv proxy: too many cluster redirections (last: MOVED ${slot} a:443)`));
    expect((cluster.log.a?.length ?? 0) + (cluster.log.b?.length ?? 0)).toBe(MAX_REDIRECTS + 1);
    // The session goes on.
    cluster.handlers.b = () => bulk("fine");
    expect(await session.send(argv("GET", keyIn(false)))).toEqual(bulk("fine"));
  });
});

describe("batching and order", () => {
  it("one burst goes out as one frame per node, replies in submission order", async () => {
    const cluster = new FakeCluster(topology(1));
    cluster.handlers.a = (w) => bulk(`a:${w[1]}`);
    cluster.handlers.b = (w) => bulk(`b:${w[1]}`);
    const session = await cluster.router().open();
    const keys = Array.from({ length: 40 }, (_, i) => `key${i}`);
    const replies = await Promise.all(keys.map((k) => session.send(argv("GET", k))));
    expect(replies.map((r) => dec.decode((r as { value: Uint8Array }).value))).toEqual(
      keys.map((k) => `${keySlot(enc.encode(k)) < 8192 ? "a" : "b"}:${k}`),
    );
    expect(cluster.frames).toEqual({ a: 1, b: 1 });
  });

  it("MGET across nodes is split by slot and put back in order", async () => {
    const cluster = new FakeCluster(topology(1));
    const values = (node: string) => (w: string[]) => array(w.slice(1).map((k) => bulk(`${node}:${k}`)));
    cluster.handlers.a = values("a");
    cluster.handlers.b = values("b");
    const session = await cluster.router().open();
    const keys = ["x1", "x2", "x3", "x4", "x5", "x6"];
    const reply = await session.send(argv("MGET", ...keys));
    expect(reply).toEqual(array(keys.map((k) => bulk(`${keySlot(enc.encode(k)) < 8192 ? "a" : "b"}:${k}`))));
    for (const line of [...(cluster.log.a ?? []), ...(cluster.log.b ?? [])]) {
      const ks = line.split(" ").slice(1);
      expect(new Set(ks.map((k) => keySlot(enc.encode(k)))).size).toBe(1);
    }
  });
});

describe("passing replies through (the /resp proxy)", () => {
  /** Submits a burst; resolves with each reply as delivered (bytes shown as text, Replies as they are). */
  function burst(session: ClusterSession, ...commands: Uint8Array[][]): Promise<(string | Reply)[]> {
    return Promise.all(
      commands.map(
        (c) => new Promise<string | Reply>((resolve) => session.submit(c, (r) => resolve(r instanceof Uint8Array ? dec.decode(r) : r))),
      ),
    );
  }

  it("a one-node reply arrives as the node's bytes; split, fanned-out, error and redirected ones as Replies", async () => {
    const cluster = new FakeCluster(topology(1));
    const low = keyIn(true);
    const high = keyIn(false);
    const slot = keySlot(enc.encode(low));
    const moving = `{${low}}moving`;
    let moved = false;
    cluster.handlers.a = (w) => {
      if (w[0] === "GET" && w[1] === moving && !moved) {
        moved = true;
        return error(`MOVED ${slot} a:443`);
      }
      if (w[0] === "MGET") return array(w.slice(1).map((k) => bulk(`a:${k}`)));
      if (w[0] === "DBSIZE") return integer(2);
      if (w[0] === "GET") return bulk(`a:${w[1]}`);
      return error("ERR nope");
    };
    cluster.handlers.b = (w) => {
      if (w[0] === "MGET") return array(w.slice(1).map((k) => bulk(`b:${k}`)));
      if (w[0] === "DBSIZE") return integer(3);
      return bulk(`b:${w[1]}`);
    };
    cluster.next = topology(1);
    const session = await cluster.router().open({ passThrough: true, trackSyncToken: false });
    const replies = await burst(
      session,
      argv("GET", low),
      argv("MGET", low, high),
      argv("DBSIZE"),
      argv("LPUSH", low, "x"),
      argv("GET", moving),
      argv("GET", high),
    );
    expect(replies).toEqual([
      `$${2 + low.length}\r\na:${low}\r\n`,
      array([bulk(`a:${low}`), bulk(`b:${high}`)]),
      integer(5),
      error("ERR nope"),
      // Redirected, retried, then passed through from the node that answered.
      `$${2 + moving.length}\r\na:${moving}\r\n`,
      `$${2 + high.length}\r\nb:${high}\r\n`,
    ]);
    expect(cluster.refreshes).toBe(1);
    // send() always gives Replies.
    expect(await session.send(argv("GET", low))).toEqual(bulk(`a:${low}`));
  });

  it("a tracked write's bytes wait for the shard's offset, then go out in order", async () => {
    const cluster = new FakeCluster(topology(1));
    cluster.handlers.a = store(hex("7"));
    cluster.handlers.b = store(hex("8"));
    const k = keyIn(true);
    const session = await cluster.router().open({ passThrough: true, readFromReplicas: true });
    const replies = await burst(session, argv("SET", k, "v"), argv("GET", k));
    expect(replies).toEqual(["+OK\r\n", "$1\r\nv\r\n"]);
    expect(cluster.log.a).toEqual([`SET ${k} v`, `GET ${k}`, "TIDEKV.OFFSET"]);
    expect(decodeSyncToken(session.syncToken)!.shards.get(hex("a"))).toEqual({ replid: hex("7"), offset: 110 });
  });
});

describe("read-your-writes", () => {
  it("reads go to the replica behind a READAFTER guard, and to the master when it is behind", async () => {
    const cluster = new FakeCluster(topology(1));
    const master = { offset: 100, data: new Map<string, string>() };
    const replica = { offset: 100, data: new Map<string, string>() };
    cluster.handlers.a = store(hex("7"), master);
    cluster.handlers.ar = store(hex("7"), replica);
    cluster.handlers.b = store(hex("8"));
    const k = keyIn(true);
    const session = await cluster.router().open({ readFromReplicas: true });
    expect(await session.send(argv("SET", k, "new"))).toEqual(OK);
    const token = decodeSyncToken(session.syncToken)!;
    expect(token.epoch).toBe(1);
    expect(token.shards.get(hex("a"))).toEqual({ replid: hex("7"), offset: 110 });
    // The replica has not applied the write: the read goes to the master.
    expect(await session.send(argv("GET", k))).toEqual(bulk("new"));
    expect(cluster.log.ar).toEqual(["READONLY", `TIDEKV.READAFTER ${hex("7")} 110`, `GET ${k}`]);
    expect(cluster.log.a.at(-1)).toBe(`GET ${k}`);
    // Caught up: served by the replica.
    replica.offset = 110;
    replica.data.set(k, "new");
    expect(await session.send(argv("GET", k))).toEqual(bulk("new"));
    expect(cluster.log.ar.slice(-2)).toEqual([`TIDEKV.READAFTER ${hex("7")} 110`, `GET ${k}`]);
    // A key of a shard this session never wrote to: no guard (shard B has no replica: master).
    expect(await session.send(argv("GET", keyIn(false)))).toEqual(NULL);
  });

  it("a token from an older epoch sends reads to masters until every master's offset is re-read", async () => {
    const cluster = new FakeCluster(topology(5));
    cluster.handlers.a = store(hex("7"));
    cluster.handlers.ar = store(hex("7"));
    cluster.handlers.b = store(hex("8"));
    const old = encodeSyncToken({ epoch: 4, shards: new Map([[hex("a"), { replid: hex("7"), offset: 50 }]]) });
    const session = await cluster.router().open({ readFromReplicas: true, syncToken: old });
    const k = keyIn(true);
    await session.send(argv("GET", k));
    expect(cluster.log.ar ?? []).toEqual([]);
    expect(cluster.log.a).toEqual(["TIDEKV.OFFSET", `GET ${k}`]);
    expect(cluster.log.b).toEqual(["TIDEKV.OFFSET"]);
    // The offsets arrive from both masters independently of the read's reply.
    for (let i = 0; i < 100 && decodeSyncToken(session.syncToken)!.epoch !== 5; i++) await new Promise((r) => setTimeout(r, 1));
    const token = decodeSyncToken(session.syncToken)!;
    expect(token.epoch).toBe(5);
    expect(token.shards.get(hex("a"))).toEqual({ replid: hex("7"), offset: 100 });
    await session.send(argv("GET", k));
    expect(cluster.log.ar).toEqual(["READONLY", `TIDEKV.READAFTER ${hex("7")} 100`, `GET ${k}`]);
  });

  it("a write waits for replica reads of its shard in flight (so a re-read cannot see it)", async () => {
    const cluster = new FakeCluster(topology(1));
    const master = { offset: 100, data: new Map([["seed", "x"]]) };
    cluster.handlers.a = store(hex("7"), master);
    cluster.handlers.ar = store(hex("7"), { offset: 90, data: new Map() });
    const k = keyIn(true);
    master.data.set(k, "old");
    const token = encodeSyncToken({ epoch: 1, shards: new Map([[hex("a"), { replid: hex("7"), offset: 100 }]]) });
    const session = await cluster.router().open({ readFromReplicas: true, syncToken: token });
    const [read, write] = await Promise.all([session.send(argv("GET", k)), session.send(argv("SET", k, "new"))]);
    expect(read).toEqual(bulk("old"));
    expect(write).toEqual(OK);
  });

  it("tokens round-trip and reject malformed text", () => {
    const text = encodeSyncToken({
      epoch: 7,
      shards: new Map([
        [hex("b"), { replid: hex("c"), offset: 12 }],
        [hex("a"), { replid: hex("d"), offset: 0 }],
      ]),
    });
    expect(text).toBe(`tk1.7.${hex("a")}:${hex("d")}:0,${hex("b")}:${hex("c")}:12`);
    const back = decodeSyncToken(text)!;
    expect(back.epoch).toBe(7);
    expect([...back.shards.entries()]).toEqual([
      [hex("a"), { replid: hex("d"), offset: 0 }],
      [hex("b"), { replid: hex("c"), offset: 12 }],
    ]);
    expect(encodeSyncToken({ epoch: 1, shards: new Map() })).toBeNull();
    for (const bad of ["", "tk1.", "tk1.x.", `tk1.1.${hex("a")}:${hex("d")}`, `tk2.1.${hex("a")}:${hex("d")}:1`, `tk1.1.${hex("g")}:${hex("d")}:1`, "sn1.abc.1"]) {
      expect(decodeSyncToken(bad)).toBeNull();
    }
  });
});

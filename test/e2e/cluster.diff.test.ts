/**
 * Cluster mode against a real Redis Cluster: `npm start` (wrangler dev) creates
 * the default tidekv cluster on first use (3 shards x 1 replica), and a real
 * redis-server 7.0 cluster of the same shape (6 nodes, `redis-cli --cluster
 * create --cluster-replicas 1`, cluster-preferred-endpoint-type hostname) is
 * asked the same commands. Replies are compared byte for byte where nothing
 * differs by nature, and field by field after naming nodes by their role
 * (M0..M2 for the masters of slots 0.., R0..R2 for their replicas) where ids,
 * hostnames, addresses and ports differ.
 *
 * Differences by design (README "Cluster"): tidekv nodes have no IP (the ip
 * fields carry the node name), no cluster bus (cport 0, no message stats, no
 * links), and every change bumps the epoch.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/index.ts";
import { startRedisServer, startTidekv, type RedisServer, type TidekvServer } from "../support/processes.ts";
import { RespTcpClient, RespWsClient, showBytes, utf8, type RespClient } from "../support/resp-client.ts";

const SHARD_STARTS = [0, 5461, 10923];

let tidekv: TidekvServer;
const redis: RedisServer[] = [];
const clients: RespClient[] = [];
/** Role label (M0, R0, ...) -> a way to connect, per side. */
const redisPorts = new Map<string, number>();
/** Per side: id / hostname -> role label. */
const redisLabels = new Map<string, string>();
const tidekvLabels = new Map<string, string>();

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function poll(check: () => Promise<boolean>, what: string, attempts = 400): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

async function redisNode(label: string, protocol: 2 | 3 = 2): Promise<RespClient> {
  const c = await RespTcpClient.open(redisPorts.get(label)!);
  clients.push(c);
  if (protocol === 3) await c.command("HELLO", "3");
  return c;
}

async function tidekvNode(label: string, protocol: 2 | 3 = 2): Promise<RespClient> {
  const name = `default-s${label.slice(1)}-${label[0] === "M" ? "m" : "r1"}`;
  const c = await RespWsClient.open(tidekv.wsUrl(`/node/${name}`), { timeoutMs: 30_000 });
  clients.push(c);
  if (protocol === 3) await c.command("HELLO", "3");
  return c;
}

function text(reply: Reply): string {
  if (reply.type === "bulk" || reply.type === "verbatim") return utf8(reply.value);
  if (reply.type === "simple" || reply.type === "error") return reply.value;
  throw new Error(`not a string reply: ${reply.type}`);
}

/** Parses CLUSTER NODES into role labels: the masters by their first slot, replicas by their master. */
function labelNodes(nodes: string, labels: Map<string, string>): void {
  const lines = nodes.trim().split("\n").map((l) => l.split(" "));
  const masters = lines.filter((f) => f[2].includes("master"));
  for (const f of masters) {
    const first = Number(f[8].split("-")[0]);
    const label = `M${SHARD_STARTS.indexOf(first)}`;
    labels.set(f[0], label);
    labels.set(f[1].split(",")[1], label);
  }
  for (const f of lines.filter((l) => l[2].includes("slave"))) {
    const label = `R${labels.get(f[3])!.slice(1)}`;
    labels.set(f[0], label);
    labels.set(f[1].split(",")[1], label);
  }
}

/** A reply as comparable JSON, with every id and hostname replaced by its role label. */
function normalize(reply: Reply, labels: Map<string, string>): unknown {
  switch (reply.type) {
    case "bulk":
    case "verbatim":
    case "simple": {
      const s = reply.type === "simple" ? reply.value : utf8(reply.value);
      return `${reply.type === "simple" ? "+" : "$"}${labels.get(s) ?? s}`;
    }
    case "error":
      return `-${reply.value}`;
    case "integer":
      return Number(reply.value);
    case "array":
    case "set":
    case "push":
      return { [reply.type]: reply.value.map((r) => normalize(r, labels)) };
    case "map":
      return { map: reply.value.map(([k, v]) => [normalize(k, labels), normalize(v, labels)]) };
    default:
      return reply;
  }
}

/** Field `name`'s value in a flat [k, v, k, v] array or a map (normalized form). */
function fieldsOf(entry: unknown): [unknown, unknown][] {
  const e = entry as { map?: [unknown, unknown][]; array?: unknown[] };
  if (e.map) return e.map;
  const out: [unknown, unknown][] = [];
  for (let i = 0; i < e.array!.length; i += 2) out.push([e.array![i], e.array![i + 1]]);
  return out;
}

beforeAll(async () => {
  // A real Redis Cluster: 3 masters, 3 replicas, hostnames announced.
  for (let i = 0; i < 6; i++) {
    redis.push(
      await startRedisServer({
        args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-preferred-endpoint-type", "hostname", "--cluster-announce-hostname", `redis${i}`],
      }),
    );
  }
  await run("redis-cli", ["--cluster", "create", ...redis.map((r) => `127.0.0.1:${r.port}`), "--cluster-replicas", "1", "--cluster-yes"]);
  const probe = await RespTcpClient.open(redis[0].port);
  clients.push(probe);
  await poll(async () => {
    for (const r of redis) {
      const c = await RespTcpClient.open(r.port);
      const info = text(await c.command("CLUSTER", "INFO"));
      const nodes = text(await c.command("CLUSTER", "NODES"));
      await c.close();
      const lines = nodes.trim().split("\n");
      const replicas = lines.filter((l) => l.split(" ")[2].includes("slave")).length;
      if (!info.includes("cluster_state:ok") || lines.length !== 6 || replicas !== 3 || nodes.includes("handshake")) return false;
    }
    return true;
  }, "redis cluster ready");
  labelNodes(text(await probe.command("CLUSTER", "NODES")), redisLabels);
  for (const r of redis) {
    const c = await RespTcpClient.open(r.port);
    redisPorts.set(redisLabels.get(text(await c.command("CLUSTER", "MYID")))!, r.port);
    await c.close();
  }
  // Redis lists a replica in CLUSTER SLOTS (and calls it "online" in SHARDS) once it
  // has a replication offset: write to every shard and wait until every node knows.
  for (const [label, key] of [["M0", "warmup{hello}"], ["M1", "warmup{slotkeys}"], ["M2", "warmup{foo}"]]) {
    const c = await RespTcpClient.open(redisPorts.get(label)!);
    await c.command("SET", key, "1");
    await c.command("DEL", key);
    await c.close();
  }
  await poll(async () => {
    for (const r of redis) {
      const c = await RespTcpClient.open(r.port);
      const shards = JSON.stringify(normalize(await c.command("CLUSTER", "SHARDS"), redisLabels));
      const slots = (await c.command("CLUSTER", "SLOTS")) as unknown as { value: { value: unknown[] }[] };
      await c.close();
      if (shards.includes("loading") || slots.value.some((range) => range.value.length !== 4)) return false;
    }
    return true;
  }, "redis replicas online");

  tidekv = await startTidekv();
}, 240_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await tidekv?.stop();
  await Promise.allSettled(redis.map((r) => r.stop()));
});

describe("the default cluster under npm start", () => {
  it("is created on first use, 3 shards x 1 replica, and its replicas replicate", async () => {
    const m0 = await tidekvNode("M0");
    const info = text(await m0.command("CLUSTER", "INFO"));
    expect(info).toContain("cluster_state:ok\r\n");
    expect(info).toContain("cluster_known_nodes:6\r\n");
    expect(info).toContain("cluster_size:3\r\n");
    labelNodes(text(await m0.command("CLUSTER", "NODES")), tidekvLabels);
    expect([...new Set(tidekvLabels.values())].sort()).toEqual(["M0", "M1", "M2", "R0", "R1", "R2"]);
    // MOVED names the owner and the port the server listens on.
    expect(text(await m0.command("GET", "foo"))).toBe(`MOVED 12182 default-s2-m:${tidekv.port}`);

    for (const [label, key] of [["0", "hello"], ["1", "slotkeys"], ["2", "foo"]] as const) {
      const master = await tidekvNode(`M${label}`);
      const slot = Number((await master.command("CLUSTER", "KEYSLOT", key) as { value: number }).value);
      expect(slot >= SHARD_STARTS[Number(label)]).toBe(true);
      expect(text(await master.command("SET", key, `v${label}`))).toBe("OK");
      const replica = await tidekvNode(`R${label}`);
      expect(text(await replica.command("READONLY"))).toBe("OK");
      await poll(async () => {
        const r = await replica.command("GET", key);
        return r.type === "bulk" && utf8(r.value) === `v${label}`;
      }, `${key} replicated to R${label}`);
    }
  });
});

describe("the same commands on Redis Cluster and tidekv", () => {
  /** Sends `argv` to node `label` on both sides; returns both replies. */
  async function both(label: string, argv: string[], protocol: 2 | 3 = 2): Promise<[Reply, Reply]> {
    const r = await redisNode(label, protocol);
    const t = await tidekvNode(label, protocol);
    return [await r.command(...argv), await t.command(...argv)];
  }

  /** Byte-for-byte: the same script on both sides' node `label`, in RESP2 and RESP3. */
  async function sameBytes(label: string, script: string[][]): Promise<void> {
    for (const protocol of [2, 3] as const) {
      const r = await redisNode(label, protocol);
      const t = await tidekvNode(label, protocol);
      for (const argv of script) {
        const [rb, tb] = [await r.commandRaw(...argv), await t.commandRaw(...argv)];
        expect(`RESP${protocol} ${argv.join(" ")}: ${showBytes(tb)}`).toBe(`RESP${protocol} ${argv.join(" ")}: ${showBytes(rb)}`);
      }
    }
  }

  it("KEYSLOT, CROSSSLOT, db 0 only, slot arguments and their errors", async () => {
    await sameBytes("M0", [
      ["CLUSTER", "KEYSLOT", "foo"],
      ["CLUSTER", "KEYSLOT", "{user1000}.following"],
      ["CLUSTER", "KEYSLOT", "foo{}{bar}"],
      ["CLUSTER", "KEYSLOT", "foo{{bar}}zap"],
      ["CLUSTER", "KEYSLOT", "foo{bar}{zap}"],
      ["CLUSTER", "KEYSLOT"],
      ["SET", "hello", "world"],
      ["MGET", "hello", "foo"],
      ["MSET", "a", "1", "b", "2"],
      ["MGET", "hello", "hello"],
      ["SELECT", "1"],
      ["SELECT", "-1"],
      ["SELECT", "x"],
      ["SELECT", "0"],
      ["SWAPDB", "0", "1"],
      ["CLUSTER", "COUNTKEYSINSLOT", "866"],
      ["CLUSTER", "COUNTKEYSINSLOT", "12182"],
      ["CLUSTER", "COUNTKEYSINSLOT", "-1"],
      ["CLUSTER", "COUNTKEYSINSLOT", "16384"],
      ["CLUSTER", "COUNTKEYSINSLOT", "abc"],
      ["CLUSTER", "GETKEYSINSLOT", "866", "10"],
      ["CLUSTER", "GETKEYSINSLOT", "866", "0"],
      ["CLUSTER", "GETKEYSINSLOT", "866", "-1"],
      ["CLUSTER", "GETKEYSINSLOT", "16384", "1"],
      ["CLUSTER", "GETKEYSINSLOT", "x", "1"],
      ["CLUSTER", "GETKEYSINSLOT", "1", "x"],
      ["CLUSTER", "REPLICAS", "abc"],
      ["CLUSTER", "MYID", "extra"],
      ["CLUSTER", "nope"],
      ["CLUSTER"],
      ["READONLY"],
      ["READWRITE"],
      ["ASKING"],
      ["ASKING", "x"],
      ["MULTI"],
      ["SET", "hello", "1"],
      ["SELECT", "1"],
      ["EXEC"],
      ["MULTI"],
      ["GET", "hello"],
      ["GET", "bar"],
      ["EXEC"],
      ["EXEC"],
      ["DEL", "hello"],
    ]);
  });

  it("MOVED for other shards' slots, and inside MULTI", async () => {
    for (const protocol of [2, 3] as const) {
      const [r, t] = [await redisNode("M0", protocol), await tidekvNode("M0", protocol)];
      for (const argv of [["GET", "foo"], ["SET", "{x}a", "1"], ["MULTI"], ["SET", "foo", "1"], ["EXEC"]]) {
        const [rr, tr] = [await r.command(...argv), await t.command(...argv)];
        const shape = (reply: Reply, host: RegExp) => (reply.type === "error" ? reply.value.replace(host, "HOST") : JSON.stringify(reply));
        expect(shape(tr, /default-s(\d)-m:\d+/)).toBe(shape(rr, /redis\d:\d+/));
        if (rr.type === "error" && rr.value.startsWith("MOVED")) {
          // The same owner: the master of the same slot range.
          const owner = (v: string, labels: Map<string, string>) => labels.get(v.split(" ")[2].split(":")[0]);
          expect(owner((tr as { value: string }).value, tidekvLabels)).toBe(owner(rr.value, redisLabels));
        }
      }
    }
  });

  it("READONLY reads on a replica, MOVED without it and for writes", async () => {
    const redisMaster = await redisNode("M0");
    await redisMaster.command("SET", "hello", "world");
    const tidekvMaster = await tidekvNode("M0");
    await tidekvMaster.command("SET", "hello", "world");
    const [r, t] = [await redisNode("R0"), await tidekvNode("R0")];
    await poll(async () => {
      await r.command("READONLY");
      await t.command("READONLY");
      const [a, b] = [await r.command("GET", "hello"), await t.command("GET", "hello")];
      await r.command("READWRITE");
      await t.command("READWRITE");
      return a.type === "bulk" && b.type === "bulk";
    }, "replicas have the key");
    for (const argv of [["GET", "hello"], ["READONLY"], ["GET", "hello"], ["MGET", "hello", "{hello}x"], ["SET", "hello", "x"], ["FLUSHALL"], ["READWRITE"], ["GET", "hello"]]) {
      const [rr, tr] = [await r.command(...argv), await t.command(...argv)];
      expect(normalizeMoved(tr, tidekvLabels)).toEqual(normalizeMoved(rr, redisLabels));
    }
  });

  it("CLUSTER INFO: the same fields and values (message stats aside)", async () => {
    for (const label of ["M1", "R1"]) {
      const [r, t] = await both(label, ["CLUSTER", "INFO"], 3);
      expect(t.type).toBe(r.type);
      const parse = (s: string) =>
        s
          .trimEnd()
          .split("\r\n")
          .map((l) => l.split(":"))
          .filter(([k]) => !/^cluster_stats_messages_[a-z]+_(sent|received)$/.test(k));
      const [rf, tf] = [parse(text(r)), parse(text(t))];
      expect(tf.map(([k]) => k)).toEqual(rf.map(([k]) => k));
      const values = (f: string[][]) => Object.fromEntries(f.filter(([k]) => !/epoch|stats_messages/.test(k)));
      expect(values(tf)).toEqual(values(rf));
      // my_epoch is the (master's) configEpoch: 2 for shard 1 on both.
      expect(tf.find(([k]) => k === "cluster_my_epoch")![1]).toBe(rf.find(([k]) => k === "cluster_my_epoch")![1]);
    }
  });

  it("CLUSTER MYID / MYSHARDID / REPLICAS name the same roles", async () => {
    const [r, t] = await both("R2", ["CLUSTER", "MYID"]);
    expect(normalize(t, tidekvLabels)).toEqual(normalize(r, redisLabels));
    expect(normalize(t, tidekvLabels)).toBe("$R2");
    const [tm] = [await (await tidekvNode("M2")).command("CLUSTER", "MYSHARDID")];
    expect(text(tm)).toMatch(/^[0-9a-f]{40}$/);
    expect(text(await (await tidekvNode("R2")).command("CLUSTER", "MYSHARDID"))).toBe(text(tm));
    const masterId = (labels: Map<string, string>) => [...labels].find(([k, v]) => v === "M2" && /^[0-9a-f]{40}$/.test(k))![0];
    const rr = await (await redisNode("M0")).command("CLUSTER", "REPLICAS", masterId(redisLabels));
    const tr = await (await tidekvNode("M0")).command("CLUSTER", "REPLICAS", masterId(tidekvLabels));
    const lineShape = (reply: Reply, labels: Map<string, string>) =>
      (reply as unknown as { value: Reply[] }).value.map((l) => nodeLineShape(text(l), labels));
    expect(lineShape(tr, tidekvLabels)).toEqual(lineShape(rr, redisLabels));
    const [re, te] = [
      await (await redisNode("M0")).command("CLUSTER", "REPLICAS", [...redisLabels].find(([k, v]) => v === "R2" && k.length === 40)![0]),
      await (await tidekvNode("M0")).command("CLUSTER", "REPLICAS", [...tidekvLabels].find(([k, v]) => v === "R2" && k.length === 40)![0]),
    ];
    expect(te).toEqual(re);
  });

  it("CLUSTER NODES: the same lines, field by field", async () => {
    for (const label of ["M0", "R1"]) {
      const [r, t] = await both(label, ["CLUSTER", "NODES"], 3);
      expect(t.type).toBe(r.type);
      const lines = (reply: Reply, labels: Map<string, string>) =>
        text(reply)
          .trimEnd()
          .split("\n")
          .map((l) => nodeLineShape(l, labels))
          .sort((a, b) => a.label.localeCompare(b.label));
      expect(lines(t, tidekvLabels)).toEqual(lines(r, redisLabels));
      expect(text(t).endsWith("\n")).toBe(true);
    }
  });

  it("CLUSTER SLOTS: the same ranges and node entries", async () => {
    for (const protocol of [2, 3] as const) {
      const [r, t] = await both("M1", ["CLUSTER", "SLOTS"], protocol);
      expect(slotsShape(t, tidekvLabels)).toEqual(slotsShape(r, redisLabels));
    }
  });

  it("CLUSTER SHARDS: the same shards, nodes and fields", async () => {
    for (const protocol of [2, 3] as const) {
      const [r, t] = await both("M0", ["CLUSTER", "SHARDS"], protocol);
      expect(shardsShape(t, tidekvLabels)).toEqual(shardsShape(r, redisLabels));
    }
  });
});

function normalizeMoved(reply: Reply, labels: Map<string, string>): unknown {
  if (reply.type === "error" && /^(MOVED|ASK) /.test(reply.value)) {
    const [kind, slot, addr] = reply.value.split(" ");
    return `-${kind} ${slot} ${labels.get(addr.split(":")[0])}`;
  }
  return normalize(reply, labels);
}

/** A CLUSTER NODES line with ids, addresses and times replaced: what must match Redis. */
function nodeLineShape(line: string, labels: Map<string, string>) {
  const f = line.split(" ");
  const [, hostname] = f[1].split(",");
  return {
    label: labels.get(f[0])!,
    hostnameIsLabel: labels.get(hostname),
    addrShape: /^[^:]+:\d+@\d+,[^,]+$/.test(f[1]),
    flags: f[2],
    master: f[3] === "-" ? "-" : labels.get(f[3]),
    pingSentIsNumber: /^\d+$/.test(f[4]),
    pongIsNumber: /^\d+$/.test(f[5]),
    epoch: f[6],
    link: f[7],
    slots: f.slice(8),
  };
}

function slotsShape(reply: Reply, labels: Map<string, string>): unknown {
  const n = normalize(reply, labels) as { array: { array: unknown[] }[] };
  return n.array.map((entry) =>
    entry.array.map((x, i) => {
      if (i < 2) return x;
      const node = (x as { array: unknown[] }).array;
      // [endpoint, port, id, {metadata}]: the port differs, the ip value differs by design.
      const meta = fieldsOf(node[3]).map(([k, v]) => [k, k === "$ip" ? "IP" : v]);
      return { endpoint: node[0], port: typeof node[1], id: node[2], metaType: Object.keys(node[3] as object)[0], meta };
    }),
  );
}

function shardsShape(reply: Reply, labels: Map<string, string>): unknown {
  const n = normalize(reply, labels) as { array: unknown[] };
  return n.array
    .map((shard) => {
      const fields = fieldsOf(shard);
      return {
        type: Object.keys(shard as object)[0],
        keys: fields.map(([k]) => k),
        slots: fields[0][1],
        nodes: ((fields[1][1] as { array: unknown[] }).array).map((node) => ({
          type: Object.keys(node as object)[0],
          fields: fieldsOf(node).map(([k, v]) => [k, k === "$port" || k === "$replication-offset" ? typeof v : k === "$ip" ? "IP" : v]),
        })),
      };
    })
    .sort((a, b) => JSON.stringify(a.slots).localeCompare(JSON.stringify(b.slots)));
}

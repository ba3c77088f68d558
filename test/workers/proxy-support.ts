/**
 * Helpers for the /resp proxy tests (test/workers/proxy*.test.ts): the
 * default cluster (3 shards x 1 replica, created on first use), keys chosen
 * by the shard that owns them, and direct node access for checking where
 * things landed.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { keySlot } from "../../shared/cluster/slot.ts";
import { evenSlotRanges, type Topology } from "../../shared/cluster/topology.ts";
import type { Node } from "../../shared/engine/node.ts";
import { NodeClient, plain } from "./support.ts";

const encoder = new TextEncoder();

export interface Coordinator {
  topology(): Promise<Topology>;
  failover(shard: number | string, options?: Record<string, unknown>): Promise<unknown>;
  assignSlots(start: number, end: number, shard: number | string | null): Promise<unknown>;
  migrateSlot(slot: number, toShard: number | string | null): Promise<unknown>;
}

export function coordinator(name = "default"): Coordinator {
  return (env as unknown as { CLUSTER: { getByName(n: string): Coordinator } }).CLUSTER.getByName(name);
}

/** Polls `check` until it holds (replication and topology pushes are asynchronous); never asserts on time. */
export async function eventually(check: () => Promise<boolean>, what: string, attempts = 800): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

export function slotOf(key: string): number {
  return keySlot(encoder.encode(key));
}

/** The current topology's shard (by first slot) of a slot, and its master's and replicas' names. */
export async function shardOf(slot: number): Promise<{ index: number; master: string; replicas: string[]; shardId: string }> {
  const topology = await coordinator().topology();
  const range = topology.slots.find((r) => r.start <= slot && slot <= r.end);
  if (!range) throw new Error(`slot ${slot} is not served`);
  const master = topology.nodes.find((n) => n.id === range.masterId)!;
  const masters = [...new Set(topology.slots.map((r) => r.masterId))].map((id) => ({
    id,
    first: Math.min(...topology.slots.filter((r) => r.masterId === id).map((r) => r.start)),
  }));
  masters.sort((a, b) => a.first - b.first);
  return {
    index: masters.findIndex((m) => m.id === master.id),
    master: master.name,
    replicas: topology.nodes.filter((n) => n.masterId === master.id).map((n) => n.name),
    shardId: master.shardId,
  };
}

/** `count` keys `${prefix}N` whose slots belong to shard `shard` of a fresh `shards`-shard cluster. */
export function keysOnShard(prefix: string, shard: number, count: number, shards = 3): string[] {
  const range = evenSlotRanges(shards)[shard];
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const key = `${prefix}${i}`;
    const s = slotOf(key);
    if (s >= range.start && s <= range.end) out.push(key);
  }
  return out;
}

export function nodeStub(name: string) {
  return (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
}

/** Runs `fn` inside node `name` with its Node (no client message or alarm runs in between). */
export function withNode<T>(name: string, fn: (node: Node) => T): Promise<T> {
  return runInDurableObject(nodeStub(name), (instance: unknown) => {
    const node = (instance as { node: Node | null }).node;
    if (!node) throw new Error(`node ${name} is not started yet`);
    return fn(node);
  });
}

export async function info(client: NodeClient, section: string, field: string): Promise<string | undefined> {
  const text = plain(await client.call("INFO", section)) as string;
  return text.split("\r\n").find((line) => line.startsWith(`${field}:`))?.slice(field.length + 1);
}

/** Opens the default cluster (first use creates it) and waits until every replica's link is up. */
export async function clusterReady(): Promise<Topology> {
  const topology = await coordinator().topology();
  for (const node of topology.nodes.filter((n) => n.role === "replica")) {
    const c = await NodeClient.node(node.name);
    try {
      await eventually(async () => (await info(c, "replication", "master_link_status")) === "up", `${node.name} link up`);
    } finally {
      c.close();
    }
  }
  return topology;
}

/** Waits until `replica` has applied everything `master` has produced so far. */
export async function caughtUp(master: string, replica: string): Promise<void> {
  const m = await NodeClient.node(master);
  const r = await NodeClient.node(replica);
  try {
    const target = Number(await info(m, "replication", "master_repl_offset"));
    await eventually(async () => Number(await info(r, "replication", "master_repl_offset")) >= target, `${replica} reaches ${target}`);
  } finally {
    m.close();
    r.close();
  }
}

/** How many times `command` ran on node `name` (INFO commandstats), 0 if never. */
export async function calls(name: string, command: string): Promise<number> {
  const c = await NodeClient.node(name);
  try {
    const text = plain(await c.call("INFO", "commandstats")) as string;
    const line = text.split("\r\n").find((l) => l.startsWith(`cmdstat_${command}:`));
    return line ? Number(/calls=(\d+)/.exec(line)![1]) : 0;
  } finally {
    c.close();
  }
}

/**
 * Stops a replica from applying its master's stream (the bytes are held, not
 * lost); the returned function applies them and lets the stream flow again.
 */
export async function pauseReplica(name: string): Promise<() => Promise<void>> {
  const held: Uint8Array[] = [];
  await withNode(name, (node) => {
    const link = node.replication.link as unknown as { receive: (bytes: Uint8Array) => void } | null;
    if (!link) throw new Error(`${name} is not a replica`);
    link.receive = (bytes: Uint8Array) => void held.push(bytes);
  });
  return () =>
    withNode(name, (node) => {
      const link = node.replication.link as unknown as { receive: (bytes: Uint8Array) => void } | null;
      if (!link) return;
      delete (link as { receive?: unknown }).receive;
      for (const bytes of held.splice(0)) link.receive(bytes);
    });
}

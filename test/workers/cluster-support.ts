/**
 * Helpers for cluster tests inside workerd: clusters with unique names (each
 * test file has its own storage, but tests in a file share it), the
 * coordinator's RPC stub, and polling for replication (never timed asserts).
 */
import { env } from "cloudflare:workers";
import type { ClusterDO } from "../../durable/cluster-do.ts";
import type { NodeDO } from "../../durable/node-do.ts";
import type { Topology } from "../../shared/cluster/topology.ts";
import { NodeClient, plain } from "./support.ts";

interface TestEnv {
  CLUSTER: DurableObjectNamespace<ClusterDO>;
  NODE: DurableObjectNamespace<NodeDO>;
}

export const testEnv = env as unknown as TestEnv;

let counter = 0;
/** A cluster name no other test uses. */
export function uniqueCluster(prefix = "c"): string {
  return `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;
}

export function coordinator(cluster: string) {
  return testEnv.CLUSTER.getByName(cluster);
}

export function nodeStub(name: string) {
  return testEnv.NODE.getByName(name);
}

/**
 * Creates cluster `name` (3 shards x 1 replica from wrangler.toml [vars]),
 * waits until every replica's link to its master is up (so no test ends
 * while links are still being dialed), and returns its topology.
 */
export async function createCluster(name: string): Promise<Topology> {
  const topology = (await coordinator(name).topology()) as Topology;
  await settled(topology);
  return topology;
}

/** Waits until every replica of `topology` has its replication link up. */
export async function settled(topology: Topology): Promise<void> {
  await Promise.all(
    topology.nodes
      .filter((n) => n.role === "replica")
      .map(async (n) => {
        const client = await NodeClient.node(n.name);
        try {
          await linkUp(client);
        } finally {
          client.close();
        }
      }),
  );
}

/** Polls `check` until it returns true (replication is asynchronous). */
export async function eventually(check: () => Promise<boolean>, what: string, attempts = 800): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

/** The value of `field` in an INFO-style text reply (CLUSTER INFO, INFO replication). */
export function field(text: string, name: string): string | undefined {
  return text.split("\r\n").find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1);
}

export async function info(client: NodeClient, section: string, name: string): Promise<string | undefined> {
  return field(plain(await client.call("INFO", section)) as string, name);
}

/** Waits until a replica's link to its master is up. */
export async function linkUp(replica: NodeClient): Promise<void> {
  await eventually(async () => (await info(replica, "replication", "master_link_status")) === "up", "replica link up");
}

import { DurableObject } from "cloudflare:workers";
import {
  Coordinator,
  type FailoverOptions,
  type FailoverResult,
  type MoveSlotsResult,
  type PushReport,
} from "../shared/cluster/coordinator.ts";
import { DEFAULT_CLUSTER, type Topology } from "../shared/cluster/topology.ts";
import { randomHex } from "../shared/engine/server.ts";
import type { Env } from "./node-do.ts";
import { durableSql } from "./sql.ts";
import type { AclChange, UserRecord } from "../shared/engine/acl.ts";

/** Where the coordinator keeps the cluster's ACL users (Durable Object storage, beside the topology tables). */
const ACL_USERS_KEY = "acl:users";

/**
 * The topology coordinator of one cluster (README "Cluster"): a thin shell
 * over shared/cluster/coordinator.ts. One object per cluster, named after it
 * (`env.CLUSTER.getByName("default")`); its SQLite holds the topology.
 *
 *   topology()                      the topology, creating the cluster on first use
 *                                   (TIDEKV_SHARDS x TIDEKV_REPLICAS, default 3 x 1)
 *   failover(shard, options?)       promote a replica of a shard (index, shard id or node name)
 *   assignSlots(start, end, shard)  give slots to a shard's master (null: unassign)
 *   moveSlots(start, end, toShard)  live resharding: slots start..end and their keys to a shard
 *   migrateSlot(slot, toShard)      open (or with null close) a slot migration: ASK/ASKING
 *   setNodeFlag(node, flag, on)     mark a node "fail" / "nofailover"
 *   push()                          push the topology to every node again
 *   pending()                       nodes that have not acknowledged the current epoch
 */
export class ClusterDO extends DurableObject<Env> {
  private readonly coordinator: Coordinator;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const name = this.clusterName;
    this.coordinator = new Coordinator(durableSql(ctx.storage), {
      now: () => Date.now(),
      randomHex,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      apply: (node, topology, options) => this.env.NODE.getByName(node).applyTopology(topology, { ...options, name: node }),
      status: (node) => this.env.NODE.getByName(node).clusterStatus(node),
      migrateKeys: async (source, slot, target, count) => {
        const result = await this.env.NODE.getByName(source).migrateKeys({ slot, target, count, name: source });
        if ("error" in result) throw new Error(result.error);
        return result;
      },
      scheduleRetry: (at) => {
        void ctx.storage.getAlarm().then((current) => {
          if (current === null || current > at) return ctx.storage.setAlarm(at);
        });
      },
      log: (level, message) => console[level](`[tidekv cluster ${name}] ${message}`),
    });
  }

  private get clusterName(): string {
    return this.ctx.id.name ?? DEFAULT_CLUSTER;
  }

  /** The cluster's topology; the first call creates the cluster and pushes it to its nodes. */
  async topology(): Promise<Topology> {
    return this.coordinator.ensure(this.clusterName, {
      shards: positiveInt(this.env.TIDEKV_SHARDS, 3),
      replicas: nonNegativeInt(this.env.TIDEKV_REPLICAS, 1),
    });
  }

  async failover(shard: number | string, options: FailoverOptions = {}): Promise<FailoverResult> {
    await this.topology();
    return this.coordinator.failover(shard, options);
  }

  async assignSlots(start: number, end: number, shard: number | string | null): Promise<{ topology: Topology; push: PushReport }> {
    await this.topology();
    return this.coordinator.assignSlots(start, end, shard);
  }

  async moveSlots(start: number, end: number, toShard: number | string): Promise<MoveSlotsResult> {
    await this.topology();
    return this.coordinator.moveSlots(start, end, toShard);
  }

  async migrateSlot(slot: number, toShard: number | string | null): Promise<{ topology: Topology; push: PushReport }> {
    await this.topology();
    return this.coordinator.migrateSlot(slot, toShard);
  }

  async setNodeFlag(node: string, flag: string, on: boolean): Promise<{ topology: Topology; push: PushReport }> {
    await this.topology();
    return this.coordinator.setNodeFlag(node, flag, on);
  }

  async push(): Promise<PushReport> {
    await this.topology();
    return this.coordinator.push();
  }

  pending(): string[] {
    return this.coordinator.pending();
  }

  /**
   * ACL users apply cluster-wide (ACL SETUSER/DELUSER on any node): the
   * coordinator keeps the cluster's users and pushes all of them to every
   * other node, so a node that missed a push catches up on the next change.
   */
  async aclChanged(change: AclChange, from: string): Promise<{ applied: string[]; failed: string[] }> {
    const stored = (await this.ctx.storage.get<Record<string, UserRecord>>(ACL_USERS_KEY)) ?? {};
    if (change.type === "setuser") stored[change.name] = change.user;
    else delete stored[change.name];
    await this.ctx.storage.put(ACL_USERS_KEY, stored);
    const users = Object.entries(stored).map(([name, user]) => ({ name, user }));
    const topology = await this.topology();
    const applied: string[] = [];
    const failed: string[] = [];
    await Promise.all(
      topology.nodes
        .filter((n) => n.name !== from)
        .map((n) =>
          this.env.NODE.getByName(n.name)
            .applyAcl(users, n.name)
            .then(
              () => applied.push(n.name),
              () => failed.push(n.name),
            ),
        ),
    );
    return { applied, failed };
  }

  /** Retries the topology push to nodes that missed it. */
  override async alarm(): Promise<void> {
    await this.coordinator.retryPending();
  }
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isInteger(n) && n >= 1 ? n : fallback;
}

function nonNegativeInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isInteger(n) && n >= 0 ? n : fallback;
}

import type { Sql } from "../store/sql.ts";
import { num } from "../store/sql.ts";
import type { ApplyOptions, ApplyResult, NodeClusterStatus } from "./node-state.ts";
import type { MigrateResult } from "./migrate-keys.ts";
import { SLOT_COUNT } from "./slot.ts";
import {
  createTopology,
  ownersOf,
  promoteReplica,
  rangesFromOwners,
  shardsOf,
  validateTopology,
  type ClusterNode,
  type Shard,
  type SlotMigration,
  type Topology,
} from "./topology.ts";

/**
 * The cluster coordinator: the one place a cluster's topology is decided and
 * stored, instead of Redis Cluster's gossip (README "Cluster"). It runs in one
 * Durable Object per cluster (durable/cluster-do.ts) over the Sql interface,
 * and reaches nodes only through a CoordinatorHost, so it is independent of
 * the runtime.
 *
 * Every change bumps the epoch (Redis's currentEpoch) and is pushed to every
 * node; a node adopts a topology only if its epoch is higher than the one it
 * holds. A node that could not be reached is retried later (retryPending)
 * until it acknowledges the current epoch.
 */
export interface CoordinatorHost {
  now(): number;
  randomHex(length: number): string;
  sleep(ms: number): Promise<void>;
  /** Hands `topology` to node `name` (NodeDO.applyTopology). Rejects when the node is unreachable. */
  apply(name: string, topology: Topology, options: ApplyOptions): Promise<ApplyResult>;
  /** Node `name`'s cluster status (NodeDO.clusterStatus). */
  status(name: string): Promise<NodeClusterStatus>;
  /**
   * Moves up to `count` keys of `slot` from master `source` to master
   * `target` (NodeDO.migrateKeys); resolves with how many moved and how many
   * are left on the source.
   */
  migrateKeys(source: string, slot: number, target: string, count: number): Promise<MigrateResult>;
  /** Asks to be called back (retryPending) at `at` ms: the Durable Object alarm. */
  scheduleRetry(at: number): void;
  log?(level: "info" | "warn" | "error", message: string): void;
}

export interface ClusterDefaults {
  readonly shards: number;
  readonly replicas: number;
}

/** How a topology reached the nodes. */
export interface PushReport {
  readonly epoch: number;
  /** Nodes that hold the epoch now (adopted it, or already had it). */
  readonly acknowledged: string[];
  /** Nodes that could not be reached or refused it (retried later), with why. */
  readonly failed: { name: string; reason: string }[];
}

export interface FailoverOptions {
  /** The replica to promote (node name or id); default: the shard's first replica. */
  readonly replica?: string;
  /**
   * Promote without the old master's cooperation (it is down): no wait for
   * the replica to catch up, so writes the replica had not received are lost,
   * as with Redis's CLUSTER FAILOVER FORCE.
   */
  readonly force?: boolean;
  /** How long a graceful failover waits for the replica to reach the master's offset (ms, default 10000). */
  readonly timeoutMs?: number;
}

/** Keys moved per migrateKeys call: small enough that the source is never blocked for long. */
export const MIGRATE_BATCH = 100;
/** Pause between two batches of one source, for its clients (ms). */
const MIGRATE_PAUSE_MS = 2;

export interface MoveSlotsResult {
  readonly topology: Topology;
  /** Slots that changed owner. */
  readonly slots: number;
  /** Keys that moved with them. */
  readonly keys: number;
  readonly push: PushReport;
}

export interface FailoverResult {
  readonly topology: Topology;
  readonly promoted: string;
  readonly demoted: string;
  /** The old master's final offset the replica caught up with (graceful), or null (forced). */
  readonly offset: number | null;
  readonly push: PushReport;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS cluster_meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID`,
  // One row per node, in creation order (`position`): shards are ordered by their first node.
  `CREATE TABLE IF NOT EXISTS cluster_nodes (
     position INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL UNIQUE,
     shard_id TEXT NOT NULL,
     role TEXT NOT NULL,
     master_id TEXT,
     config_epoch INTEGER NOT NULL,
     flags TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS cluster_slots (first_slot INTEGER PRIMARY KEY, last_slot INTEGER NOT NULL, master_id TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS cluster_migrations (slot INTEGER PRIMARY KEY, from_id TEXT NOT NULL, to_id TEXT NOT NULL)`,
  // The last epoch each node acknowledged: nodes behind the current epoch are retried.
  `CREATE TABLE IF NOT EXISTS cluster_acks (name TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID`,
];

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;
const POLL_MS = 25;

export class Coordinator {
  private cached: Topology | null | undefined = undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private retryDelay = FIRST_RETRY_MS;

  constructor(
    private readonly sql: Sql,
    private readonly host: CoordinatorHost,
  ) {
    for (const statement of SCHEMA) sql.run(statement);
  }

  // ---- persistence ------------------------------------------------------------------

  /** The stored topology, or null before the cluster exists. */
  current(): Topology | null {
    if (this.cached !== undefined) return this.cached;
    const name = this.sql.one<{ value: string }>(`SELECT value FROM cluster_meta WHERE name = 'name'`);
    if (!name) return (this.cached = null);
    const epoch = this.sql.one<{ value: number }>(`SELECT value FROM cluster_meta WHERE name = 'current_epoch'`);
    const nodes = this.sql
      .all<{ id: string; name: string; shard_id: string; role: string; master_id: string | null; config_epoch: number; flags: string }>(
        `SELECT id, name, shard_id, role, master_id, config_epoch, flags FROM cluster_nodes ORDER BY position`,
      )
      .map((row): ClusterNode => ({
        id: row.id,
        name: row.name,
        shardId: row.shard_id,
        role: row.role === "master" ? "master" : "replica",
        masterId: row.master_id,
        configEpoch: num(row.config_epoch),
        flags: row.flags === "" ? [] : row.flags.split(","),
      }));
    const slots = this.sql
      .all<{ first_slot: number; last_slot: number; master_id: string }>(`SELECT first_slot, last_slot, master_id FROM cluster_slots ORDER BY first_slot`)
      .map((row) => ({ start: num(row.first_slot), end: num(row.last_slot), masterId: row.master_id }));
    const migrations = this.sql
      .all<{ slot: number; from_id: string; to_id: string }>(`SELECT slot, from_id, to_id FROM cluster_migrations ORDER BY slot`)
      .map((row): SlotMigration => ({ slot: num(row.slot), fromId: row.from_id, toId: row.to_id }));
    return (this.cached = { name: String(name.value), epoch: num(epoch?.value ?? 0), nodes, slots, migrations });
  }

  private save(topology: Topology): void {
    const problem = validateTopology(topology);
    if (problem) throw new Error(`refusing to store an invalid topology: ${problem}`);
    const previous = this.current();
    if (previous && topology.epoch <= previous.epoch) throw new Error("a topology change must raise the epoch");
    this.sql.transaction(() => {
      this.sql.run(`INSERT OR REPLACE INTO cluster_meta (name, value) VALUES ('name', ?)`, topology.name);
      this.sql.run(`INSERT OR REPLACE INTO cluster_meta (name, value) VALUES ('current_epoch', ?)`, topology.epoch);
      this.sql.run(`DELETE FROM cluster_nodes`);
      topology.nodes.forEach((node, position) => {
        this.sql.run(
          `INSERT INTO cluster_nodes (position, id, name, shard_id, role, master_id, config_epoch, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          position, node.id, node.name, node.shardId, node.role, node.masterId, node.configEpoch, node.flags.join(","),
        );
      });
      this.sql.run(`DELETE FROM cluster_slots`);
      for (const range of topology.slots) {
        this.sql.run(`INSERT INTO cluster_slots (first_slot, last_slot, master_id) VALUES (?, ?, ?)`, range.start, range.end, range.masterId);
      }
      this.sql.run(`DELETE FROM cluster_migrations`);
      for (const m of topology.migrations) {
        this.sql.run(`INSERT INTO cluster_migrations (slot, from_id, to_id) VALUES (?, ?, ?)`, m.slot, m.fromId, m.toId);
      }
    });
    this.cached = topology;
  }

  /** Nodes that have not acknowledged the current epoch. */
  pending(): string[] {
    const topology = this.current();
    if (!topology) return [];
    const acks = new Map(
      this.sql.all<{ name: string; epoch: number }>(`SELECT name, epoch FROM cluster_acks`).map((r) => [r.name, num(r.epoch)]),
    );
    return topology.nodes.filter((n) => (acks.get(n.name) ?? -1) < topology.epoch).map((n) => n.name);
  }

  private acknowledge(name: string, epoch: number): void {
    this.sql.run(
      `INSERT INTO cluster_acks (name, epoch) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET epoch = MAX(epoch, excluded.epoch)`,
      name, epoch,
    );
  }

  /** Admin operations run one at a time (a Durable Object interleaves calls at every await). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- operations -------------------------------------------------------------------

  /**
   * The cluster's topology, creating it on first use (`shards` masters with
   * `replicas` replicas each) and pushing it to every node.
   */
  ensure(name: string, defaults: ClusterDefaults): Promise<Topology> {
    const existing = this.current();
    if (existing) return Promise.resolve(existing);
    return this.exclusive(async () => {
      const again = this.current();
      if (again) return again;
      const topology = createTopology(name, defaults.shards, defaults.replicas, (n) => this.host.randomHex(n));
      this.save(topology);
      this.host.log?.("info", `created cluster ${name}: ${defaults.shards} shards x ${defaults.replicas} replicas`);
      await this.pushAll(topology);
      return topology;
    });
  }

  /**
   * Pushes `topology` to every node (all at once), recording who acknowledged
   * it; nodes that failed are retried from the alarm.
   */
  private async pushAll(topology: Topology, names: readonly string[] = topology.nodes.map((n) => n.name)): Promise<PushReport> {
    const results = await Promise.all(names.map((name) => this.pushTo(name, topology, {})));
    return this.report(topology, results);
  }

  private async pushTo(name: string, topology: Topology, options: ApplyOptions): Promise<{ name: string; ok: boolean; reason: string; result?: ApplyResult }> {
    try {
      const result = await this.host.apply(name, topology, options);
      if (result.status.epoch >= topology.epoch) {
        this.acknowledge(name, result.status.epoch);
        return { name, ok: true, reason: "", result };
      }
      return { name, ok: false, reason: result.reason ?? "not adopted", result };
    } catch (e) {
      return { name, ok: false, reason: (e as Error)?.message ?? String(e) };
    }
  }

  private report(topology: Topology, results: { name: string; ok: boolean; reason: string }[]): PushReport {
    const failed = results.filter((r) => !r.ok).map(({ name, reason }) => ({ name, reason }));
    for (const f of failed) this.host.log?.("warn", `topology epoch ${topology.epoch} not delivered to ${f.name}: ${f.reason}`);
    if (failed.length > 0) {
      this.retryDelay = FIRST_RETRY_MS;
      this.host.scheduleRetry(this.host.now() + this.retryDelay);
    }
    return { epoch: topology.epoch, acknowledged: results.filter((r) => r.ok).map((r) => r.name), failed };
  }

  /** The alarm: pushes the current topology again to nodes that have not acknowledged it. */
  retryPending(): Promise<PushReport | null> {
    return this.exclusive(async () => {
      const topology = this.current();
      const pending = this.pending();
      if (!topology || pending.length === 0) return null;
      const results = await Promise.all(pending.map((name) => this.pushTo(name, topology, {})));
      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) {
        this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
        this.host.scheduleRetry(this.host.now() + this.retryDelay);
      }
      return { epoch: topology.epoch, acknowledged: results.filter((r) => r.ok).map((r) => r.name), failed: failed.map(({ name, reason }) => ({ name, reason })) };
    });
  }

  /** Pushes the current topology to every node again (an admin's "sync"). */
  push(): Promise<PushReport> {
    return this.exclusive(async () => this.pushAll(this.required()));
  }

  private required(): Topology {
    const topology = this.current();
    if (!topology) throw new Error("the cluster does not exist yet");
    return topology;
  }

  /** A shard by index (0-based), shard id, or the name or id of one of its nodes. */
  shard(target: number | string): Shard {
    const shards = shardsOf(this.required());
    let found: Shard | undefined;
    if (typeof target === "number") found = shards[target];
    else {
      found = shards.find(
        (s) => s.shardId === target || s.master.name === target || s.master.id === target || s.replicas.some((r) => r.name === target || r.id === target),
      );
    }
    if (!found) throw new Error(`no such shard: ${target}`);
    return found;
  }

  /**
   * Promotes a replica of `shard` to master (Redis's CLUSTER FAILOVER, driven
   * from here). Graceful by default: the old master adopts the new topology
   * first (it stops serving its slots, redirecting clients with MOVED, but keeps
   * streaming to its replicas), the replica is waited for until it has applied
   * everything the old master wrote, then it is promoted and the other nodes
   * follow it. If the replica does not catch up in time the failover is rolled
   * back (one more epoch) and this throws. `force` skips the old master.
   */
  failover(shard: number | string, options: FailoverOptions = {}): Promise<FailoverResult> {
    return this.exclusive(async () => {
      const topology = this.required();
      const target = this.shard(shard);
      const candidate = options.replica
        ? target.replicas.find((r) => r.name === options.replica || r.id === options.replica)
        : target.replicas.find((r) => !r.flags.includes("fail")) ?? target.replicas[0];
      if (!candidate) throw new Error(options.replica ? `${options.replica} is not a replica of shard ${target.index}` : `shard ${target.index} has no replica to promote`);
      const oldMaster = target.master;
      const next = promoteReplica(topology, candidate.id);
      const timeoutMs = options.timeoutMs ?? 10_000;

      // Stored before any node sees it, so no node ever holds an epoch the coordinator has not.
      this.save(next);
      let offset: number | null = null;
      if (!options.force) {
        // The old master must be reachable: a graceful failover loses no write.
        const demoted = await this.pushTo(oldMaster.name, next, { reconcile: false });
        let why = demoted.ok && demoted.result ? null : `master ${oldMaster.name} unreachable (${demoted.reason}); use force`;
        if (why === null) {
          offset = demoted.result!.status.offset;
          if (!(await this.waitForOffset(candidate.name, offset, timeoutMs))) {
            why = `${candidate.name} did not reach offset ${offset} in ${timeoutMs} ms`;
          }
        }
        if (why !== null) {
          // Back to the old roles, under a newer epoch than the aborted one.
          const rollback: Topology = { ...topology, epoch: next.epoch + 1 };
          this.save(rollback);
          await this.pushAll(rollback);
          throw new Error(`failover of shard ${target.index} aborted: ${why}`);
        }
      }
      // The new master first, then everyone else (the old master now follows it).
      const first = await this.pushTo(candidate.name, next, {});
      const rest = await Promise.all(next.nodes.filter((n) => n.name !== candidate.name).map((n) => this.pushTo(n.name, next, {})));
      const push = this.report(next, [first, ...rest]);
      this.host.log?.("info", `failover: ${candidate.name} replaces ${oldMaster.name} as master of shard ${target.index} (epoch ${next.epoch})`);
      return { topology: next, promoted: candidate.name, demoted: oldMaster.name, offset, push };
    });
  }

  private async waitForOffset(name: string, offset: number, timeoutMs: number): Promise<boolean> {
    const deadline = this.host.now() + timeoutMs;
    for (;;) {
      try {
        const status = await this.host.status(name);
        if (status.offset >= offset) return true;
      } catch {
        // unreachable for now: keep trying until the deadline
      }
      if (this.host.now() >= deadline) return false;
      await this.host.sleep(POLL_MS);
    }
  }

  /**
   * Assigns slots start..end to the master of `shard`, or unassigns them
   * (null): Redis's CLUSTER SETSLOT NODE / ADDSLOTS / DELSLOTS decided in one
   * place. The receiving master's configEpoch becomes the new epoch, and any
   * migration of those slots ends. Keys are not moved.
   */
  assignSlots(start: number, end: number, shard: number | string | null): Promise<{ topology: Topology; push: PushReport }> {
    return this.exclusive(async () => {
      const topology = this.required();
      checkSlotRange(start, end);
      const master = shard === null ? null : this.shard(shard).master;
      const epoch = topology.epoch + 1;
      const owners = ownersOf(topology);
      for (let s = start; s <= end; s++) owners[s] = master ? master.id : null;
      const next: Topology = {
        name: topology.name,
        epoch,
        nodes: topology.nodes.map((n) => (master && n.id === master.id ? { ...n, configEpoch: epoch } : n)),
        slots: rangesFromOwners(owners),
        migrations: topology.migrations.filter((m) => m.slot < start || m.slot > end),
      };
      this.save(next);
      return { topology: next, push: await this.pushAll(next) };
    });
  }

  /**
   * Opens (or, with null, closes) the migration of `slot` from its owner to
   * the master of `toShard`: the owner answers ASK for keys it no longer has,
   * the target serves them after ASKING (Redis's SETSLOT MIGRATING/IMPORTING).
   * Finish with assignSlots(slot, slot, toShard).
   */
  migrateSlot(slot: number, toShard: number | string | null): Promise<{ topology: Topology; push: PushReport }> {
    return this.exclusive(async () => {
      const topology = this.required();
      checkSlotRange(slot, slot);
      let migrations = topology.migrations.filter((m) => m.slot !== slot);
      if (toShard !== null) {
        const from = ownersOf(topology)[slot];
        if (from === null) throw new Error(`slot ${slot} is not assigned`);
        const to = this.shard(toShard).master;
        if (to.id === from) throw new Error(`slot ${slot} is already served by ${to.name}`);
        migrations = [...migrations, { slot, fromId: from, toId: to.id }].sort((a, b) => a.slot - b.slot);
      }
      const next: Topology = { ...topology, epoch: topology.epoch + 1, migrations };
      this.save(next);
      return { topology: next, push: await this.pushAll(next) };
    });
  }

  /**
   * Live resharding: gives slots start..end to the master of `toShard`, with
   * their keys (what `redis-cli --cluster reshard` does with SETSLOT and
   * MIGRATE). One epoch opens a migration for every slot that moves, so a
   * source answers ASK for keys it no longer has and clients follow the keys
   * as they go; each source then hands its keys over in batches
   * (CoordinatorHost.migrateKeys: the source serves nothing else while a
   * batch is in flight, as MIGRATE blocks Redis); one more epoch gives the
   * slots to the target. No write is lost on the way: a key is on the source
   * until the target has it, and new keys of a moving slot are created on the
   * target (ASK). Interrupted, it leaves the migrations open; running it again
   * finishes the move.
   */
  moveSlots(start: number, end: number, toShard: number | string, batch = MIGRATE_BATCH): Promise<MoveSlotsResult> {
    return this.exclusive(async () => {
      const topology = this.required();
      checkSlotRange(start, end);
      const target = this.shard(toShard).master;
      const owners = ownersOf(topology);
      const byId = new Map(topology.nodes.map((n) => [n.id, n]));
      // Slots that move, each from its current owner (an open migration elsewhere is redirected here).
      const moving: { slot: number; from: ClusterNode | null }[] = [];
      for (let s = start; s <= end; s++) {
        if (owners[s] === target.id) continue;
        moving.push({ slot: s, from: owners[s] === null ? null : byId.get(owners[s]!) ?? null });
      }
      if (moving.length === 0) return { topology, slots: 0, keys: 0, push: await this.pushAll(topology) };
      const withKeys = moving.filter((m) => m.from !== null);
      let current = topology;
      if (withKeys.length > 0) {
        const opened = new Set(withKeys.map((m) => m.slot));
        const migrations = [
          ...current.migrations.filter((m) => !opened.has(m.slot)),
          ...withKeys.map(({ slot, from }): SlotMigration => ({ slot, fromId: from!.id, toId: target.id })),
        ].sort((a, b) => a.slot - b.slot);
        current = { ...current, epoch: current.epoch + 1, migrations };
        this.save(current);
        const push = await this.pushAll(current);
        // A source that has not adopted the migration would not answer ASK for keys already moved.
        const missed = withKeys.find((m) => !push.acknowledged.includes(m.from!.name) || !push.acknowledged.includes(target.name));
        if (missed) throw new Error(`cannot move slots: ${missed.from!.name} or ${target.name} did not adopt epoch ${current.epoch} (retry later)`);
      }
      let keys = 0;
      for (const { slot, from } of withKeys) {
        for (;;) {
          const result = await this.host.migrateKeys(from!.name, slot, target.name, batch);
          keys += result.moved;
          if (result.remaining === 0) break;
          // The source serves nothing while a batch runs; let the commands
          // that queued up meanwhile in before the next one (asked for at
          // once, it would win the race with them every time).
          await this.host.sleep(MIGRATE_PAUSE_MS);
          if (result.moved === 0) throw new Error(`slot ${slot}: ${from!.name} still holds ${result.remaining} keys but moved none`);
        }
      }
      const epoch = current.epoch + 1;
      const after = ownersOf(current);
      for (const { slot } of moving) after[slot] = target.id;
      const movedSlots = new Set(moving.map((m) => m.slot));
      const next: Topology = {
        name: current.name,
        epoch,
        nodes: current.nodes.map((n) => (n.id === target.id ? { ...n, configEpoch: epoch } : n)),
        slots: rangesFromOwners(after),
        migrations: current.migrations.filter((m) => !movedSlots.has(m.slot)),
      };
      this.save(next);
      this.host.log?.("info", `moved ${moving.length} slots (${keys} keys) to ${target.name}`);
      return { topology: next, slots: moving.length, keys, push: await this.pushAll(next) };
    });
  }

  /** Sets or clears a flag on a node (e.g. "fail" for a node known to be down; "nofailover"). */
  setNodeFlag(name: string, flag: string, on: boolean): Promise<{ topology: Topology; push: PushReport }> {
    return this.exclusive(async () => {
      const topology = this.required();
      if (!["fail", "nofailover", "noaddr"].includes(flag)) throw new Error(`unknown flag ${flag}`);
      const node = topology.nodes.find((n) => n.name === name || n.id === name);
      if (!node) throw new Error(`no such node: ${name}`);
      const flags = node.flags.filter((f) => f !== flag);
      if (on) flags.push(flag);
      const next: Topology = {
        ...topology,
        epoch: topology.epoch + 1,
        nodes: topology.nodes.map((n) => (n.id === node.id ? { ...n, flags } : n)),
      };
      this.save(next);
      return { topology: next, push: await this.pushAll(next) };
    });
  }
}

function checkSlotRange(start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end >= SLOT_COUNT || start > end) {
    throw new Error(`invalid slot range ${start}-${end}`);
  }
}

/**
 * The CLUSTER subcommands that change a topology. tidekv nodes do not decide
 * topologies themselves (README "Cluster": a coordinator instead of gossip),
 * so these hand the request to the coordinator and answer at once, as their
 * Redis/Valkey counterparts answer before the change is done:
 *
 *   CLUSTER FAILOVER [FORCE|TAKEOVER]        to a replica: promote it (Redis 3.0)
 *   CLUSTER MIGRATESLOTS SLOTSRANGE s e ... NODE id [SLOTSRANGE ... NODE id ...]
 *                                            to a master: move slots and their keys (Valkey 9.0)
 *   CLUSTER GETSLOTMIGRATIONS                the migrations this node started, and how they went
 */
import { array, bulk, error, integer, map, OK } from "../resp/reply.ts";
import { Errors } from "../engine/errors.ts";
import { randomHex } from "../engine/server.ts";
import { SLOT_COUNT } from "../cluster/slot.ts";
import type { Server } from "../engine/server.ts";
import { inCluster } from "./cluster-mode.ts";

/** Finished migrations kept for CLUSTER GETSLOTMIGRATIONS (Valkey's cluster-slot-migration-log-max-len default). */
const MIGRATION_LOG = 1000;

/** One CLUSTER MIGRATESLOTS job, as CLUSTER GETSLOTMIGRATIONS shows it. */
interface SlotMigrationJob {
  readonly name: string;
  readonly ranges: readonly [number, number][];
  readonly target: string;
  readonly source: string;
  readonly createdAt: number;
  updatedAt: number;
  state: "migrating" | "success" | "failed";
  message: string;
  keys: number;
}

const jobsByServer = new WeakMap<Server, SlotMigrationJob[]>();

function jobsOf(server: Server): SlotMigrationJob[] {
  let jobs = jobsByServer.get(server);
  if (!jobs) jobsByServer.set(server, (jobs = []));
  return jobs;
}

/** CLUSTER FAILOVER [FORCE|TAKEOVER], sent to the replica to promote. */
export const failover = inCluster((call, state) => {
  let force = false;
  if (call.argv.length === 3) {
    const option = call.option(2);
    if (option !== "force" && option !== "takeover") return error(Errors.syntax);
    force = true;
  } else if (call.argv.length > 3) {
    return error(Errors.syntax);
  }
  const myself = state.myself!;
  if (myself.role === "master") return error("ERR You should send CLUSTER FAILOVER to a replica");
  const master = state.topology!.nodes.find((n) => n.id === myself.masterId);
  if (!master) return error("ERR I'm a replica but my master is unknown to me");
  const link = call.server.replication?.link;
  if (!force && (!link || !link.isUp)) return error("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
  const host = call.server.host;
  if (!host.coordinator) return error("ERR tidekv: this node cannot reach a cluster coordinator");
  const cluster = state.topology!.name;
  const log = (level: "info" | "warn", message: string) => host.log?.(level, message);
  log("info", `manual failover requested (${force ? "forced" : "graceful"}): ${myself.name} replaces ${master.name}`);
  // Like Redis: OK now, the failover runs on (CLUSTER NODES / ROLE show when it is done).
  void Promise.resolve()
    .then(() => host.coordinator!(cluster).failover(myself.shardId, { replica: myself.name, force }))
    .then(
      () => log("info", `manual failover done: ${myself.name} is the master of its shard`),
      (e: unknown) => log("warn", `manual failover failed: ${(e as Error)?.message ?? e}`),
    );
  return OK;
});

/** CLUSTER MIGRATESLOTS SLOTSRANGE start end [start end ...] NODE node-id [SLOTSRANGE ... NODE ...]. */
export const migrateSlots = inCluster((call, state) => {
  const myself = state.myself!;
  if (myself.role !== "master") return error("ERR Slot migration can only be used on primary nodes.");
  const argv = call.argv;
  const jobs = jobsOf(call.server);
  const planned: { ranges: [number, number][]; target: string }[] = [];
  let at = 2;
  while (at < argv.length) {
    if (call.option(at) !== "slotsrange") return error(Errors.syntax);
    at++;
    const ranges: [number, number][] = [];
    while (at < argv.length && /^-?\d+$/.test(call.str(at))) {
      const start = slotArg(call.str(at));
      if (start === null) return error("ERR Invalid or out of range slot");
      if (at + 1 >= argv.length) return error("ERR No end slot for final slot range");
      const end = slotArg(call.str(at + 1));
      if (end === null) return error("ERR Invalid or out of range slot");
      if (start > end) return error(`ERR Start slot number ${start} is greater than end slot number ${end}.`);
      for (let slot = start; slot <= end; slot++) {
        const owner = state.map!.owner(slot);
        if (!owner) return error(`ERR Slot ${slot} has no node served.`);
        if (owner.id !== myself.id) return error("ERR Slots are not served by this node.");
      }
      const overlap = ranges.find(([s, e]) => end >= s && start <= e);
      if (overlap) return error(`ERR Slot range ${start}-${end} overlaps with previous range ${overlap[0]}-${overlap[1]}.`);
      ranges.push([start, end]);
      at += 2;
    }
    if (ranges.length === 0) return error("ERR No slot ranges specified");
    for (const [start, end] of ranges) {
      for (const job of jobs) {
        if (job.state !== "migrating") continue;
        const busy = job.ranges.find(([s, e]) => end >= s && start <= e);
        if (busy) return error(`ERR I am already migrating slot ${Math.max(start, busy[0])}.`);
      }
    }
    if (planned.some((p) => p.ranges.some(([s, e]) => ranges.some(([start, end]) => end >= s && start <= e)))) {
      return error("ERR Slot ranges in migrations overlap");
    }
    if (at + 1 >= argv.length || call.option(at) !== "node") return error(Errors.syntax);
    at++;
    const id = call.str(at);
    if (id.length !== 40) return error(`ERR Invalid node name: ${id}`);
    const target = state.topology!.nodes.find((n) => n.id === id);
    if (!target) return error(`ERR Unknown node name: ${id}`);
    if (target.id === myself.id) return error("ERR Target node can not be this node.");
    if (target.role !== "master") return error(`ERR Target node ${id} is not a primary`);
    at++;
    planned.push({ ranges, target: target.id });
  }
  if (planned.length === 0) return error(Errors.syntax);
  const host = call.server.host;
  if (!host.coordinator) return error("ERR tidekv: this node cannot reach a cluster coordinator");
  const cluster = state.topology!.name;
  for (const { ranges, target } of planned) {
    const now = Math.floor(host.now() / 1000);
    const job: SlotMigrationJob = {
      name: randomHex(40),
      ranges,
      target,
      source: myself.id,
      createdAt: now,
      updatedAt: now,
      state: "migrating",
      message: "",
      keys: 0,
    };
    jobs.unshift(job);
    host.log?.("info", `slot migration ${job.name} started: slots ${rangeText(ranges)} to ${target}`);
    void runJob(call.server, job, cluster);
  }
  trimLog(jobs);
  return OK;
});

/** CLUSTER GETSLOTMIGRATIONS: newest first, in Valkey's field order. */
export const getSlotMigrations = inCluster((call) =>
  array(
    jobsOf(call.server).map((job) =>
      map([
        [bulk("name"), bulk(job.name)],
        [bulk("operation"), bulk("EXPORT")],
        [bulk("slot_ranges"), bulk(rangeText(job.ranges))],
        [bulk("target_node"), bulk(job.target)],
        [bulk("source_node"), bulk(job.source)],
        [bulk("create_time"), integer(job.createdAt)],
        [bulk("last_update_time"), integer(job.updatedAt)],
        [bulk("last_ack_time"), integer(job.updatedAt)],
        [bulk("state"), bulk(job.state)],
        [bulk("message"), bulk(job.message)],
        [bulk("cow_size"), integer(0)],
      ]),
    ),
  ),
);

/** One job: each range through the coordinator's moveSlots, in order. */
async function runJob(server: Server, job: SlotMigrationJob, cluster: string): Promise<void> {
  const host = server.host;
  try {
    for (const [start, end] of job.ranges) {
      const result = await host.coordinator!(cluster).moveSlots(start, end, job.target);
      job.keys += result.keys;
      job.updatedAt = Math.floor(host.now() / 1000);
    }
    job.state = "success";
    job.message = `moved ${job.keys} keys`;
    host.log?.("info", `slot migration ${job.name} done: ${job.message}`);
  } catch (e) {
    job.state = "failed";
    job.message = (e as Error)?.message ?? String(e);
    host.log?.("warn", `slot migration ${job.name} failed: ${job.message}`);
  }
  job.updatedAt = Math.floor(host.now() / 1000);
}

function slotArg(text: string): number | null {
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 && n < SLOT_COUNT ? n : null;
}

function rangeText(ranges: readonly [number, number][]): string {
  return ranges.map(([s, e]) => `${s}-${e}`).join(" ");
}

function trimLog(jobs: SlotMigrationJob[]): void {
  for (let i = jobs.length - 1; jobs.length > MIGRATION_LOG && i >= 0; i--) {
    if (jobs[i].state !== "migrating") jobs.splice(i, 1);
  }
}

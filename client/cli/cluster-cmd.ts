/**
 * `tidekv cluster info|nodes|check`: a readable view of a cluster and a health
 * check, from the Redis Cluster protocol (CLUSTER INFO, SHARDS, SLOTS, NODES).
 */
import type { Reply } from "../../shared/resp/index.ts";
import { Client } from "../src/client.ts";
import {
  SLOT_COUNT,
  countSlots,
  formatRanges,
  parseClusterNodes,
  parseClusterShards,
  parseClusterSlots,
  parseInfo,
  type ClusterNodeLine,
  type Shard,
} from "../src/cluster-protocol.ts";
import { RedisError, describeError } from "../src/errors.ts";
import { nodeUrl, redactUrl } from "../src/url.ts";
import { replyText } from "../src/values.ts";
import { CliError } from "./errors.ts";
import { progress } from "./progress.ts";
import { resolveTarget, type TargetOptions } from "./target.ts";

export interface ClusterCommandOptions extends TargetOptions {
  /** check: replication lag (bytes) above which a replica is reported. */
  maxLag?: number;
}

type Print = (line: string) => void;

async function ask(client: Client, ...argv: string[]): Promise<Reply> {
  const reply = await client.callReply(argv);
  if (reply.type === "error") throw new RedisError(reply.value, argv.slice(0, 2).join(" ").toUpperCase());
  return reply;
}

async function askText(client: Client, ...argv: string[]): Promise<string> {
  const text = replyText(await ask(client, ...argv));
  if (text === undefined) throw new CliError(`${argv.join(" ")}: unexpected reply`);
  return text;
}

/** Shards from CLUSTER SHARDS, or rebuilt from CLUSTER NODES when SHARDS is not there. */
async function loadShards(client: Client): Promise<Shard[]> {
  try {
    return parseClusterShards(await ask(client, "CLUSTER", "SHARDS"));
  } catch (e) {
    if (!(e instanceof RedisError)) throw e;
  }
  const lines = parseClusterNodes(await askText(client, "CLUSTER", "NODES"));
  const byMaster = new Map<string, { slots: [number, number][]; nodes: ClusterNodeLine[] }>();
  for (const n of lines.filter((l) => l.flags.includes("master"))) byMaster.set(n.id, { slots: [...n.slots] as [number, number][], nodes: [n] });
  for (const n of lines.filter((l) => !l.flags.includes("master"))) byMaster.get(n.master)?.nodes.push(n);
  return [...byMaster.values()].map((s) => ({
    slots: s.slots,
    nodes: s.nodes.map((n) => ({
      id: n.id,
      endpoint: n.endpoint,
      ip: n.endpoint,
      port: n.port,
      hostname: n.hostname,
      role: n.flags.includes("master") ? "master" : "replica",
      replicationOffset: 0,
      health: n.flags.includes("fail") ? "fail" : "online",
      name: n.name,
    })),
  }));
}

/**
 * A node knows the replication offsets of its own shard only (there is no
 * gossip carrying other shards' offsets: tidekv reports 0 for them), so each
 * shard's offsets are taken from that shard's master. Best effort: a master
 * that cannot be asked leaves its shard as it was.
 */
async function ownOffsets(shards: Shard[], url: string, token: string | undefined): Promise<Shard[]> {
  return Promise.all(
    shards.map(async (shard) => {
      const master = masterOf(shard);
      if (!master?.name) return shard;
      const node = new Client(nodeUrl(url, master.name), { token, reconnect: false });
      try {
        const own = parseClusterShards(await ask(node, "CLUSTER", "SHARDS")).find((s) => s.nodes.some((n) => n.id === master.id));
        if (!own) return shard;
        const offsets = new Map(own.nodes.map((n) => [n.id, n.replicationOffset]));
        return { ...shard, nodes: shard.nodes.map((n) => ({ ...n, replicationOffset: offsets.get(n.id) ?? n.replicationOffset })) };
      } catch {
        return shard;
      } finally {
        await node.close();
      }
    }),
  );
}

function table(rows: string[][], print: Print): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  for (const row of rows) print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ").trimEnd());
}

function sortedShards(shards: Shard[]): Shard[] {
  const first = (s: Shard) => (s.slots.length ? Math.min(...s.slots.map(([a]) => a)) : SLOT_COUNT);
  return [...shards].sort((a, b) => first(a) - first(b));
}

const shortId = (id: string) => id.slice(0, 8);

function masterOf(shard: Shard) {
  return shard.nodes.find((n) => n.role === "master");
}

async function withClient<T>(opts: ClusterCommandOptions, fn: (client: Client, url: string) => Promise<T>): Promise<T> {
  const target = resolveTarget(opts);
  const client = new Client(target.url, { token: target.token, reconnect: false });
  try {
    return await fn(client, target.url);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cluster: ${redactUrl(target.url)}: ${describeError(e)}`);
  } finally {
    await client.close();
  }
}

export function clusterInfo(opts: ClusterCommandOptions, print: Print): Promise<number> {
  return withClient(opts, async (client, url) => {
    const info = parseInfo(await askText(client, "CLUSTER", "INFO"));
    const shards = await ownOffsets(sortedShards(await loadShards(client)), url, resolveTarget(opts).token);
    const nodes = shards.reduce((n, s) => n + s.nodes.length, 0);
    print(
      `cluster_state: ${info.get("cluster_state") ?? "?"}, ` +
        `${info.get("cluster_slots_assigned") ?? "?"}/${SLOT_COUNT} slots assigned ` +
        `(${info.get("cluster_slots_ok") ?? "?"} ok, ${info.get("cluster_slots_pfail") ?? "0"} pfail, ${info.get("cluster_slots_fail") ?? "0"} fail), ` +
        `${shards.length} shard(s), ${nodes} node(s), epoch ${info.get("cluster_current_epoch") ?? "?"}`,
    );
    print("");
    const rows: string[][] = [["SHARD", "SLOTS", "ROLE", "NODE", "ID", "OFFSET", "LAG", "HEALTH"]];
    shards.forEach((shard, i) => {
      const master = masterOf(shard);
      const slots = shard.slots.length ? `${formatRanges(shard.slots)} (${countSlots(shard.slots)})` : "(none)";
      const ordered = [...shard.nodes].sort((a, b) => (a.role === "master" ? -1 : b.role === "master" ? 1 : a.name.localeCompare(b.name)));
      ordered.forEach((n, j) => {
        const lag = n.role === "master" || !master ? "-" : String(Math.max(0, master.replicationOffset - n.replicationOffset));
        rows.push([j === 0 ? String(i + 1) : "", j === 0 ? slots : "", n.role, n.name, shortId(n.id), String(n.replicationOffset), lag, n.health]);
      });
    });
    table(rows, print);
    return 0;
  });
}

export function clusterNodes(opts: ClusterCommandOptions, print: Print): Promise<number> {
  return withClient(opts, async (client, url) => {
    const shards = await ownOffsets(sortedShards(await loadShards(client)), url, resolveTarget(opts).token);
    const rows: string[][] = [["NODE", "ROLE", "ID", "SLOTS", "MASTER", "OFFSET", "LAG", "HEALTH", "URL"]];
    for (const shard of shards) {
      const master = masterOf(shard);
      for (const n of shard.nodes) {
        const isMaster = n.role === "master";
        rows.push([
          n.name,
          n.role,
          n.id,
          isMaster ? `${formatRanges(shard.slots) || "-"} (${countSlots(shard.slots)})` : "-",
          isMaster ? "-" : (master?.name ?? "?"),
          String(n.replicationOffset),
          isMaster || !master ? "-" : String(Math.max(0, master.replicationOffset - n.replicationOffset)),
          n.health,
          redactUrl(nodeUrl(url, n.name)),
        ]);
      }
    }
    table(rows, print);
    return 0;
  });
}

/** The slot assignment as one comparable string: "0-5460:a,5461-10922:b,...". */
function slotsSignature(reply: Reply): string {
  return parseClusterSlots(reply)
    .map((r) => `${r.start}-${r.end}:${r.master.name}`)
    .sort()
    .join(",");
}

export function clusterCheck(opts: ClusterCommandOptions, print: Print): Promise<number> {
  return withClient(opts, async (client, url) => {
    let errors = 0;
    const err = (msg: string) => {
      errors++;
      print(`[ERR] ${msg}`);
    };
    const warn = (msg: string) => print(`[WARNING] ${msg}`);

    print(`>>> Performing Cluster Check (using ${redactUrl(url)})`);
    const info = parseInfo(await askText(client, "CLUSTER", "INFO"));
    const shards = opts.maxLag === undefined ? sortedShards(await loadShards(client)) : await ownOffsets(sortedShards(await loadShards(client)), url, resolveTarget(opts).token);
    const seedSignature = slotsSignature(await ask(client, "CLUSTER", "SLOTS"));

    for (const shard of shards) {
      const masters = shard.nodes.filter((n) => n.role === "master");
      const master = masters[0];
      if (master) {
        print(`M: ${master.id} ${master.name}`);
        print(`   slots:${shard.slots.map(([s, e]) => (s === e ? `[${s}]` : `[${s}-${e}]`)).join(",")} (${countSlots(shard.slots)} slots) master`);
        const replicas = shard.nodes.length - masters.length;
        if (replicas) print(`   ${replicas} additional replica(s)`);
      }
      for (const n of shard.nodes.filter((x) => x.role !== "master")) {
        print(`S: ${n.id} ${n.name}`);
        print(`   slots: (0 slots) slave`);
        if (master) print(`   replicates ${master.id}`);
      }
      if (masters.length === 0) err(`A shard with slots ${formatRanges(shard.slots) || "(none)"} has no master.`);
      if (masters.length > 1) err(`A shard has ${masters.length} masters: ${masters.map((m) => m.name).join(", ")}.`);
      for (const n of shard.nodes) {
        if (n.health && n.health !== "online") err(`Node ${n.name} is ${n.health}.`);
        if (master && n !== master && opts.maxLag !== undefined) {
          const lag = master.replicationOffset - n.replicationOffset;
          if (lag > opts.maxLag) warn(`Replica ${n.name} lags ${lag} bytes behind ${master.name}.`);
        }
      }
    }

    // Ask every node for its own view.
    const all = shards.flatMap((s) => s.nodes);
    const bar = progress(all.length, "checking nodes");
    const disagree: string[] = [];
    const migrating = new Map<number, string[]>();
    const importing = new Map<number, string[]>();
    for (const n of all) {
      const node = new Client(nodeUrl(url, n.name), { token: resolveTarget(opts).token, reconnect: false });
      try {
        const state = parseInfo(await askText(node, "CLUSTER", "INFO")).get("cluster_state");
        if (state && state !== "ok") err(`Node ${n.name} says cluster_state:${state}.`);
        if (slotsSignature(await ask(node, "CLUSTER", "SLOTS")) !== seedSignature) disagree.push(n.name);
        const myself = parseClusterNodes(await askText(node, "CLUSTER", "NODES")).find((l) => l.flags.includes("myself"));
        for (const m of myself?.migrating ?? []) migrating.set(m.slot, [...(migrating.get(m.slot) ?? []), n.name]);
        for (const m of myself?.importing ?? []) importing.set(m.slot, [...(importing.get(m.slot) ?? []), n.name]);
      } catch (e) {
        err(`Node ${n.name} could not be checked: ${describeError(e)}`);
      } finally {
        await node.close();
        bar.tick(n.name);
      }
    }
    bar.stop();

    if (disagree.length === 0) print("[OK] All nodes agree about slots configuration.");
    else err(`Nodes don't agree about configuration! (${disagree.join(", ")} differ from ${redactUrl(url)})`);

    print(">>> Check for open slots...");
    const open = [...new Set([...migrating.keys(), ...importing.keys()])].sort((a, b) => a - b);
    for (const [slot, names] of migrating) warn(`Node(s) ${names.join(", ")} have slot ${slot} in migrating state.`);
    for (const [slot, names] of importing) warn(`Node(s) ${names.join(", ")} have slot ${slot} in importing state.`);
    if (open.length) err(`The following slots are open: ${open.join(",")}.`);

    print(">>> Check slots coverage...");
    const covered = new Uint8Array(SLOT_COUNT);
    for (const shard of shards) {
      for (const [s, e] of shard.slots) for (let i = Math.max(0, s); i <= Math.min(SLOT_COUNT - 1, e); i++) covered[i]++;
    }
    const missing = covered.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
    const doubled = covered.reduce((n, c) => n + (c > 1 ? 1 : 0), 0);
    if (missing === 0) print(`[OK] All ${SLOT_COUNT} slots covered.`);
    else err(`Not all ${SLOT_COUNT} slots are covered by nodes (${missing} uncovered).`);
    if (doubled) err(`${doubled} slot(s) are claimed by more than one shard.`);
    const state = info.get("cluster_state");
    if (state !== "ok") err(`cluster_state is ${state ?? "missing"}.`);
    return errors > 0 ? 1 : 0;
  });
}

/**
 * Issue 4's benchmark, on tidekv (two `/node/NAME` nodes of the bench's
 * wrangler dev, `REPLICAOF <node> <port>`) and, for reference, on two
 * redis-servers started here:
 *
 * (a) Replica lag under the highest write rate the master sustains, and at
 *     80% of it. The highest rate is found with a short closed-loop search
 *     over a few connection x pipeline shapes (SET, 100-byte values, 10,000
 *     keys), then measured with that shape; the 80% run paces 80% of that
 *     rate on the same connections, a small batch every 10 ms on each.
 *     During both, a probe connection writes `SET probe <seq>` every 10 ms on
 *     the master and a poller reads `GET probe` on the replica in a closed
 *     loop: a probe's lag is from the master's acknowledgement to the first
 *     replica read that returns it (or a later one). INFO replication on both,
 *     every 200 ms, gives the replica's apply rate against the master's write
 *     rate (offsets in bytes). Targets: lag p99 < 50 ms at 80%; apply rate at
 *     least the write rate.
 * (b) Full sync of N keys (1,000,000 with --large, 100,000 by default): load
 *     a fresh master with MSETs, then REPLICAOF on a fresh node, timed until
 *     the replica says master_link_status:up and its DBSIZE is N.
 * (c) Partial resync: drop the link (CLIENT KILL TYPE replica, or CLIENT KILL
 *     ID of the replica's connection where TYPE finds none; a redis replica,
 *     which reconnects at once, is held with DEBUG SLEEP), write a known
 *     number of stream bytes while it is down, then count what the master
 *     sends until the replica has caught up: the master's INFO stats
 *     total_net_output_bytes over that time, minus the replies to our own
 *     INFO commands. sync_partial_ok must go
 *     up by one (and sync_full not at all). Target: within 1% of the gap.
 */
import { encodeCommand } from "../../shared/resp/index.ts";
import { LoadConnection, type Endpoint } from "../lib/connection.ts";
import { msetBatches, rng } from "../lib/data.ts";
import { Histogram } from "../lib/histogram.ts";
import { runLoad, type CommandSource, type LoadResult } from "../lib/load.ts";
import { startRedisServer, type RedisServer } from "../../test/support/processes.ts";
import type { Suite, SuiteContext, SuiteResult } from "./types.ts";
import { Control, fmtBytes, fmtInt, fmtMs, replyText, sleep, table, verdict, waitFor } from "./util.ts";

const KEYS = 10_000;
const VALUE_SIZE = 100;
const SYNC_KEYS = 100_000;
const SYNC_KEYS_LARGE = 1_000_000;
/** Connection x pipeline shapes tried when looking for the master's highest write rate. */
const SHAPES: [number, number][] = [
  [1, 16],
  [1, 64],
  [4, 16],
  [32, 1],
];
const SEARCH_WARMUP_MS = 500;
const SEARCH_MS = 1500;
const PROBE_EVERY_MS = 10;
/** Pause between two replica reads of the probe (so the poller is not a load of its own). */
const POLL_PAUSE_MS = 1;
const SAMPLE_EVERY_MS = 200;
const PACED_FRACTION = 0.8;
/** The paced run's batch interval per connection (its batches are rate x PACE_MS / connections commands). */
const PACE_MS = 10;
const LAG_TARGET_MS = 50;
const APPLY_TARGET = 0.99;
const PARTIAL_TARGET = 0.01;
/** Gaps written while the link is down (the backlog holds 1 MB by default). */
const GAPS = [16 * 1024, 128 * 1024, 768 * 1024];
const GAP_VALUE_SIZE = 1000;
const CATCH_UP_TIMEOUT_MS = 60_000;
/** How long a redis replica is kept from reconnecting while the gap is written. */
const HOLD_MS = 1500;

// ---------------------------------------------------------------------------
// Deployments: where nodes come from, per system

export interface ReplNode {
  name: string;
  endpoint: Endpoint;
  /** REPLICAOF arguments that make another node follow this one. */
  follow: string[];
}

interface Deployment {
  system: string;
  /** A fresh, empty node. */
  node(name: string): Promise<ReplNode>;
  /**
   * Keeps a replica from reconnecting for `ms` once its link drops, where the
   * system needs it: redis-server reconnects at once (DEBUG SLEEP on the
   * replica holds it); a tidekv replica waits at least a second (its retry
   * backoff) by itself. Returns whether the replica is held (then it cannot be queried meanwhile).
   */
  hold(replica: ReplNode, ms: number): Promise<boolean>;
  /** Stops what node() started. */
  release(): Promise<void>;
}

function tidekvDeployment(ctx: SuiteContext): Deployment {
  const server = ctx.tidekv!.server;
  return {
    system: "tidekv",
    node: async (name) => ({ name, endpoint: { kind: "ws", url: server.wsUrl(`/node/${name}`) }, follow: [name, "6379"] }),
    hold: async () => false,
    release: async () => undefined,
  };
}

function redisDeployment(): Deployment {
  const started: RedisServer[] = [];
  return {
    system: "redis",
    async node(name) {
      // Diskless sync without the default 5 s wait for more replicas.
      const server = await startRedisServer({ args: ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"] });
      started.push(server);
      return { name, endpoint: { kind: "tcp", host: "127.0.0.1", port: server.port }, follow: ["127.0.0.1", String(server.port)] };
    },
    async hold(replica, ms) {
      // Not awaited: the reply comes when the sleep ends.
      const sleeper = await Control.open(replica.endpoint);
      void sleeper
        .call(["DEBUG", "SLEEP", String(ms / 1000)])
        .catch(() => undefined)
        .finally(() => void sleeper.close());
      await sleep(20);
      return true;
    },
    async release() {
      await Promise.allSettled(started.splice(0).map((s) => s.stop()));
    },
  };
}

async function linkUp(replica: Control, atLeastOffset = 0): Promise<boolean> {
  const info = await replica.info("replication");
  return info.get("master_link_status") === "up" && info.num("slave_repl_offset") >= atLeastOffset;
}

/** Makes `replica` follow `master` and waits for the link. */
async function attach(replica: Control, master: ReplNode, timeoutMs: number): Promise<void> {
  await replica.call(["REPLICAOF", ...master.follow]);
  if (!(await waitFor(() => linkUp(replica), timeoutMs, 50))) throw new Error(`${master.name}: the replica's link did not come up within ${timeoutMs / 1000} s`);
}

/**
 * Drops the master's link to its replica, from the master: CLIENT KILL TYPE
 * replica, or, where that kills nothing, CLIENT KILL ID of the connection
 * whose last command was REPLCONF/PSYNC in CLIENT LIST. Returns how.
 */
async function killReplicaLink(master: Control): Promise<string> {
  const killed = await master.call(["CLIENT", "KILL", "TYPE", "replica"]);
  if (killed.type === "integer" && Number(killed.value) > 0) return "CLIENT KILL TYPE replica";
  const list = replyText(await master.call(["CLIENT", "LIST"]));
  const ids = list
    .split("\n")
    .filter((line) => / cmd=(replconf|psync|sync)\b/.test(line))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  if (ids.length !== 1) throw new Error(`cannot find the replica's connection in CLIENT LIST (${ids.length} candidates)`);
  const r = await master.call(["CLIENT", "KILL", "ID", ids[0]]);
  if (r.type !== "integer" || Number(r.value) !== 1) throw new Error(`CLIENT KILL ID ${ids[0]}: ${replyText(r)}`);
  return "CLIENT KILL ID (TYPE replica killed none)";
}

// ---------------------------------------------------------------------------
// (a) lag

/** SETs on a KEYS-key working set with VALUE_SIZE-byte values, pre-encoded. */
export function setPool(seed: number): Uint8Array[] {
  const random = rng(seed);
  const value = "x".repeat(VALUE_SIZE);
  return Array.from({ length: 1 << 15 }, () => encodeCommand(["SET", `key:${String(Math.floor(random() * KEYS)).padStart(6, "0")}`, value]));
}

function cyclic(pool: Uint8Array[], start: number): CommandSource {
  let at = start;
  return () => pool[at++ % pool.length];
}

/**
 * A paced loop at a fixed rate: each connection writes a batch of
 * `pipeline` commands on its own schedule (rate / connections / pipeline
 * batches per second), waits for the replies, and writes the next batch when
 * it is due (at once when late, so a server that cannot keep up gets a closed
 * loop and the rate is then what it takes).
 * Latency is from a batch's write to each reply, as in lib/load.ts.
 */
export async function pacedLoad(
  endpoint: Endpoint,
  spec: { connections: number; pipeline: number; rate: number; warmupMs: number; durationMs: number; source(connection: number): CommandSource },
): Promise<LoadResult> {
  const conns = await Promise.all(Array.from({ length: spec.connections }, () => LoadConnection.open(endpoint)));
  const hist = new Histogram();
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const measureTo = measureFrom + spec.durationMs;
  const interval = (1000 * spec.pipeline * spec.connections) / spec.rate;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  try {
    const stalled = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new Error("stalled: replies still missing 30 s after the run")), spec.warmupMs + spec.durationMs + 30_000);
    });
    await Promise.race([stalled, Promise.all(
      conns.map(
        (conn, i) =>
          new Promise<void>((resolve, reject) => {
            const next = spec.source(i);
            let due = start + (i * interval) / spec.connections;
            let sentAt = 0;
            let outstanding = 0;
            const send = () => {
              if (performance.now() >= measureTo) return resolve();
              const batch: Uint8Array[] = [];
              for (let k = 0; k < spec.pipeline; k++) batch.push(next());
              outstanding = spec.pipeline;
              sentAt = performance.now();
              conn.send(Buffer.concat(batch));
            };
            // Batches that fall behind schedule go out at once (timer slack is caught up, not lost).
            const schedule = () => {
              due += interval;
              const wait = due - performance.now();
              if (wait > 0) setTimeout(send, wait);
              else send();
            };
            conn.onClose((e) => reject(new Error(`connection ${i} failed during the run: ${e.message}`)));
            conn.onReplies((count, errs, text) => {
              const now = performance.now();
              if (now >= measureFrom && now < measureTo) {
                ops += count;
                hist.record(now - sentAt, count);
                errors += errs;
                if (errs) firstError ??= text;
              }
              outstanding -= count;
              if (outstanding <= 0) schedule();
            });
            setTimeout(send, Math.max(0, due - performance.now()));
          }),
      ),
    )]);
  } finally {
    clearTimeout(watchdog);
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
  const seconds = spec.durationMs / 1000;
  return { ops, seconds, opsPerSec: ops / seconds, p50: hist.quantile(0.5), p99: hist.quantile(0.99), mean: hist.mean(), max: hist.max(), errors, firstError };
}

interface Probe {
  sentAt: number;
  ackAt?: number;
  seenAt?: number;
}

export interface LagRun {
  kind: "idle" | "max" | "paced";
  label: string;
  connections: number;
  pipeline: number;
  /** Paced runs: the rate asked for (writes/s). */
  targetRate?: number;
  write: LoadResult;
  /** Probes written in the measured window; those the replica served; lag from the master's ack (ms). */
  probes: number;
  seen: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  /** The same from the probe's write instead of its ack (includes the master's own queueing). */
  lagFromWriteP50: number;
  lagFromWriteP99: number;
  /** Stream bytes/s over the measured window: written by the master, applied by the replica. */
  masterBytesPerSec: number;
  replicaBytesPerSec: number;
  /** replicaBytesPerSec / masterBytesPerSec. */
  applyRatio: number;
  /** Largest master - replica offset difference seen (bytes). */
  maxBehindBytes: number;
  /** From the end of the load until the replica's offset reached the master's (ms). */
  catchUpMs: number;
}

export async function lagRun(
  master: ReplNode,
  replica: ReplNode,
  run: { kind: LagRun["kind"]; label: string; connections: number; pipeline: number; rate?: number },
  pool: Uint8Array[],
  ctx: SuiteContext,
  probeKey: string,
): Promise<LagRun> {
  const [prober, poller, mInfo, rInfo] = await Promise.all([
    Control.open(master.endpoint),
    Control.open(replica.endpoint),
    Control.open(master.endpoint),
    Control.open(replica.endpoint),
  ]);
  const probes: Probe[] = [];
  const samples: { t: number; m: number; r: number }[] = [];
  let loadDone = false;
  let stopAll = false;
  try {
    const probing = (async () => {
      let due = performance.now();
      while (!loadDone) {
        const probe: Probe = { sentAt: performance.now() };
        const seq = probes.push(probe) - 1;
        await prober.call(["SET", probeKey, String(seq)]);
        probe.ackAt = performance.now();
        due += PROBE_EVERY_MS;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        else due = performance.now();
      }
    })();
    let seen = -1;
    const polling = (async () => {
      while (!stopAll) {
        const reply = await poller.call(["GET", probeKey]);
        const now = performance.now();
        const n = reply.type === "bulk" ? Number(replyText(reply)) : -1;
        for (let s = seen + 1; s <= n && s < probes.length; s++) probes[s].seenAt = now;
        if (n > seen) seen = Math.min(n, probes.length - 1);
        if (loadDone && seen >= probes.length - 1) return;
        await sleep(POLL_PAUSE_MS);
      }
    })();
    const sampling = (async () => {
      while (!stopAll) {
        const t = performance.now();
        const [m, r] = await Promise.all([mInfo.info("replication"), rInfo.info("replication")]);
        samples.push({ t, m: m.num("master_repl_offset"), r: r.num("slave_repl_offset") });
        await sleep(SAMPLE_EVERY_MS);
      }
    })();

    const started = performance.now();
    const spec = { connections: run.connections, pipeline: run.pipeline, warmupMs: ctx.warmup * 1000, durationMs: ctx.seconds * 1000 };
    const source = (i: number) => cyclic(pool, i * 7919);
    const tick = setInterval(() => ctx.progress.update((performance.now() - started) / (spec.warmupMs + spec.durationMs), run.label), 200);
    let write: LoadResult;
    try {
      if (run.kind === "idle") {
        await sleep(spec.warmupMs + spec.durationMs);
        write = { ops: 0, seconds: spec.durationMs / 1000, opsPerSec: 0, p50: NaN, p99: NaN, mean: NaN, max: NaN, errors: 0 };
      } else if (run.kind === "paced") write = await pacedLoad(master.endpoint, { ...spec, rate: run.rate!, source });
      else write = await runLoad(master.endpoint, { ...spec, source });
    } finally {
      clearInterval(tick);
    }
    const measureFrom = started + spec.warmupMs;
    const measureTo = measureFrom + spec.durationMs;
    const loadEnd = performance.now();
    loadDone = true;
    await probing;
    // Catch-up: until the replica's offset reaches the master's as it is now.
    const target = (await mInfo.info("replication")).num("master_repl_offset");
    let caughtUpAt = NaN;
    if (await waitFor(async () => (await rInfo.info("replication")).num("slave_repl_offset") >= target, CATCH_UP_TIMEOUT_MS, 10)) caughtUpAt = performance.now();
    const pollDeadline = performance.now() + 5000;
    while (seen < probes.length - 1 && performance.now() < pollDeadline) await sleep(10);
    stopAll = true;
    await Promise.all([polling, sampling]);

    const inWindow = probes.filter((p) => p.sentAt >= measureFrom && p.sentAt < measureTo && p.ackAt !== undefined);
    const lag = new Histogram();
    const lagFromWrite = new Histogram();
    let seenCount = 0;
    for (const p of inWindow) {
      if (p.seenAt === undefined) continue;
      seenCount++;
      lag.record(Math.max(0, p.seenAt - p.ackAt!));
      lagFromWrite.record(p.seenAt - p.sentAt);
    }
    const within = samples.filter((s) => s.t >= measureFrom && s.t <= measureTo);
    const first = within[0];
    const last = within[within.length - 1];
    const span = first && last && last.t > first.t ? (last.t - first.t) / 1000 : NaN;
    const masterBytesPerSec = first && last ? (last.m - first.m) / span : NaN;
    const replicaBytesPerSec = first && last ? (last.r - first.r) / span : NaN;
    return {
      kind: run.kind,
      label: run.label,
      connections: run.connections,
      pipeline: run.pipeline,
      targetRate: run.rate,
      write,
      probes: inWindow.length,
      seen: seenCount,
      lagP50: lag.quantile(0.5),
      lagP99: lag.quantile(0.99),
      lagMax: lag.max(),
      lagFromWriteP50: lagFromWrite.quantile(0.5),
      lagFromWriteP99: lagFromWrite.quantile(0.99),
      masterBytesPerSec,
      replicaBytesPerSec,
      applyRatio: replicaBytesPerSec / masterBytesPerSec,
      maxBehindBytes: samples.reduce((a, s) => Math.max(a, s.m - s.r), 0),
      catchUpMs: caughtUpAt - loadEnd,
    };
  } finally {
    stopAll = true;
    loadDone = true;
    await Promise.all([prober, poller, mInfo, rInfo].map((c) => c.close().catch(() => undefined)));
  }
}

export interface LagResult {
  system: string;
  search: { connections: number; pipeline: number; opsPerSec: number }[];
  runs: LagRun[];
  lagTarget: { ms: number; pass?: boolean };
  applyTarget: { ratio: number; pass?: boolean };
  error?: string;
}

// ---------------------------------------------------------------------------
// (c) partial resync

export interface PartialResult {
  system: string;
  /** Stream bytes asked for while the link was down. */
  gapWritten: number;
  /** master_repl_offset after the resync - the replica's offset when the link dropped. */
  gap: number;
  /** What the master sent from just before the reconnection until the replica caught up. */
  sent: number;
  /** (sent - gap) / gap */
  overhead: number;
  syncPartialOk: number;
  syncFull: number;
  /** How the link was dropped. */
  method: string;
  /** The link came back before the gap was written (the measurement then includes live streaming). */
  raced: boolean;
  reconnectMs: number;
  pass?: boolean;
  error?: string;
}

/** Every byte the master wrote to its connections (Redis 7.0 counts replication output here too, and again in total_net_repl_output_bytes). */
const outputBytes = (stats: { num(name: string): number }) => stats.num("total_net_output_bytes");

async function partialResync(dep: Deployment, replica: ReplNode, mc: Control, rc: Control, gapTarget: number, round: number): Promise<PartialResult> {
  const result: PartialResult = { system: "", gapWritten: gapTarget, gap: NaN, sent: NaN, overhead: NaN, syncPartialOk: 0, syncFull: 0, method: "", raced: false, reconnectMs: NaN };
  const masterOffset = (await mc.info("replication")).num("master_repl_offset");
  if (!(await waitFor(() => linkUp(rc, masterOffset), CATCH_UP_TIMEOUT_MS, 20))) throw new Error("the replica did not catch up before the link drop");
  const replicaOffset = (await rc.info("replication")).num("slave_repl_offset");
  const before = await mc.info("stats");
  const held = await dep.hold(replica, HOLD_MS);
  const droppedAt = performance.now();
  result.method = await killReplicaLink(mc);
  if (held) result.method += `, replica held with DEBUG SLEEP ${HOLD_MS / 1000}`;
  else await waitFor(async () => (await rc.info("replication")).get("master_link_status") !== "up", 2000, 5);

  // The gap: SETs of GAP_VALUE_SIZE-byte values, 32 per write.
  const value = "g".repeat(GAP_VALUE_SIZE);
  const commands: Uint8Array[] = [];
  for (let bytes = 0, i = 0; bytes < gapTarget; i++) {
    const c = encodeCommand(["SET", `gap:${round}:${i}`, value]);
    commands.push(c);
    bytes += c.length;
  }
  const batches: Uint8Array[][] = [];
  for (let i = 0; i < commands.length; i += 32) batches.push(commands.slice(i, i + 32));
  await mc.pipeline(batches);

  const s1 = await mc.info("stats");
  const r1 = await mc.info("replication");
  const linkBack = held ? false : (await rc.info("replication")).get("master_link_status") === "up";
  result.raced = s1.num("sync_partial_ok") !== before.num("sync_partial_ok") || linkBack;
  const target = r1.num("master_repl_offset");
  if (!(await waitFor(() => linkUp(rc, target), CATCH_UP_TIMEOUT_MS, 10))) throw new Error("the replica did not reconnect and catch up");
  result.reconnectMs = performance.now() - droppedAt;
  const s2 = await mc.info("stats");
  const r2 = await mc.info("replication");
  result.gap = r2.num("master_repl_offset") - replicaOffset;
  result.sent = outputBytes(s2) - outputBytes(s1) - s1.replyBytes - r1.replyBytes;
  result.overhead = (result.sent - result.gap) / result.gap;
  result.syncPartialOk = s2.num("sync_partial_ok") - before.num("sync_partial_ok");
  result.syncFull = s2.num("sync_full") - before.num("sync_full");
  result.pass = result.syncPartialOk === 1 && result.syncFull === 0 && Math.abs(result.overhead) <= PARTIAL_TARGET;
  return result;
}

// ---------------------------------------------------------------------------
// (b) full sync

export interface FullSyncResult {
  system: string;
  keys: number;
  loadSeconds: number;
  syncSeconds: number;
  keysPerSec: number;
  /** Bytes the master sent meanwhile (its output counters). */
  bytes: number;
  syncFull: number;
  error?: string;
}

async function fullSync(dep: Deployment, keys: number, ctx: SuiteContext, tag: string): Promise<FullSyncResult> {
  const result: FullSyncResult = { system: dep.system, keys, loadSeconds: NaN, syncSeconds: NaN, keysPerSec: NaN, bytes: NaN, syncFull: NaN };
  const master = await dep.node(`bench-sync-${tag}-m`);
  const replica = await dep.node(`bench-sync-${tag}-r`);
  const mc = await Control.open(master.endpoint);
  const rc = await Control.open(replica.endpoint);
  try {
    ctx.progress.start(`replication ${dep.system}`, `full sync: loading ${keys.toLocaleString("en-US")} keys`);
    const loadStart = performance.now();
    await mc.pipeline(msetBatches("sync", keys, VALUE_SIZE, ctx.seed + 5, 500, 8), (commands) =>
      ctx.progress.update((commands * 500) / keys, `full sync: ${Math.min(keys, commands * 500).toLocaleString("en-US")} keys loaded`),
    );
    result.loadSeconds = (performance.now() - loadStart) / 1000;
    const size = await mc.int(["DBSIZE"]);
    if (size !== keys) throw new Error(`DBSIZE is ${size} after loading ${keys} keys`);
    ctx.progress.finish(`  replication ${dep.system}: ${keys.toLocaleString("en-US")} keys loaded in ${result.loadSeconds.toFixed(1)} s`);

    ctx.progress.start(`replication ${dep.system}`, `full sync of ${keys.toLocaleString("en-US")} keys`);
    const before = await mc.info("stats");
    await rc.call(["PING"]);
    const started = performance.now();
    await rc.call(["REPLICAOF", ...master.follow]);
    const timeout = Math.max(120_000, keys * 2);
    const done = await waitFor(
      async () => {
        ctx.progress.update(Math.min(1, (performance.now() - started) / timeout), `full sync: ${((performance.now() - started) / 1000).toFixed(0)} s`);
        return (await linkUp(rc)) && (await rc.int(["DBSIZE"])) === keys;
      },
      timeout,
      50,
    );
    if (!done) throw new Error(`the replica did not finish the full sync within ${timeout / 1000} s`);
    result.syncSeconds = (performance.now() - started) / 1000;
    result.keysPerSec = keys / result.syncSeconds;
    const after = await mc.info("stats");
    result.bytes = outputBytes(after) - outputBytes(before) - before.replyBytes;
    result.syncFull = after.num("sync_full") - before.num("sync_full");
    ctx.progress.finish(`  replication ${dep.system}: full sync of ${keys.toLocaleString("en-US")} keys in ${result.syncSeconds.toFixed(1)} s = ${fmtInt(result.keysPerSec)} keys/s`);
  } finally {
    await Promise.all([mc, rc].map((c) => c.close().catch(() => undefined)));
  }
  return result;
}

// ---------------------------------------------------------------------------

interface SystemResult {
  system: string;
  lag?: LagResult;
  partial: PartialResult[];
  fullSync?: FullSyncResult;
  errors: string[];
}

async function runSystem(dep: Deployment, ctx: SuiteContext, syncKeys: number): Promise<SystemResult> {
  const out: SystemResult = { system: dep.system, partial: [], errors: [] };
  const fail = (part: string, e: unknown) => {
    const msg = `replication ${dep.system} ${part}: ${(e as Error)?.message ?? e}`;
    out.errors.push(msg);
    return msg;
  };
  const pool = setPool(ctx.seed + 11);
  // (a) lag, then (c) partial resync on the same pair.
  let master: ReplNode | undefined;
  let mc: Control | undefined;
  let rc: Control | undefined;
  try {
    master = await dep.node("bench-lag-m");
    const replica = await dep.node("bench-lag-r");
    mc = await Control.open(master.endpoint);
    rc = await Control.open(replica.endpoint);
    await mc.call(["SET", "hello", "world"]);
    await attach(rc, master, 30_000);
    const lag: LagResult = { system: dep.system, search: [], runs: [], lagTarget: { ms: LAG_TARGET_MS }, applyTarget: { ratio: APPLY_TARGET } };
    out.lag = lag;
    const logRun = (r: LagRun) =>
      ctx.progress.finish(
        `  replication ${dep.system} ${r.label}: ${fmtInt(r.write.opsPerSec)} writes/s, lag p50 ${fmtMs(r.lagP50)} ms p99 ${fmtMs(r.lagP99)} ms ` +
          `(${r.seen}/${r.probes} probes), apply/write ${r.applyRatio.toFixed(3)}, catch-up ${fmtMs(r.catchUpMs)} ms`,
      );
    try {
      // The floor: probes alone, no other load.
      ctx.progress.start(`replication ${dep.system}`, "lag with no load (probes only)");
      const idle = await lagRun(master, replica, { kind: "idle", label: "probes only", connections: 0, pipeline: 0 }, pool, ctx, "probe:idle");
      lag.runs.push(idle);
      logRun(idle);
      if (ctx.interrupted()) return out;
      ctx.progress.start(`replication ${dep.system}`, "highest write rate with a replica attached");
      for (const [connections, pipeline] of SHAPES) {
        if (ctx.interrupted()) return out;
        const r = await runLoad(master.endpoint, { connections, pipeline, warmupMs: SEARCH_WARMUP_MS, durationMs: SEARCH_MS, source: (i) => cyclic(pool, i * 104729) });
        lag.search.push({ connections, pipeline, opsPerSec: r.errors ? 0 : r.opsPerSec });
        ctx.progress.update(lag.search.length / SHAPES.length, `${connections}x${pipeline}: ${fmtInt(r.opsPerSec)} writes/s`);
      }
      const best = lag.search.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
      ctx.progress.finish(
        `  replication ${dep.system}: highest write rate ${fmtInt(best.opsPerSec)} SET/s with ${best.connections} connection(s) x ${best.pipeline} deep (` +
          lag.search.map((s) => `${s.connections}x${s.pipeline} ${fmtInt(s.opsPerSec)}`).join(", ") +
          ")",
      );
      if (ctx.interrupted()) return out;
      ctx.progress.start(`replication ${dep.system}`, "lag at the highest write rate");
      const top = await lagRun(master, replica, { kind: "max", label: "highest rate", connections: best.connections, pipeline: best.pipeline }, pool, ctx, "probe:max");
      lag.runs.push(top);
      logRun(top);
      if (ctx.interrupted()) return out;
      ctx.progress.start(`replication ${dep.system}`, `lag at ${PACED_FRACTION * 100}% of it`);
      // As smooth as the shape allows: each connection writes a small batch every PACE_MS.
      const rate = top.write.opsPerSec * PACED_FRACTION;
      const pipeline = Math.max(1, Math.round((rate * PACE_MS) / 1000 / best.connections));
      const paced = await lagRun(master, replica, { kind: "paced", label: `${PACED_FRACTION * 100}% of it`, connections: best.connections, pipeline, rate }, pool, ctx, "probe:paced");
      lag.runs.push(paced);
      logRun(paced);
      lag.lagTarget.pass = paced.seen === paced.probes && paced.probes > 0 ? paced.lagP99 < LAG_TARGET_MS : false;
      lag.applyTarget.pass = Number.isFinite(top.applyRatio) ? top.applyRatio >= APPLY_TARGET : undefined;
    } catch (e) {
      lag.error = fail("lag", e);
      ctx.progress.finish(`  ${lag.error}`);
    }

    if (ctx.interrupted()) return out;
    ctx.progress.start(`replication ${dep.system}`, "partial resync");
    for (const [round, gap] of GAPS.entries()) {
      try {
        const r = await partialResync(dep, replica, mc, rc, gap, round);
        r.system = dep.system;
        out.partial.push(r);
        ctx.progress.update((round + 1) / GAPS.length, `gap ${fmtBytes(gap)}: sent ${fmtInt(r.sent)} bytes`);
      } catch (e) {
        const error = fail(`partial resync (${fmtBytes(gap)} gap)`, e);
        out.partial.push({ system: dep.system, gapWritten: gap, gap: NaN, sent: NaN, overhead: NaN, syncPartialOk: 0, syncFull: 0, method: "", raced: false, reconnectMs: NaN, error });
      }
    }
    ctx.progress.finish(
      `  replication ${dep.system}: partial resync ` +
        out.partial.map((p) => `gap ${fmtInt(p.gap)} B -> sent ${fmtInt(p.sent)} B (${p.error ? "failed" : `${(p.overhead * 100).toFixed(2)}%`})`).join(", "),
    );
  } catch (e) {
    const msg = fail("setup", e);
    ctx.progress.finish(`  ${msg}`);
  } finally {
    await Promise.all([mc, rc].map((c) => c?.close().catch(() => undefined)));
  }

  if (ctx.interrupted()) return out;
  try {
    out.fullSync = await fullSync(dep, syncKeys, ctx, dep.system);
  } catch (e) {
    const msg = fail("full sync", e);
    out.fullSync = { system: dep.system, keys: syncKeys, loadSeconds: NaN, syncSeconds: NaN, keysPerSec: NaN, bytes: NaN, syncFull: NaN, error: msg };
    ctx.progress.finish(`  ${msg}`);
  }
  return out;
}

function render(results: SystemResult[], syncKeys: number): { text: string; markdown: string } {
  const sections: { title: string; note: string; t: { text: string; markdown: string } }[] = [];

  const lagRows: string[][] = [];
  for (const r of results) {
    for (const run of r.lag?.runs ?? []) {
      lagRows.push([
        r.system,
        run.label,
        run.kind === "idle" ? "-" : `${run.connections}x${run.pipeline}`,
        fmtInt(run.write.opsPerSec),
        fmtMs(run.write.p50),
        fmtMs(run.write.p99),
        fmtMs(run.lagP50),
        fmtMs(run.lagP99),
        fmtMs(run.lagMax),
        `${run.seen}/${run.probes}`,
        Number.isFinite(run.applyRatio) ? run.applyRatio.toFixed(3) : "-",
        fmtInt(run.maxBehindBytes),
        fmtMs(run.catchUpMs),
      ]);
    }
    if (r.lag?.error) lagRows.push([r.system, "failed", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", r.lag.error.slice(0, 60)]);
  }
  const targetRows = results
    .filter((r) => r.lag)
    .map((r) => {
      const paced = r.lag!.runs.find((x) => x.kind === "paced");
      const top = r.lag!.runs.find((x) => x.kind === "max");
      return [
        r.system,
        paced ? `${fmtMs(paced.lagP99)} ms` : "-",
        `< ${LAG_TARGET_MS} ms`,
        r.system === "tidekv" ? verdict(r.lag!.lagTarget.pass) : "",
        top && Number.isFinite(top.applyRatio) ? top.applyRatio.toFixed(3) : "-",
        `>= ${APPLY_TARGET}`,
        r.system === "tidekv" ? verdict(r.lag!.applyTarget.pass) : "",
      ];
    });
  sections.push({
    title: "(a) Replica lag",
    note:
      `"probes only": no load but the probes (the floor). SET with ${VALUE_SIZE}-byte values on ${fmtInt(KEYS)} keys. "highest rate": the best closed-loop shape of ${SHAPES.map(([c, p]) => `${c}x${p}`).join(", ")} ` +
      `(connections x pipeline); "${PACED_FRACTION * 100}% of it": ${PACED_FRACTION * 100}% of the rate measured there, paced on the same connections ` +
      `in batches every ${PACE_MS} ms per connection (shape: connections x batch). ` +
      `Lag: a probe SET every ${PROBE_EVERY_MS} ms on the master, read back by GETs on the replica in a loop (1 ms pause between reads); from the master's reply to the first replica read that returns it. ` +
      "apply/write: replica offset bytes / master offset bytes over the measured window (INFO replication every 200 ms); behind: the largest master - replica offset seen; " +
      "catch-up: from the end of the load until the replica reached the master's offset.",
    t: table(
      ["system", "load", "shape", "writes/s", "write p50 ms", "write p99 ms", "lag p50 ms", "lag p99 ms", "lag max ms", "probes seen", "apply/write", "max behind B", "catch-up ms"],
      lagRows,
      [false, false, false, true, true, true, true, true, true, true, true, true, true],
    ),
  });
  sections.push({
    title: "(a) Targets",
    note: "",
    t: table(["system", `lag p99 at ${PACED_FRACTION * 100}%`, "target", "result", "apply/write at the highest rate", "target", "result"], targetRows, [false, true, false, false, true, false, false]),
  });

  const syncRows = results
    .filter((r) => r.fullSync)
    .map((r) => {
      const s = r.fullSync!;
      return s.error
        ? [r.system, fmtInt(s.keys), "-", "-", "-", "-", s.error.slice(0, 60)]
        : [r.system, fmtInt(s.keys), s.loadSeconds.toFixed(1), s.syncSeconds.toFixed(2), fmtInt(s.keysPerSec), fmtBytes(s.bytes), String(s.syncFull)];
    });
  sections.push({
    title: "(b) Full sync",
    note:
      `${fmtInt(syncKeys)} keys with ${VALUE_SIZE}-byte values loaded into a fresh master (MSET, 500 keys each, 8 per write), then REPLICAOF on a fresh node: ` +
      "timed from REPLICAOF's reply until the replica shows master_link_status:up and DBSIZE equals the key count (polled every 50 ms). " +
      "bytes: the master's output counters meanwhile. redis: diskless sync, no delay.",
    t: table(["system", "keys", "load s", "sync s", "keys/s", "bytes sent", "sync_full +"], syncRows, [false, true, true, true, true, true, true]),
  });

  const partialRows = results.flatMap((r) =>
    r.partial.map((p) =>
      p.error
        ? [r.system, fmtBytes(p.gapWritten), "-", "-", "-", "-", "MISS", "-", "-", p.error.slice(0, 60)]
        : [
            r.system,
            fmtBytes(p.gapWritten),
            fmtInt(p.gap),
            fmtInt(p.sent),
            `${p.overhead >= 0 ? "+" : ""}${(p.overhead * 100).toFixed(2)}%`,
            `within ${PARTIAL_TARGET * 100}%`,
            r.system === "tidekv" ? verdict(p.pass) : p.pass ? "(within)" : "(outside)",
            `+${p.syncPartialOk} / +${p.syncFull}`,
            fmtMs(p.reconnectMs),
            `${p.method}${p.raced ? "; RACED: reconnected before the gap was written" : ""}`,
          ],
    ),
  );
  sections.push({
    title: "(c) Partial resync",
    note:
      "The master drops its replica's link; while it is down the master takes SETs of 1000-byte values (the gap, in stream bytes); the replica reconnects by itself " +
      "(tidekv: its retry backoff keeps it away for at least a second; redis: DEBUG SLEEP on the replica holds it for 1.5 s). " +
      "gap: master_repl_offset after the resync - the replica's offset at the drop. sent: the master's total_net_output_bytes " +
      "from the end of the writes until the replica caught up, minus the replies to our own INFO commands: the handshake replies (+PONG, +OK, +CONTINUE) and the " +
      "stream (Redis 7.0 does not count +CONTINUE, written straight to the socket). sync_partial_ok must go up by one and sync_full not at all.",
    t: table(
      ["system", "gap written", "gap B", "sent B", "difference", "target", "result", "partial_ok / full", "reconnect ms", "how the link was dropped"],
      partialRows,
      [false, true, true, true, true, false, false, false, true, false],
    ),
  });

  const head = "Replication (issue 4)";
  return {
    text: [head, ...sections.flatMap((s) => ["", s.title, ...(s.note ? [s.note] : []), "", s.t.text])].join("\n"),
    markdown: [`## ${head}`, ...sections.flatMap((s) => ["", `### ${s.title}`, ...(s.note ? ["", s.note] : []), "", s.t.markdown])].join("\n"),
  };
}

export const replicationSuite: Suite = {
  id: "replication",
  title: "replica lag, full sync rate, partial resync bytes (issue 4)",
  // Per system: probes only, search, highest rate, 80%, partial resync, full-sync load, full sync.
  tasks: ({ tidekv, redis }) => (Number(tidekv) + Number(redis)) * 7,
  async run(ctx: SuiteContext): Promise<SuiteResult> {
    const syncKeys = ctx.large ? SYNC_KEYS_LARGE : SYNC_KEYS;
    const deployments: Deployment[] = [];
    if (ctx.tidekv) deployments.push(tidekvDeployment(ctx));
    if (ctx.redis) deployments.push(redisDeployment());
    const results: SystemResult[] = [];
    for (const dep of deployments) {
      if (ctx.interrupted()) break;
      try {
        results.push(await runSystem(dep, ctx, syncKeys));
      } finally {
        await dep.release();
      }
    }
    const { text, markdown } = render(results, syncKeys);
    return {
      id: "replication",
      title: this.title,
      data: {
        keys: KEYS,
        valueSize: VALUE_SIZE,
        syncKeys,
        targets: { lagP99Ms: LAG_TARGET_MS, applyRatio: APPLY_TARGET, partialResync: PARTIAL_TARGET },
        results,
      },
      text,
      markdown,
      errors: results.flatMap((r) => r.errors),
    };
  },
};

/**
 * The cluster issue's benchmark: what the routing proxy (`/resp`, the whole
 * 3-shard default cluster) costs over talking to the owning node directly
 * (`/node/NAME`), same workload, same run, same server.
 *
 * Both sides are measured in lockstep: two connections, one to `/resp` and
 * one to the node, take turns (the first of each pair alternates), each
 * sending the same command and waiting for its reply. Drift of a busy
 * machine then hits both sides alike, which separate runs cannot promise.
 *
 * (a) GET/SET 50/50, unpipelined, 100-byte values, on the keys of one shard
 *     (so one direct connection can serve them all). Target: proxy p50 at
 *     most 1.25x the direct p50, for GETs and for SETs each: a SET waits for
 *     its commit and a GET does not, so the p50 of the mix sits between two
 *     clusters of latencies and jumps with their proportions; each
 *     command's own p50 is the stable figure.
 * (b) A pipelined batch across shards: 15 GETs in one frame, 5 for each
 *     shard, through `/resp`, against a batch of 15 GETs of one shard sent
 *     directly to its master (one hop). A batch's latency runs to its last
 *     reply. Shard after shard would take about 3 hops; sent in parallel,
 *     about one hop plus the proxy's own cost (target: under 2x).
 *
 * Data: 10,000 keys written through `/resp` (MSETs the proxy splits by slot).
 */
import { encodeCommand } from "../../shared/resp/index.ts";
import { keySlot } from "../../shared/cluster/slot.ts";
import { performance } from "node:perf_hooks";
import { LoadConnection, type Endpoint } from "../lib/connection.ts";
import { frameOf, keyName, msetBatches, randomValue, rng } from "../lib/data.ts";
import { Histogram } from "../lib/histogram.ts";
import type { CommandSource } from "../lib/load.ts";
import type { Suite, SuiteContext, SuiteResult } from "./types.ts";
import { Control, fmtMs, fmtX, replyText, table, verdict } from "./util.ts";

const KEYS = 10_000;
const VALUE_SIZE = 100;
const PREFIX = "proxy";
const PER_SHARD_IN_BATCH = 5;
const P50_TARGET = 1.25;
/** Below this ratio to one hop, a cross-shard batch was clearly not sent shard after shard (3 hops). */
const PARALLEL_BELOW = 2;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface SideSummary {
  p50: number;
  p99: number;
  mean: number;
}

interface LockstepSummary {
  pairs: number;
  direct: SideSummary;
  proxy: SideSummary;
  /** The same, per kind of request (when the requests name one). */
  kinds: Record<string, { pairs: number; direct: SideSummary; proxy: SideSummary }>;
}

interface ProxyData {
  shards: { start: number; end: number; master: string; keys: number }[];
  single?: LockstepSummary;
  batch?: LockstepSummary;
  /** p50 ratio of the GET/SET mix, and of its GETs and its SETs alone (the targets). */
  ratio: number;
  getRatio?: number;
  setRatio?: number;
  batchRatio: number;
}

/**
 * Alternates one request on `direct` and one on `proxy` (which goes first
 * alternates too) for the suite's warmup + measured seconds; each request is
 * a frame of the commands `commands()` gives for that side (a new pair of
 * frames per turn), timed to its last reply.
 */
async function lockstep(
  direct: Endpoint,
  proxy: Endpoint,
  commands: () => { direct: Uint8Array[]; proxy: Uint8Array[]; kind?: string },
  ctx: SuiteContext,
  onProgress: (fraction: number) => void,
): Promise<{ summary: LockstepSummary; errors: string[] }> {
  const conns = { direct: await LoadConnection.open(direct), proxy: await LoadConnection.open(proxy) };
  const hist = { direct: new Histogram(), proxy: new Histogram() };
  const byKind = new Map<string, { pairs: number; direct: Histogram; proxy: Histogram }>();
  const errors: string[] = [];
  const start = performance.now();
  const measureFrom = start + ctx.warmup * 1000;
  const end = measureFrom + ctx.seconds * 1000;
  let pairs = 0;
  let lastTick = 0;
  try {
    for (let turn = 0; !ctx.interrupted(); turn++) {
      const now = performance.now();
      if (now >= end) break;
      if (now - lastTick > 200) {
        lastTick = now;
        onProgress((now - start) / (end - start));
      }
      const order: ("direct" | "proxy")[] = turn % 2 === 0 ? ["direct", "proxy"] : ["proxy", "direct"];
      const measuring = now >= measureFrom;
      const frames = commands();
      let kind = frames.kind === undefined ? undefined : byKind.get(frames.kind);
      if (frames.kind !== undefined && kind === undefined) {
        kind = { pairs: 0, direct: new Histogram(), proxy: new Histogram() };
        byKind.set(frames.kind, kind);
      }
      for (const side of order) {
        const frame = frames[side];
        const t0 = performance.now();
        const replies = await conns[side].request(frameOf(frame), frame.length);
        const ms = performance.now() - t0;
        if (measuring) {
          hist[side].record(ms);
          kind?.[side].record(ms);
        }
        const bad = replies.find((r) => r.type === "error");
        if (bad && errors.length < 5) errors.push(`proxy ${side}: ${replyText(bad)}`);
      }
      if (measuring) {
        pairs++;
        if (kind) kind.pairs++;
      }
    }
  } finally {
    await Promise.all([conns.direct.close().catch(() => undefined), conns.proxy.close().catch(() => undefined)]);
  }
  const summary = (h: Histogram): SideSummary => ({ p50: h.quantile(0.5), p99: h.quantile(0.99), mean: h.mean() });
  const kinds: LockstepSummary["kinds"] = {};
  for (const [name, k] of byKind) kinds[name] = { pairs: k.pairs, direct: summary(k.direct), proxy: summary(k.proxy) };
  return { summary: { pairs, direct: summary(hist.direct), proxy: summary(hist.proxy), kinds }, errors };
}

/** Slot ranges and master names from CLUSTER SLOTS (through /resp). */
async function clusterSlots(endpoint: Endpoint): Promise<{ start: number; end: number; master: string }[]> {
  const control = await Control.open(endpoint);
  try {
    const reply = await control.call(["CLUSTER", "SLOTS"]);
    if (reply.type !== "array") throw new Error(`CLUSTER SLOTS answered ${reply.type}`);
    return reply.value
      .map((entry) => {
        if (entry.type !== "array" || entry.value.length < 3) throw new Error("CLUSTER SLOTS: unexpected entry");
        const [start, end, master] = entry.value;
        if (start.type !== "integer" || end.type !== "integer" || master.type !== "array" || master.value[0].type !== "bulk") {
          throw new Error("CLUSTER SLOTS: unexpected entry");
        }
        return { start: Number(start.value), end: Number(end.value), master: decoder.decode(master.value[0].value) };
      })
      .sort((a, b) => a.start - b.start);
  } finally {
    await control.close();
  }
}

function getSetSource(keys: readonly string[], seed: number): () => { command: Uint8Array; kind: "GET" | "SET" } {
  const random = rng(seed);
  const gets = keys.map((k) => encodeCommand(["GET", k]));
  const sets = keys.map((k) => encodeCommand(["SET", k, randomValue(VALUE_SIZE, random)]));
  const n = keys.length;
  return () => {
    const r = random();
    return r < 0.5
      ? { command: gets[Math.floor(r * 2 * n)], kind: "GET" }
      : { command: sets[Math.floor((r - 0.5) * 2 * n)], kind: "SET" };
  };
}

/** GETs cycling through `perShard` keys of each shard in turn: every batch of perShard x shards covers all shards. */
function crossShardSource(byShard: readonly string[][], seed: number): CommandSource {
  const random = rng(seed);
  const pools = byShard.map((keys) => keys.map((k) => encodeCommand(["GET", k])));
  let i = 0;
  return () => {
    const pool = pools[Math.floor(i++ / PER_SHARD_IN_BATCH) % pools.length];
    return pool[Math.floor(random() * pool.length)];
  };
}

function oneShardGets(keys: readonly string[], seed: number): CommandSource {
  const random = rng(seed);
  const pool = keys.map((k) => encodeCommand(["GET", k]));
  return () => pool[Math.floor(random() * pool.length)];
}

export const proxySuite: Suite = {
  id: "proxy",
  title: "Routing proxy (/resp over 3 shards) vs the owning node directly",
  tasks: ({ tidekv }) => (tidekv ? 3 : 0),

  async run(ctx: SuiteContext): Promise<SuiteResult> {
    const errors: string[] = [];
    const data: ProxyData = { shards: [], ratio: NaN, batchRatio: NaN };
    const host = ctx.tidekv;
    if (!host) {
      return { id: "proxy", title: proxySuite.title, data, text: "proxy: skipped (tidekv is not running)", markdown: "", errors };
    }
    const proxy: Endpoint = { kind: "ws", url: host.server.wsUrl("/resp") };

    // Load through the proxy (which also creates the default cluster).
    ctx.progress.start("proxy: load", `${KEYS.toLocaleString("en-US")} keys through /resp`);
    const control = await Control.open(proxy);
    try {
      await control.pipeline(msetBatches(PREFIX, KEYS, VALUE_SIZE, ctx.seed), (n) => ctx.progress.update(n / (KEYS / 500), `${n} MSETs`));
    } finally {
      await control.close();
    }
    const slots = await clusterSlots(proxy);
    const byShard: string[][] = slots.map(() => []);
    for (let i = 0; i < KEYS; i++) {
      const key = keyName(PREFIX, i);
      const slot = keySlot(encoder.encode(key));
      byShard[slots.findIndex((s) => s.start <= slot && slot <= s.end)].push(key);
    }
    data.shards = slots.map((s, i) => ({ ...s, keys: byShard[i].length }));
    ctx.progress.finish(`  proxy: ${KEYS} keys over ${slots.length} shards (${data.shards.map((s) => s.keys).join(" / ")})`);
    const shard0 = slots[0];
    const direct: Endpoint = { kind: "ws", url: host.server.wsUrl(`/node/${encodeURIComponent(shard0.master)}`) };

    // (a) GET/SET on shard 0's keys, both sides in lockstep, after a warmup
    // (the fresh cluster's replicas are still syncing, the JIT is cold).
    ctx.progress.start("proxy: GET/SET", "direct and /resp in lockstep, unpipelined");
    const getSet0 = getSetSource(byShard[0], ctx.seed);
    const single = await lockstep(
      direct,
      proxy,
      () => {
        const { command, kind } = getSet0();
        return { direct: [command], proxy: [command], kind };
      },
      ctx,
      (f) => ctx.progress.update(f, "GET/SET"),
    );
    data.single = single.summary;
    errors.push(...single.errors);
    ctx.progress.finish(`  proxy: GET/SET p50 direct ${fmtMs(single.summary.direct.p50)} ms, /resp ${fmtMs(single.summary.proxy.p50)} ms`);
    data.ratio = single.summary.proxy.p50 / single.summary.direct.p50;
    const kindRatio = (kind: string) => {
      const k = single.summary.kinds[kind];
      return k ? k.proxy.p50 / k.direct.p50 : NaN;
    };
    data.getRatio = kindRatio("GET");
    data.setRatio = kindRatio("SET");

    // (b) A batch across every shard through the proxy vs one shard's batch directly.
    const batchSize = PER_SHARD_IN_BATCH * slots.length;
    const oneShard = oneShardGets(byShard[0], ctx.seed);
    const crossShard = crossShardSource(byShard, ctx.seed);
    ctx.progress.start("proxy: batches", `${batchSize} GETs per frame, lockstep`);
    const batch = await lockstep(
      direct,
      proxy,
      () => ({ direct: Array.from({ length: batchSize }, oneShard), proxy: Array.from({ length: batchSize }, crossShard) }),
      ctx,
      (f) => ctx.progress.update(f, "batches"),
    );
    data.batch = batch.summary;
    errors.push(...batch.errors);
    ctx.progress.finish(`  proxy: batch p50 direct ${fmtMs(batch.summary.direct.p50)} ms, /resp ${fmtMs(batch.summary.proxy.p50)} ms`);
    data.batchRatio = batch.summary.proxy.p50 / batch.summary.direct.p50;
    const directP50 = single.summary.direct.p50;
    const proxyP50 = single.summary.proxy.p50;

    const kindRow = (kind: string, ratio: number | undefined): string[] => {
      const k = single.summary.kinds[kind];
      const r = ratio ?? NaN;
      return [
        `(a) ${kind} p50, 1 conn`,
        k ? `${fmtMs(k.direct.p50)} ms` : "-",
        k ? `${fmtMs(k.proxy.p50)} ms` : "-",
        fmtX(r),
        `<= ${P50_TARGET}x`,
        verdict(Number.isFinite(r) ? r <= P50_TARGET : undefined),
      ];
    };
    const rows: string[][] = [
      kindRow("GET", data.getRatio),
      kindRow("SET", data.setRatio),
      ["(a) GET/SET mix p50 (bimodal)", `${fmtMs(directP50)} ms`, `${fmtMs(proxyP50)} ms`, fmtX(data.ratio), "-", ""],
      [
        `(b) ${batchSize} GETs in one frame, p50`,
        `${fmtMs(batch.summary.direct.p50)} ms (1 shard)`,
        `${fmtMs(batch.summary.proxy.p50)} ms (${slots.length} shards)`,
        fmtX(data.batchRatio),
        `< ${PARALLEL_BELOW}x (${slots.length}x = shard by shard)`,
        verdict(Number.isFinite(data.batchRatio) ? data.batchRatio < PARALLEL_BELOW : undefined),
      ],
    ];
    const pct = (r: number | undefined) => (r !== undefined && Number.isFinite(r) ? `${((r - 1) * 100).toFixed(0)}%` : "-");
    const t = table(["", "direct /node", "proxy /resp", "proxy/direct", "target", ""], rows, [false, true, true, true, false, false]);
    const note =
      `direct = ${shard0.master} (owner of slots ${shard0.start}-${shard0.end}); ${single.summary.pairs.toLocaleString("en-US")} GET/SET pairs and ` +
      `${batch.summary.pairs.toLocaleString("en-US")} batch pairs, measured in lockstep; p99 direct ${fmtMs(single.summary.direct.p99)} ms, /resp ${fmtMs(single.summary.proxy.p99)} ms.\n` +
      `the proxy adds ${pct(data.getRatio)} to a GET's p50 and ${pct(data.setRatio)} to a SET's (target: at most 25% each); ` +
      `a batch across ${slots.length} shards costs ${fmtX(data.batchRatio)} one hop (shard by shard would be ~${slots.length}x).`;
    return {
      id: "proxy",
      title: proxySuite.title,
      data,
      text: `${proxySuite.title}\n\n${t.text}\n\n${note}`,
      markdown: `### ${proxySuite.title}\n\n${t.markdown}\n\n${note.replace(/\n/g, "  \n")}`,
      errors,
    };
  },
};

/**
 * Issue 3's benchmark: the cost of one collection operation on a small (100
 * elements) and on a large (1,000,000 with --large, 100,000 by default)
 * collection, on tidekv and on redis-server in the same run. Target: an
 * operation on the large collection costs at most 3x what it costs on the
 * small one (cost = 1 / ops/s of a closed loop, 1 connection, pipelined 16
 * deep). See bench/README.md.
 *
 * tidekv runs on its own node (`/node/bench-collections`); each collection is
 * one key, loaded with pipelined multi-element commands (RPUSH/SADD/ZADD/HSET,
 * 1000 elements each, 4 per write). Every mix keeps its collection's size
 * (LPUSH/LPOP alternate; SADD adds a fresh member that a later SREM removes;
 * ZADD and HSET update existing elements), so "100 elements" stays 100.
 * INFO commandstats before and after each run gives the server's own time per
 * call (µs), which separates what the engine and SQLite spend from transport.
 */
import { encodeCommand } from "../../shared/resp/index.ts";
import type { Endpoint } from "../lib/connection.ts";
import { rng } from "../lib/data.ts";
import { runLoad, type CommandSource, type LoadResult } from "../lib/load.ts";
import type { Suite, SuiteContext, SuiteResult } from "./types.ts";
import { commandStats, Control, fmtInt, fmtMs, fmtX, statsDelta, table, verdict } from "./util.ts";

const SMALL = 100;
const LARGE = 1_000_000;
const LARGE_DEFAULT = 100_000;
const CONNECTIONS = 1;
const PIPELINE = 16;
const TARGET = 3;
const NODE = "bench-collections";
/** Elements per loading command and commands per write. */
const PER_COMMAND = 1000;
const PER_WRITE = 4;
/** Pre-encoded commands per run (picked in order; random arguments drawn when encoding). */
const POOL = 1 << 16;

type Structure = "list" | "set" | "zset" | "hash";
const STRUCTURES: Structure[] = ["list", "set", "zset", "hash"];

const member = (i: number) => `m:${String(i).padStart(8, "0")}`;
const field = (i: number) => `f:${String(i).padStart(8, "0")}`;
const value = (i: number) => `v:${String(i).padStart(14, "0")}`;
const keyOf = (structure: Structure, size: number) => `bench:${structure}:${size}`;

interface Mix {
  id: string;
  title: string;
  structure: Structure;
  /** Commands in the mix, as INFO commandstats names them. */
  commands: string[];
  /** A cyclic sequence of encoded commands on `key` (a collection of `size` elements). */
  pool(key: string, size: number, random: () => number): Uint8Array[];
}

const randomIndex = (random: () => number, n: number) => Math.floor(random() * n);

const MIXES: Mix[] = [
  {
    id: "list",
    title: "LPUSH/LPOP",
    structure: "list",
    commands: ["lpush", "lpop"],
    pool: (key, _size, random) =>
      Array.from({ length: POOL }, (_, i) =>
        i % 2 === 0 ? encodeCommand(["LPUSH", key, value(randomIndex(random, 1e9))]) : encodeCommand(["LPOP", key]),
      ),
  },
  {
    id: "set",
    title: "SADD/SISMEMBER",
    structure: "set",
    commands: ["sismember", "sadd", "srem"],
    // SISMEMBER, SADD fresh, SISMEMBER, SREM that fresh member: half reads, half writes, constant size.
    pool: (key, size, random) =>
      Array.from({ length: POOL }, (_, i) => {
        const fresh = `new:${Math.floor(i / 4)}`;
        switch (i % 4) {
          case 1:
            return encodeCommand(["SADD", key, fresh]);
          case 3:
            return encodeCommand(["SREM", key, fresh]);
          default:
            return encodeCommand(["SISMEMBER", key, member(randomIndex(random, size))]);
        }
      }),
  },
  {
    id: "zrank",
    title: "ZADD/ZRANGE by rank",
    structure: "zset",
    commands: ["zadd", "zrange"],
    // ZADD moves a random member to a random score; ZRANGE reads 10 members from a uniformly random rank.
    pool: (key, size, random) =>
      Array.from({ length: POOL }, (_, i) => {
        if (i % 2 === 0) return encodeCommand(["ZADD", key, String(randomIndex(random, size * 1000) / 1000), member(randomIndex(random, size))]);
        const start = randomIndex(random, Math.max(1, size - 9));
        return encodeCommand(["ZRANGE", key, String(start), String(start + 9)]);
      }),
  },
  {
    id: "zscore",
    title: "ZADD/ZRANGE by score",
    structure: "zset",
    commands: ["zadd", "zrange"],
    // ZRANGE BYSCORE from a uniformly random score, first 10 members.
    pool: (key, size, random) =>
      Array.from({ length: POOL }, (_, i) => {
        if (i % 2 === 0) return encodeCommand(["ZADD", key, String(randomIndex(random, size * 1000) / 1000), member(randomIndex(random, size))]);
        return encodeCommand(["ZRANGE", key, String(randomIndex(random, size)), "+inf", "BYSCORE", "LIMIT", "0", "10"]);
      }),
  },
  {
    id: "hash",
    title: "HSET/HGET",
    structure: "hash",
    commands: ["hset", "hget"],
    // HSET overwrites a random existing field; HGET reads a random field.
    pool: (key, size, random) =>
      Array.from({ length: POOL }, (_, i) =>
        i % 2 === 0
          ? encodeCommand(["HSET", key, field(randomIndex(random, size)), value(randomIndex(random, 1e9))])
          : encodeCommand(["HGET", key, field(randomIndex(random, size))]),
      ),
  },
];

/** Batches that build one collection of `size` elements (RPUSH / SADD / ZADD / HSET, 1000 elements per command). */
function* loadBatches(structure: Structure, key: string, size: number): Generator<Uint8Array[]> {
  const name = { list: "RPUSH", set: "SADD", zset: "ZADD", hash: "HSET" }[structure];
  let batch: Uint8Array[] = [];
  for (let first = 0; first < size; first += PER_COMMAND) {
    const argv: string[] = [name, key];
    for (let i = first; i < Math.min(size, first + PER_COMMAND); i++) {
      if (structure === "list") argv.push(value(i));
      else if (structure === "set") argv.push(member(i));
      else if (structure === "zset") argv.push(String(i), member(i));
      else argv.push(field(i), value(i));
    }
    batch.push(encodeCommand(argv));
    if (batch.length === PER_WRITE) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

const SIZE_COMMAND: Record<Structure, string> = { list: "LLEN", set: "SCARD", zset: "ZCARD", hash: "HLEN" };

export interface LoadRecord {
  system: string;
  structure: Structure;
  elements: number;
  seconds: number;
  elementsPerSec: number;
}

export interface CollectionRun {
  mix: string;
  title: string;
  elements: number;
  system: string;
  result?: LoadResult;
  /** Server time per call from INFO commandstats (µs), per command of the mix. */
  server?: Record<string, { calls: number; usecPerCall: number }>;
  /** Server µs per call over the whole mix (weighted by calls). */
  serverUsecPerCall?: number;
  error?: string;
}

export interface CollectionRatio {
  mix: string;
  title: string;
  system: string;
  /** Cost of an operation on the large collection / on the small one: ops/s(small) / ops/s(large). */
  cost?: number;
  p50?: number;
  p99?: number;
  /** Server µs per call, large / small. */
  server?: number;
  target?: { ratio: number; pass?: boolean };
}

interface SystemUnderTest {
  id: string;
  endpoint: Endpoint;
}

async function loadAll(
  system: SystemUnderTest,
  sizes: number[],
  ctx: SuiteContext,
): Promise<LoadRecord[]> {
  const control = await Control.open(system.endpoint);
  const out: LoadRecord[] = [];
  const total = sizes.reduce((a, b) => a + b, 0) * STRUCTURES.length;
  let done = 0;
  try {
    for (const structure of STRUCTURES) {
      for (const size of sizes) {
        if (ctx.interrupted()) return out;
        const key = keyOf(structure, size);
        await control.call(["DEL", key]);
        const started = performance.now();
        await control.pipeline(loadBatches(structure, key, size), (commands) => {
          const elements = Math.min(size, commands * PER_COMMAND);
          ctx.progress.update((done + elements) / total, `${structure} of ${size.toLocaleString("en-US")}: ${elements.toLocaleString("en-US")}`);
        });
        const seconds = (performance.now() - started) / 1000;
        const n = await control.int([SIZE_COMMAND[structure], key]);
        if (n !== size) throw new Error(`${structure} ${key}: ${SIZE_COMMAND[structure]} is ${n} after loading ${size}`);
        done += size;
        out.push({ system: system.id, structure, elements: size, seconds, elementsPerSec: size / seconds });
      }
    }
  } finally {
    await control.close();
  }
  return out;
}

async function measure(system: SystemUnderTest, mix: Mix, size: number, ctx: SuiteContext): Promise<CollectionRun> {
  const record: CollectionRun = { mix: mix.id, title: mix.title, elements: size, system: system.id };
  const pool = mix.pool(keyOf(mix.structure, size), size, rng(ctx.seed * 31 + size + mix.id.length));
  const control = await Control.open(system.endpoint);
  try {
    const before = await commandStats(control);
    record.result = await runLoad(
      system.endpoint,
      {
        connections: CONNECTIONS,
        pipeline: PIPELINE,
        warmupMs: ctx.warmup * 1000,
        durationMs: ctx.seconds * 1000,
        source: (): CommandSource => {
          let at = 0;
          return () => pool[at++ % pool.length];
        },
      },
      (t) => ctx.progress.update(t.elapsedMs / t.totalMs, t.warmingUp ? "warming up" : `${fmtInt(t.ops / Math.max(0.001, (t.elapsedMs - ctx.warmup * 1000) / 1000))} ops/s`),
    );
    const after = await commandStats(control);
    record.server = statsDelta(before, after, mix.commands);
    let calls = 0;
    let usec = 0;
    for (const s of Object.values(record.server)) {
      calls += s.calls;
      usec += s.calls * s.usecPerCall;
    }
    record.serverUsecPerCall = calls ? usec / calls : undefined;
    const n = await control.int([SIZE_COMMAND[mix.structure], keyOf(mix.structure, size)]);
    if (Math.abs(n - size) > PIPELINE) record.error = `the collection changed size: ${n} elements after the run`;
  } catch (e) {
    record.error = (e as Error).message;
  } finally {
    await control.close();
  }
  return record;
}

function ratios(runs: CollectionRun[], small: number, large: number): CollectionRatio[] {
  const out: CollectionRatio[] = [];
  for (const mix of MIXES) {
    for (const system of [...new Set(runs.map((r) => r.system))]) {
      const of = (size: number) => {
        const r = runs.find((x) => x.mix === mix.id && x.system === system && x.elements === size);
        return r?.result && r.result.errors === 0 && !r.error ? r : undefined;
      };
      const s = of(small);
      const l = of(large);
      const div = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined);
      const cost = div(s?.result?.opsPerSec, l?.result?.opsPerSec);
      out.push({
        mix: mix.id,
        title: mix.title,
        system,
        cost,
        p50: div(l?.result?.p50, s?.result?.p50),
        p99: div(l?.result?.p99, s?.result?.p99),
        server: div(l?.serverUsecPerCall, s?.serverUsecPerCall),
        target: system === "tidekv" ? { ratio: TARGET, pass: cost === undefined ? undefined : cost <= TARGET } : undefined,
      });
    }
  }
  return out;
}

function render(runs: CollectionRun[], loads: LoadRecord[], rs: CollectionRatio[], small: number, large: number): { text: string; markdown: string } {
  const sizeLabel = (n: number) => n.toLocaleString("en-US");
  const usec = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : n < 10 ? n.toFixed(1) : fmtInt(n));
  const serverCell = (r: CollectionRun) =>
    r.server
      ? Object.entries(r.server)
          .map(([name, s]) => `${name.toUpperCase()} ${usec(s.usecPerCall)}`)
          .join(", ")
      : "-";
  const runRows = runs.map((r) => {
    if (!r.result) return [r.title, sizeLabel(r.elements), r.system, "failed", "-", "-", "-", (r.error ?? "").slice(0, 60)];
    const x = r.result;
    const errors = x.errors ? `${fmtInt(x.errors)} (${(x.firstError ?? "").slice(0, 40)})` : r.error ? r.error.slice(0, 60) : "0";
    return [r.title, sizeLabel(r.elements), r.system, fmtInt(x.opsPerSec), fmtMs(x.p50), fmtMs(x.p99), serverCell(r), errors];
  });
  const runTable = table(["operations", "elements", "system", "ops/s", "p50 ms", "p99 ms", "server µs/call", "errors"], runRows, [false, true, false, true, true, true, false, false]);

  const ratioRows = MIXES.map((mix) => {
    const t = rs.find((r) => r.mix === mix.id && r.system === "tidekv");
    const rd = rs.find((r) => r.mix === mix.id && r.system === "redis");
    const atLarge = (system: string) => runs.find((r) => r.mix === mix.id && r.system === system && r.elements === large)?.result?.opsPerSec;
    const tl = atLarge("tidekv");
    const rl = atLarge("redis");
    return [
      mix.title,
      fmtX(t?.cost),
      `<= ${TARGET}x`,
      t ? verdict(t.target?.pass) : "n/a",
      fmtX(t?.p50),
      fmtX(t?.server),
      fmtX(rd?.cost),
      fmtX(rd?.server),
      tl !== undefined && rl !== undefined && rl > 0 ? fmtX(tl / rl) : "-",
    ];
  });
  const ratioTable = table(
    ["operations", "tidekv cost", "target", "result", "tidekv p50", "tidekv server µs", "redis cost", "redis server µs", `tidekv/redis ops/s at ${sizeLabel(large)}`],
    ratioRows,
    [false, true, false, false, true, true, true, true, true],
  );

  const loadRows = loads.map((l) => [l.structure, sizeLabel(l.elements), l.system, l.seconds.toFixed(2), fmtInt(l.elementsPerSec)]);
  const loadTable = table(["collection", "elements", "system", "load s", "elements/s"], loadRows, [false, true, false, true, true]);

  const head = `Collections (issue 3): ${CONNECTIONS} connection, pipelined ${PIPELINE} deep, ${sizeLabel(small)} vs ${sizeLabel(large)} elements`;
  const ratioNote =
    `Ratios are ${sizeLabel(large)} / ${sizeLabel(small)}: cost = ops/s at ${sizeLabel(small)} / ops/s at ${sizeLabel(large)} ` +
    `(1.00x: same cost; the issue's target is at most ${TARGET}x${large === LARGE ? "" : ` on 1,000,000 elements: run with --large`}); ` +
    "p50 and server µs/call (INFO commandstats, the time the server spends inside the command) are large / small.";
  const loadNote = `Loading: ${PER_COMMAND} elements per command, ${PER_WRITE} commands per write, each write awaited.`;
  return {
    text: [head, "", runTable.text, "", ratioNote, "", ratioTable.text, "", loadNote, "", loadTable.text].join("\n"),
    markdown: [`## ${head}`, "", runTable.markdown, "", ratioNote, "", ratioTable.markdown, "", loadNote, "", loadTable.markdown].join("\n"),
  };
}

export const collectionsSuite: Suite = {
  id: "collections",
  title: "collections of 100 vs 1,000,000 elements (issue 3)",
  tasks: ({ tidekv, redis }) => (Number(tidekv) + Number(redis)) * (1 + MIXES.length * 2),
  async run(ctx: SuiteContext): Promise<SuiteResult> {
    const small = SMALL;
    const large = ctx.large ? LARGE : LARGE_DEFAULT;
    const systems: SystemUnderTest[] = [];
    if (ctx.tidekv) systems.push({ id: "tidekv", endpoint: { kind: "ws", url: ctx.tidekv.server.wsUrl(`/node/${NODE}`) } });
    if (ctx.redis) systems.push({ id: "redis", endpoint: ctx.redis });
    const errors: string[] = [];
    const loads: LoadRecord[] = [];
    const runs: CollectionRun[] = [];
    for (const system of systems) {
      if (ctx.interrupted()) break;
      ctx.progress.start(`collections: load ${system.id}`, `4 collections of ${small} and of ${large.toLocaleString("en-US")} elements`);
      let loaded = false;
      try {
        const records = await loadAll(system, [small, large], ctx);
        loads.push(...records);
        const slowest = records.reduce((a, b) => Math.max(a, b.seconds), 0);
        ctx.progress.finish(`  collections: ${system.id} loaded in ${records.reduce((a, b) => a + b.seconds, 0).toFixed(1)} s (slowest collection ${slowest.toFixed(1)} s)`);
        loaded = true;
      } catch (e) {
        const msg = `collections: ${system.id}: loading failed: ${(e as Error).message}`;
        errors.push(msg);
        ctx.progress.finish(`  ${msg}`);
      }
      for (const mix of MIXES) {
        for (const size of [small, large]) {
          if (ctx.interrupted()) break;
          ctx.progress.start(`collections ${system.id}`, `${mix.title} on ${size.toLocaleString("en-US")}`);
          if (!loaded) {
            runs.push({ mix: mix.id, title: mix.title, elements: size, system: system.id, error: "not loaded" });
            ctx.progress.finish();
            continue;
          }
          const r = await measure(system, mix, size, ctx);
          runs.push(r);
          if (r.error) errors.push(`collections ${mix.title} on ${size} (${system.id}): ${r.error}`);
          const x = r.result;
          ctx.progress.finish(
            x
              ? `  collections ${mix.title.padEnd(20)} ${String(size).padStart(8)} ${system.id.padEnd(7)} ${fmtInt(x.opsPerSec).padStart(8)} ops/s  p50 ${fmtMs(x.p50)} ms  p99 ${fmtMs(x.p99)} ms` +
                  `  server ${r.serverUsecPerCall === undefined ? "-" : r.serverUsecPerCall.toFixed(1)} µs/call${x.errors ? `  ${x.errors} errors: ${x.firstError}` : ""}`
              : `  collections ${mix.title} ${size} ${system.id}: FAILED ${r.error}`,
          );
        }
      }
    }
    const rs = ratios(runs, small, large);
    const { text, markdown } = render(runs, loads, rs, small, large);
    return {
      id: "collections",
      title: this.title,
      data: { small, large, connections: CONNECTIONS, pipeline: PIPELINE, target: TARGET, loads, runs, ratios: rs },
      text,
      markdown,
      errors,
    };
  },
};

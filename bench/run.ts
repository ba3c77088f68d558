/**
 * `npm run bench [-- options]`: starts tidekv (wrangler dev) and redis-server
 * on free loopback ports, runs every workload against every system, measures
 * SQLite bytes per key, prints a table and writes bench/results/latest.{json,md}.
 * See bench/README.md. Everything started here is stopped here, also on error
 * and on Ctrl-C.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LoadConnection } from "./lib/connection.ts";
import { runLoad } from "./lib/load.ts";
import { preload } from "./lib/preload.ts";
import { Progress } from "./lib/progress.ts";
import { computeRatios, renderMarkdown, renderText, type BenchResults, type RunRecord } from "./lib/report.ts";
import { loadStorage, type StorageRun } from "./storage.ts";
import { startDenoHost } from "./systems/deno.ts";
import { startRedisHost } from "./systems/redis.ts";
import { startTidekvHost, type TidekvHost } from "./systems/tidekv.ts";
import type { Host, System } from "./systems/types.ts";
import { workloads as allWorkloads } from "./workloads/index.ts";
import { renderSuites, suites as allSuites } from "./suites/index.ts";
import { BRIDGE_DEFAULTS, configureBridgeBench } from "./suites/bridge.ts";
import type { SuiteResult } from "./suites/types.ts";
import type { BenchSettings, Dataset } from "./workloads/types.ts";

const SYSTEM_IDS = ["tidekv", "ceiling", "ceiling-durable", "deno", "deno-normal", "redis"];
/** The systems the Deno host serves (bench/systems/deno.ts); the others are wrangler dev's and redis-server's. */
const DENO_IDS = ["deno", "deno-normal"];

const USAGE = `usage: npm run bench -- [options]

  --seconds N        measured seconds per run (default 5)
  --warmup N         warmup seconds before each run, not measured (default 1)
  --systems LIST     comma-separated, from ${SYSTEM_IDS.join(",")} (default: all)
  --workloads LIST   comma-separated ids, from ${[...allWorkloads, ...allSuites].map((w) => w.id).join(",")} (default: all)
  --large            suites at the issues' full sizes (1,000,000 elements / keys; slow)
  --keys N           keys in the GET/SET working set (default 10000)
  --value-size N     value size in bytes (default 100)
  --storage-keys N   keys for the SQLite bytes-per-key measurement (default 100000)
  --no-storage       skip the bytes-per-key measurement
  --seed N           random seed (default 1)
  --bridge-requests N  redis-benchmark -n of the bridge suite (default ${BRIDGE_DEFAULTS.requests})
  --bridge-clients N   redis-benchmark -c of the bridge suite (default ${BRIDGE_DEFAULTS.clients})
`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        seconds: { type: "string", default: "5" },
        warmup: { type: "string", default: "1" },
        systems: { type: "string", default: SYSTEM_IDS.join(",") },
        workloads: { type: "string", default: [...allWorkloads, ...allSuites].map((w) => w.id).join(",") },
        large: { type: "boolean", default: false },
        keys: { type: "string", default: "10000" },
        "value-size": { type: "string", default: "100" },
        "storage-keys": { type: "string", default: "100000" },
        "no-storage": { type: "boolean", default: false },
        seed: { type: "string", default: "1" },
        "bridge-requests": { type: "string", default: String(BRIDGE_DEFAULTS.requests) },
        "bridge-clients": { type: "string", default: String(BRIDGE_DEFAULTS.clients) },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const list = (name: string, v: string, known: string[]) => {
    const items = v.split(",").map((s) => s.trim()).filter(Boolean);
    for (const s of items) if (!known.includes(s)) fail(`--${name}: unknown ${JSON.stringify(s)} (known: ${known.join(", ")})`);
    if (!items.length) fail(`--${name} is empty`);
    return items;
  };
  return {
    seconds: num("seconds", parsed.seconds, 0.1),
    warmup: num("warmup", parsed.warmup, 0),
    systems: list("systems", parsed.systems, SYSTEM_IDS),
    workloads: list("workloads", parsed.workloads, [...allWorkloads, ...allSuites].map((w) => w.id)),
    large: parsed.large,
    keys: Math.floor(num("keys", parsed.keys, 1)),
    valueSize: Math.floor(num("value-size", parsed["value-size"], 1)),
    storageKeys: Math.floor(num("storage-keys", parsed["storage-keys"], 1)),
    storage: !parsed["no-storage"],
    seed: Math.floor(num("seed", parsed.seed, 0)),
    bridgeRequests: Math.floor(num("bridge-requests", parsed["bridge-requests"], 1)),
    bridgeClients: Math.floor(num("bridge-clients", parsed["bridge-clients"], 1)),
  };
}

const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));

async function main(): Promise<number> {
  const opts = parseOptions();
  configureBridgeBench({ requests: opts.bridgeRequests, clients: opts.bridgeClients });
  const settings: BenchSettings = { keys: opts.keys, valueSize: opts.valueSize, seed: opts.seed };
  const workloads = allWorkloads.filter((w) => opts.workloads.includes(w.id));
  const suites = allSuites.filter((s) => opts.workloads.includes(s.id));
  const suiteResults: SuiteResult[] = [];
  const hosts: Host[] = [];
  let tidekvHost: TidekvHost | undefined;
  let storageRun: StorageRun | undefined;
  const errors: string[] = [];

  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await Promise.allSettled(hosts.map((h) => h.stop()));
    })());

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, stopping everything...\n`);
    const cap = setTimeout(() => process.exit(130), 20_000);
    void cleanup().finally(() => {
      tidekvHost?.removeData();
      clearTimeout(cap);
      process.exit(130);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const startedAt = new Date().toISOString();
  process.stderr.write("bench: starting servers (wrangler dev, redis-server, deno)...\n");
  try {
    const wantTidekv = opts.systems.some((id) => id !== "redis" && !DENO_IDS.includes(id)) || opts.storage;
    const wantDeno = opts.systems.some((id) => DENO_IDS.includes(id));
    const [tk, rd, dn] = await Promise.allSettled([
      wantTidekv ? startTidekvHost() : Promise.resolve(undefined),
      opts.systems.includes("redis") ? startRedisHost() : Promise.resolve(undefined),
      wantDeno ? startDenoHost({ normalSync: opts.systems.includes("deno-normal") }) : Promise.resolve(undefined),
    ]);
    if (tk.status === "fulfilled" && tk.value) hosts.push((tidekvHost = tk.value));
    if (tk.status === "rejected") errors.push(`tidekv did not start: ${(tk.reason as Error).message}`);
    if (rd.status === "fulfilled" && rd.value) hosts.push(rd.value);
    if (rd.status === "rejected") errors.push(`redis-server did not start: ${(rd.reason as Error).message}`);
    if (dn.status === "fulfilled" && dn.value) hosts.push(dn.value);
    if (dn.status === "rejected") errors.push(`tidekv on Deno did not start: ${(dn.reason as Error).message}`);
    for (const e of errors) process.stderr.write(`bench: ${e}\n`);

    const systems: System[] = SYSTEM_IDS.filter((id) => opts.systems.includes(id))
      .map((id) => hosts.flatMap((h) => h.systems).find((s) => s.id === id))
      .filter((s): s is System => s !== undefined);
    if (!systems.length) {
      process.stderr.write("bench: no system to measure\n");
      return 1;
    }

    const datasets = [...new Map(workloads.map((w) => [w.dataset.id, w.dataset])).values()];
    const storageWanted = opts.storage && tidekvHost !== undefined;
    const suiteSystems = { large: opts.large, tidekv: systems.some((s) => s.id === "tidekv"), redis: systems.some((s) => s.id === "redis") };
    const suiteTasks = suites.reduce((n, s) => n + s.tasks(suiteSystems), 0);
    const progress = new Progress(systems.length * datasets.length + systems.length * workloads.length + suiteTasks + (storageWanted ? 1 : 0));

    // Preload every system with the data its workloads need.
    const usable = new Set<string>();
    for (const system of systems) {
      if (interrupted) break;
      try {
        for (const ds of datasets) await preloadDataset(system, ds, settings, progress);
        usable.add(system.id);
      } catch (e) {
        const msg = `${system.id}: preload failed: ${(e as Error).message}`;
        errors.push(msg);
        progress.finish(`  ${msg}`);
      }
    }

    // Every workload on every system.
    const runs: RunRecord[] = [];
    for (const w of workloads) {
      const sources = w.prepare(settings);
      for (const system of systems) {
        if (interrupted) break;
        const record: RunRecord = { workload: w.id, title: w.title, connections: w.connections, pipeline: w.pipeline, system: system.id };
        runs.push(record);
        progress.start(`(${w.id}) ${system.id}`, w.title);
        if (!usable.has(system.id)) {
          record.error = "not preloaded";
          progress.finish();
          continue;
        }
        try {
          record.result = await runLoad(
            system.endpoint,
            {
              connections: w.connections,
              pipeline: w.pipeline,
              warmupMs: opts.warmup * 1000,
              durationMs: opts.seconds * 1000,
              source: sources,
            },
            (t) =>
              progress.update(
                t.elapsedMs / t.totalMs,
                t.warmingUp ? "warming up" : `${Math.round(t.ops / Math.max(0.001, (t.elapsedMs - opts.warmup * 1000) / 1000)).toLocaleString("en-US")} ops/s`,
              ),
          );
          const r = record.result;
          progress.finish(
            `  (${w.id}) ${system.id.padEnd(7)} ${Math.round(r.opsPerSec).toLocaleString("en-US").padStart(10)} ops/s  ` +
              `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms${r.errors ? `  ${r.errors} errors: ${r.firstError}` : ""}`,
          );
        } catch (e) {
          record.error = (e as Error).message;
          errors.push(`(${w.id}) ${system.id}: ${record.error}`);
          progress.finish(`  (${w.id}) ${system.id}: FAILED ${record.error}`);
        }
      }
    }

    // Suites (bench/suites/): scenarios of their own, with their own tables.
    for (const suite of suites) {
      if (interrupted) break;
      try {
        suiteResults.push(
          await suite.run({
            tidekv: suiteSystems.tidekv ? tidekvHost : undefined,
            redis: systems.find((s) => s.id === "redis")?.endpoint,
            seconds: opts.seconds,
            warmup: opts.warmup,
            large: opts.large,
            seed: opts.seed,
            progress,
            interrupted: () => interrupted,
          }),
        );
        errors.push(...suiteResults[suiteResults.length - 1].errors);
      } catch (e) {
        const msg = `${suite.id}: ${(e as Error).message}`;
        errors.push(msg);
        progress.log(`  ${msg}`);
      }
    }

    // SQLite bytes per key on a fresh node.
    let storageError: string | undefined;
    if (storageWanted && tidekvHost && !interrupted) {
      progress.start("storage", `${opts.storageKeys.toLocaleString("en-US")} keys into a fresh node`);
      try {
        storageRun = await loadStorage(tidekvHost, opts.storageKeys, opts.valueSize, (done, total) =>
          progress.update(done / total, `${done.toLocaleString("en-US")} keys`),
        );
        progress.finish();
      } catch (e) {
        storageError = (e as Error).message;
        errors.push(`storage: ${storageError}`);
        progress.finish(`  storage: FAILED ${storageError}`);
      }
    } else if (opts.storage) {
      storageError = "tidekv is not running";
    }
    progress.stop();
    if (interrupted) return new Promise<number>(() => undefined); // the signal handler exits

    process.stderr.write("bench: stopping servers...\n");
    await cleanup();
    const storage = storageRun?.finish();

    const res: BenchResults & { suites: SuiteResult[] } = {
      startedAt,
      settings: { ...opts, systems: systems.map((s) => s.id) },
      machine: { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model.trim(), memoryGiB: Math.round(totalmem() / 2 ** 30) },
      systems: systems.map((s) => ({ id: s.id, description: s.description })),
      runs,
      ratios: computeRatios(runs, workloads),
      storage,
      storageError,
      errors,
      suites: suiteResults,
    };
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(`${resultsDir}latest.json`, `${JSON.stringify(res, null, 2)}\n`);
    writeFileSync(`${resultsDir}latest.md`, renderMarkdown(res) + renderSuites(suiteResults, "markdown"));
    process.stdout.write(`\n${renderText(res)}\n${renderSuites(suiteResults, "text")}\nWritten: bench/results/latest.json, bench/results/latest.md\n`);
    return 0;
  } finally {
    await cleanup();
    tidekvHost?.removeData();
  }
}

async function preloadDataset(system: System, ds: Dataset, settings: BenchSettings, progress: Progress): Promise<void> {
  progress.start(`preload ${system.id}`, ds.description);
  const conn = await LoadConnection.open(system.endpoint);
  try {
    await preload(conn, ds.batches(settings), (n) => progress.update(n / settings.keys, `${n.toLocaleString("en-US")} keys`));
  } finally {
    await conn.close();
  }
  progress.finish();
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);

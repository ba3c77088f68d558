/**
 * Issue 7's benchmark: stock `redis-benchmark -t set,get` (unpipelined and
 * with `-P 16`) through `tidekv bridge` in front of tidekv, against
 * redis-server directly, in the same run; requests/s per test and the ratio
 * tidekv-through-bridge / redis-server. See bench/README.md.
 *
 * The bridge is the real bin (`node client/bin/tidekv.mjs bridge --listen
 * <free port> --url ws://127.0.0.1:<tidekv port>/resp`), started here with
 * its own handle and stopped at the end (also on error and Ctrl-C).
 * redis-benchmark runs with `--csv`; its rows are parsed for requests/s and
 * latencies. Its own defaults otherwise: one key (`key:__rand_int__`, no -r)
 * and 3-byte values.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort, repoRoot } from "../../test/support/processes.ts";
import type { Endpoint } from "../lib/connection.ts";
import type { Suite, SuiteContext, SuiteResult } from "./types.ts";
import { fmtInt, fmtMs, fmtX, table } from "./util.ts";

export interface BridgeBenchOptions {
  /** redis-benchmark -n: requests per test. */
  requests: number;
  /** redis-benchmark -c: parallel connections. */
  clients: number;
  /** The pipelined run's -P. */
  pipeline: number;
}

export const BRIDGE_DEFAULTS: BridgeBenchOptions = { requests: 20_000, clients: 10, pipeline: 16 };

const TESTS = ["SET", "GET"];
const BRIDGE_SYSTEM = "tidekv-bridge";
const tidekvBin = join(repoRoot, "client", "bin", "tidekv.mjs");

/** One row of redis-benchmark's CSV output. */
export interface CsvRow {
  test: string;
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BridgeRun {
  system: "redis" | typeof BRIDGE_SYSTEM;
  /** -P (1: unpipelined). */
  pipeline: number;
  requests: number;
  clients: number;
  /** The redis-benchmark arguments. */
  args: string[];
  /** Wall-clock seconds of the redis-benchmark process. */
  seconds?: number;
  tests?: CsvRow[];
  error?: string;
}

export interface BridgeRatio {
  test: string;
  pipeline: number;
  /** requests/s through the bridge / requests/s of redis-server. */
  ratio?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Parses redis-benchmark --csv: a header line, then one quoted row per test. */
export function parseCsv(text: string): CsvRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const cells = (line: string) => line.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1"));
  const header = lines.length ? cells(lines[0]) : [];
  const at = (name: string) => header.indexOf(name);
  if (at("test") < 0 || at("rps") < 0) throw new Error(`unexpected redis-benchmark CSV output: ${JSON.stringify(text.slice(0, 200))}`);
  return lines.slice(1).map((line) => {
    const c = cells(line);
    const num = (name: string) => (at(name) < 0 ? NaN : Number(c[at(name)]));
    return {
      test: c[at("test")],
      rps: num("rps"),
      avgMs: num("avg_latency_ms"),
      minMs: num("min_latency_ms"),
      p50Ms: num("p50_latency_ms"),
      p95Ms: num("p95_latency_ms"),
      p99Ms: num("p99_latency_ms"),
      maxMs: num("max_latency_ms"),
    };
  });
}

// ---------------------------------------------------------------------------
// The bridge process

interface BridgeProcess {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `tidekv bridge --listen <free port> --url <url>` and resolves once it prints "ready". */
async function startBridge(url: string): Promise<BridgeProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launchBridge(port, url);
    } catch (e) {
      // Someone took the port between freePort() and the bridge's listen: take another.
      if (attempt < 3 && /EADDRINUSE/.test((e as Error).message)) continue;
      throw e;
    }
  }
}

function launchBridge(port: number, url: string): Promise<BridgeProcess> {
  const args = [tidekvBin, "bridge", "--listen", String(port), "--url", url];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Safety net: never leave the bridge behind the bench (this child only, by its handle).
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", onExit);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!gone) {
        child.kill("SIGKILL");
        await Promise.race([exited, sleep(2000)]);
      }
    }
    process.off("exit", onExit);
  };
  return new Promise<BridgeProcess>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      void stop().then(() => reject(new Error(`tidekv bridge did not print "ready" within 60 s:\n${log}`)));
    }, 60_000);
    const onData = (d: Buffer) => {
      log = (log + d.toString()).slice(-65536);
      if (!settled && /^ready/m.test(log)) {
        settled = true;
        clearTimeout(timer);
        resolve({ port, output: () => log, stop });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off("exit", onExit);
      reject(new Error(`could not run ${process.execPath} ${args.join(" ")}: ${e.message}`));
    });
    child.once("exit", (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off("exit", onExit);
      reject(new Error(`tidekv bridge exited during startup (code ${code}, signal ${signal}):\n${log.trim()}`));
    });
  });
}

// ---------------------------------------------------------------------------
// redis-benchmark

interface Target {
  system: BridgeRun["system"];
  host: string;
  port: number;
}

/**
 * Runs redis-benchmark to completion; resolves with its stdout, or rejects
 * with its stderr on a non-zero exit. Killed (by its handle) on timeout or
 * when the bench is interrupted.
 */
function redisBenchmark(args: string[], timeoutMs: number, ctx: SuiteContext, onTick: (seconds: number) => void): Promise<{ stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("redis-benchmark", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killedFor: string | undefined;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192)));
    const onExit = () => child.kill("SIGKILL");
    process.once("exit", onExit);
    const tick = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      if (ctx.interrupted() && !killedFor) {
        killedFor = "interrupted";
        child.kill("SIGTERM");
      } else if (elapsed * 1000 > timeoutMs && !killedFor) {
        killedFor = `timed out after ${Math.round(elapsed)} s`;
        child.kill("SIGKILL");
      }
      onTick(elapsed);
    }, 250);
    const done = () => {
      clearInterval(tick);
      process.off("exit", onExit);
    };
    child.once("error", (e) => {
      done();
      const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
      reject(new Error(missing ? "redis-benchmark is not installed (apt-get install redis-tools)" : `redis-benchmark: ${e.message}`));
    });
    child.once("close", (code, signal) => {
      done();
      const seconds = (performance.now() - started) / 1000;
      if (killedFor) return reject(new Error(`redis-benchmark ${killedFor}`));
      if (code !== 0) {
        const why = stderr.trim().split("\n").slice(-3).join(" / ") || `exit code ${code}${signal ? `, signal ${signal}` : ""}`;
        return reject(new Error(`redis-benchmark failed: ${why}`));
      }
      resolve({ stdout, seconds });
    });
  });
}

function benchmarkArgs(target: Target, opts: BridgeBenchOptions, pipeline: number, requests = opts.requests): string[] {
  const args = ["-h", target.host, "-p", String(target.port), "-t", "set,get", "-n", String(requests), "-c", String(opts.clients)];
  if (pipeline > 1) args.push("-P", String(pipeline));
  args.push("--csv");
  return args;
}

/** Generous: 60 s plus 10 ms per request and test (tidekv unpipelined does a few thousand per second here). */
const timeoutFor = (requests: number) => 60_000 + requests * TESTS.length * 10;

async function measure(target: Target, opts: BridgeBenchOptions, pipeline: number, ctx: SuiteContext): Promise<BridgeRun> {
  const args = benchmarkArgs(target, opts, pipeline);
  const run: BridgeRun = { system: target.system, pipeline, requests: opts.requests, clients: opts.clients, args };
  try {
    if (ctx.warmup > 0) {
      // A short unrecorded pass first: connections, the Durable Object and the JIT warm up.
      const warm = Math.max(opts.clients * pipeline, Math.min(1000, Math.round(opts.requests / 10)));
      await redisBenchmark(benchmarkArgs(target, opts, pipeline, warm), timeoutFor(warm), ctx, (s) =>
        ctx.progress.update(0, `warming up (${warm.toLocaleString("en-US")} requests per test) ${s.toFixed(0)} s`),
      );
    }
    const { stdout, seconds } = await redisBenchmark(args, timeoutFor(opts.requests), ctx, (s) => ctx.progress.update(0, `running ${s.toFixed(0)} s`));
    run.seconds = seconds;
    run.tests = parseCsv(stdout);
    const missing = TESTS.filter((t) => !run.tests!.some((r) => r.test === t));
    if (missing.length) run.error = `no ${missing.join(", ")} row in redis-benchmark's output`;
  } catch (e) {
    run.error = (e as Error).message;
  }
  return run;
}

// ---------------------------------------------------------------------------
// Results

function ratios(runs: BridgeRun[], pipelines: number[]): BridgeRatio[] {
  const out: BridgeRatio[] = [];
  for (const pipeline of pipelines) {
    for (const test of TESTS) {
      const rps = (system: string) => runs.find((r) => r.system === system && r.pipeline === pipeline)?.tests?.find((t) => t.test === test)?.rps;
      const b = rps(BRIDGE_SYSTEM);
      const r = rps("redis");
      out.push({ test, pipeline, ratio: b !== undefined && r !== undefined && r > 0 && Number.isFinite(b) && Number.isFinite(r) ? b / r : undefined });
    }
  }
  return out;
}

/** A ratio with enough digits to tell small ones apart (0.0042x, 0.13x, 1.05x). */
const ratioX = (n: number | undefined) => (n !== undefined && Number.isFinite(n) && n > 0 && n < 0.1 ? `${n.toPrecision(2)}x` : fmtX(n));

const modeLabel = (pipeline: number) => (pipeline === 1 ? "unpipelined" : `-P ${pipeline}`);

function render(runs: BridgeRun[], rs: BridgeRatio[], opts: BridgeBenchOptions, bridgeCommand: string | undefined): { text: string; markdown: string } {
  const runRows: string[][] = [];
  for (const run of runs) {
    const system = run.system === "redis" ? "redis-server" : "tidekv via bridge";
    if (!run.tests?.length) {
      runRows.push([modeLabel(run.pipeline), "-", system, "failed", "-", "-", "-", (run.error ?? "").slice(0, 80)]);
      continue;
    }
    for (const t of run.tests) runRows.push([modeLabel(run.pipeline), t.test, system, fmtInt(t.rps), fmtMs(t.avgMs), fmtMs(t.p50Ms), fmtMs(t.p99Ms), run.error ? run.error.slice(0, 80) : ""]);
  }
  const runTable = table(["mode", "test", "system", "requests/s", "avg ms", "p50 ms", "p99 ms", "error"], runRows, [false, false, false, true, true, true, true, false]);
  const pipelines = [...new Set(rs.map((r) => r.pipeline))];
  const ratioRows = pipelines.map((p) => [modeLabel(p), ...TESTS.map((t) => ratioX(rs.find((r) => r.pipeline === p && r.test === t)?.ratio))]);
  const ratioTable = table(["mode", ...TESTS.map((t) => `${t} bridge/redis`)], ratioRows, [false, ...TESTS.map(() => true)]);
  const head =
    `Bridge (issue 7): redis-benchmark -t set,get -n ${opts.requests.toLocaleString("en-US")} -c ${opts.clients}, ` +
    `unpipelined and -P ${opts.pipeline}, through tidekv bridge vs redis-server`;
  const note =
    "Ratios are requests/s through the bridge / requests/s of redis-server (higher is better; no target). " +
    "redis-benchmark's defaults otherwise: one key, 3-byte values." +
    (bridgeCommand ? ` Bridge: \`${bridgeCommand}\`.` : "");
  return {
    text: [head, "", runTable.text, "", note, "", ratioTable.text].join("\n"),
    markdown: [`## ${head}`, "", runTable.markdown, "", note, "", ratioTable.markdown].join("\n"),
  };
}

function tcpTarget(system: BridgeRun["system"], e: Endpoint): Target {
  if (e.kind !== "tcp") throw new Error(`${system}: redis-benchmark needs a TCP endpoint`);
  return { system, host: e.host, port: e.port };
}

/** The options the next run uses (run.ts sets -n and -c from --bridge-requests / --bridge-clients). */
const configured: BridgeBenchOptions = { ...BRIDGE_DEFAULTS };

export function configureBridgeBench(options: Partial<BridgeBenchOptions>): void {
  Object.assign(configured, options);
}

/** Both modes: unpipelined and -P <pipeline>. */
const modes = () => [1, configured.pipeline];

export const bridgeSuite: Suite = {
  id: "bridge",
  title: "redis-benchmark through tidekv bridge vs redis-server (issue 7)",
  tasks: ({ tidekv, redis }) => (Number(tidekv) + Number(redis)) * modes().length,
  async run(ctx: SuiteContext): Promise<SuiteResult> {
    const opts: BridgeBenchOptions = { ...configured };
    const pipelines = modes();
    const errors: string[] = [];
    const runs: BridgeRun[] = [];
    let bridge: BridgeProcess | undefined;
    let bridgeError: string | undefined;
    let bridgeCommand: string | undefined;
    try {
      if (ctx.tidekv) {
        const url = ctx.tidekv.server.wsUrl("/resp");
        try {
          bridge = await startBridge(url);
          bridgeCommand = `node client/bin/tidekv.mjs bridge --listen ${bridge.port} --url ${url}`;
          ctx.progress.log(`  bridge: 127.0.0.1:${bridge.port} -> ${url}`);
        } catch (e) {
          bridgeError = `bridge: could not start tidekv bridge: ${(e as Error).message}`;
          errors.push(bridgeError);
          ctx.progress.log(`  ${bridgeError}`);
        }
      }
      const targets: (Target | { system: BridgeRun["system"]; error: string })[] = [];
      if (ctx.redis) targets.push(tcpTarget("redis", ctx.redis));
      if (ctx.tidekv) targets.push(bridge ? { system: BRIDGE_SYSTEM, host: "127.0.0.1", port: bridge.port } : { system: BRIDGE_SYSTEM, error: bridgeError ?? "no bridge" });
      // Per mode, redis-server then the bridge, so both see the machine in the same state.
      for (const pipeline of pipelines) {
        for (const target of targets) {
          if (ctx.interrupted()) break;
          const label = target.system === "redis" ? "redis-server" : "tidekv via bridge";
          ctx.progress.start(`bridge: ${label}`, `redis-benchmark -t set,get ${modeLabel(pipeline)}`);
          if ("error" in target) {
            runs.push({ system: target.system, pipeline, requests: opts.requests, clients: opts.clients, args: [], error: target.error });
            ctx.progress.finish();
            continue;
          }
          const run = await measure(target, opts, pipeline, ctx);
          runs.push(run);
          if (run.error) errors.push(`bridge ${label} ${modeLabel(pipeline)}: ${run.error}`);
          const line = (run.tests ?? []).map((t) => `${t.test} ${fmtInt(t.rps).padStart(8)} req/s (p50 ${fmtMs(t.p50Ms)} ms)`).join("  ");
          ctx.progress.finish(`  bridge ${modeLabel(pipeline).padEnd(11)} ${label.padEnd(17)} ${line}${run.error ? `  ${run.error}` : ""}`);
        }
      }
    } finally {
      await bridge?.stop();
    }
    const rs = ratios(runs, pipelines);
    const { text, markdown } = render(runs, rs, opts, bridgeCommand);
    return {
      id: "bridge",
      title: this.title,
      data: { ...opts, tests: TESTS, bridge: bridgeCommand, runs, ratios: rs },
      text,
      markdown,
      errors,
    };
  },
};

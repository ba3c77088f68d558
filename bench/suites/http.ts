/**
 * The HTTP API issue's benchmark: the Upstash-compatible HTTP API next to
 * `/resp` (the routing proxy over WebSocket), same workload, same run, same
 * server, same 10,000 keys.
 *
 * (a) single command: GET/SET 50/50, 100-byte values, one command per HTTP
 *     request (`POST /` with a JSON array, keep-alive connections) vs one
 *     command per WebSocket frame on `/resp`; 1 client, then 8 concurrent
 *     clients (throughput).
 * (b) 100-command pipeline: `POST /pipeline` with 100 GET/SETs vs 100
 *     commands in one `/resp` frame, 1 client. A command's latency is its
 *     batch's (replies of a batch arrive together); ops/s counts commands.
 *
 * Figures: ops/s (commands per second), p50 and p99 latency in ms. No target:
 * HTTP carries a request, JSON and a fresh router session per request, which
 * the long-lived WebSocket does not; the table shows what that costs.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { encodeCommand } from "../../shared/resp/index.ts";
import type { Endpoint } from "../lib/connection.ts";
import { keyName, msetBatches, rng } from "../lib/data.ts";
import { Histogram } from "../lib/histogram.ts";
import { runLoad, type CommandSource, type LoadResult } from "../lib/load.ts";
import type { Suite, SuiteContext, SuiteResult } from "./types.ts";
import { Control, fmtInt, fmtMs, fmtX, table } from "./util.ts";

const KEYS = 10_000;
const VALUE_SIZE = 100;
const PREFIX = "http";
const PIPELINE = 100;

interface Scenario {
  readonly label: string;
  readonly clients: number;
  readonly pipeline: number;
}

const SCENARIOS: readonly Scenario[] = [
  { label: "(a) single command, 1 client", clients: 1, pipeline: 1 },
  { label: "(a) single command, 8 clients", clients: 8, pipeline: 1 },
  { label: `(b) ${PIPELINE}-command pipeline, 1 client`, clients: 1, pipeline: PIPELINE },
];

interface HttpData {
  runs: { scenario: string; resp?: LoadResult; http?: LoadResult }[];
}

/** GET/SET 50/50 over the keys, as argv arrays (the HTTP side) with their RESP encoding (the /resp side). */
function commandMix(seed: number): () => string[] {
  const random = rng(seed);
  const value = "v".repeat(VALUE_SIZE);
  return () => {
    const key = keyName(PREFIX, Math.floor(random() * KEYS));
    return random() < 0.5 ? ["GET", key] : ["SET", key, value];
  };
}

function respSource(seed: number): CommandSource {
  const next = commandMix(seed);
  return () => encodeCommand(next());
}

/** One HTTP request: resolves with the status and the body. */
function post(agent: Agent, port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The closed loop of lib/load.ts, over HTTP: each client sends a request, waits for its reply, sends the next. */
async function runHttpLoad(
  port: number,
  scenario: Scenario,
  seconds: number,
  warmup: number,
  seed: number,
  onTick: (fraction: number, ops: number) => void,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: scenario.clients });
  const hist = new Histogram();
  const start = performance.now();
  const measureFrom = start + warmup * 1000;
  const measureTo = measureFrom + seconds * 1000;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const ticker = setInterval(() => onTick(Math.min(1, (performance.now() - start) / (measureTo - start)), ops), 200);
  try {
    await Promise.all(
      Array.from({ length: scenario.clients }, async (_, client) => {
        const next = commandMix(seed + client);
        for (;;) {
          const path = scenario.pipeline === 1 ? "/" : "/pipeline";
          const body =
            scenario.pipeline === 1 ? JSON.stringify(next()) : JSON.stringify(Array.from({ length: scenario.pipeline }, () => next()));
          const sentAt = performance.now();
          const res = await post(agent, port, path, body);
          const now = performance.now();
          if (now >= measureFrom && now < measureTo) {
            ops += scenario.pipeline;
            hist.record(now - sentAt, scenario.pipeline);
            const failed = res.status !== 200 ? scenario.pipeline : (res.body.match(/"error":/g) ?? []).length;
            if (failed) {
              errors += failed;
              firstError ??= res.body.slice(0, 200);
            }
          }
          if (now >= measureTo) return;
        }
      }),
    );
  } finally {
    clearInterval(ticker);
    agent.destroy();
  }
  return {
    ops,
    seconds,
    opsPerSec: ops / seconds,
    p50: hist.quantile(0.5),
    p99: hist.quantile(0.99),
    mean: hist.mean(),
    max: hist.max(),
    errors,
    firstError,
  };
}

export const httpSuite: Suite = {
  id: "http",
  title: "HTTP API (Upstash REST) vs /resp, same workload",
  tasks: ({ tidekv }) => (tidekv ? 1 + 2 * SCENARIOS.length : 0),

  async run(ctx: SuiteContext): Promise<SuiteResult> {
    const errors: string[] = [];
    const data: HttpData = { runs: [] };
    const host = ctx.tidekv;
    if (!host) return { id: "http", title: httpSuite.title, data, text: "http: skipped (tidekv is not running)", markdown: "", errors };
    const resp: Endpoint = { kind: "ws", url: host.server.wsUrl("/resp") };
    const port = host.server.port;

    ctx.progress.start("http: load", `${KEYS.toLocaleString("en-US")} keys through /resp`);
    const control = await Control.open(resp);
    try {
      await control.pipeline(msetBatches(PREFIX, KEYS, VALUE_SIZE, ctx.seed), (n) => ctx.progress.update(n / (KEYS / 500), `${n} MSETs`));
    } finally {
      await control.close();
    }
    ctx.progress.finish(`  http: ${KEYS} keys loaded`);

    for (const scenario of SCENARIOS) {
      if (ctx.interrupted()) break;
      const row: HttpData["runs"][number] = { scenario: scenario.label };
      data.runs.push(row);
      const report = (side: string, r: LoadResult) =>
        ctx.progress.finish(
          `  http: ${scenario.label} ${side.padEnd(5)} ${fmtInt(r.opsPerSec).padStart(8)} ops/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms` +
            (r.errors ? `  ${r.errors} errors: ${r.firstError}` : ""),
        );

      ctx.progress.start(`http: /resp`, scenario.label);
      try {
        row.resp = await runLoad(
          resp,
          { connections: scenario.clients, pipeline: scenario.pipeline, warmupMs: ctx.warmup * 1000, durationMs: ctx.seconds * 1000, source: (c) => respSource(ctx.seed + c) },
          (t) => ctx.progress.update(t.elapsedMs / t.totalMs, t.warmingUp ? "warming up" : `${t.ops} replies`),
        );
        report("/resp", row.resp);
        if (row.resp.errors) errors.push(`http ${scenario.label} /resp: ${row.resp.errors} error replies (${row.resp.firstError})`);
      } catch (e) {
        errors.push(`http ${scenario.label} /resp: ${(e as Error).message}`);
        ctx.progress.finish(`  http: ${scenario.label} /resp: FAILED ${(e as Error).message}`);
      }

      if (ctx.interrupted()) break;
      ctx.progress.start(`http: HTTP`, scenario.label);
      try {
        row.http = await runHttpLoad(port, scenario, ctx.seconds, ctx.warmup, ctx.seed, (f, ops) => ctx.progress.update(f, `${ops} commands`));
        report("HTTP", row.http);
        if (row.http.errors) errors.push(`http ${scenario.label} HTTP: ${row.http.errors} errors (${row.http.firstError})`);
      } catch (e) {
        errors.push(`http ${scenario.label} HTTP: ${(e as Error).message}`);
        ctx.progress.finish(`  http: ${scenario.label} HTTP: FAILED ${(e as Error).message}`);
      }
    }

    const rows = data.runs.map((r) => [
      r.scenario,
      fmtInt(r.resp?.opsPerSec),
      `${fmtMs(r.resp?.p50)} / ${fmtMs(r.resp?.p99)}`,
      fmtInt(r.http?.opsPerSec),
      `${fmtMs(r.http?.p50)} / ${fmtMs(r.http?.p99)}`,
      fmtX(r.http && r.resp ? r.http.opsPerSec / r.resp.opsPerSec : undefined),
    ]);
    const t = table(
      ["", "/resp ops/s", "/resp p50 / p99 ms", "HTTP ops/s", "HTTP p50 / p99 ms", "HTTP/resp ops"],
      rows,
      [false, true, true, true, true, true],
    );
    return {
      id: "http",
      title: httpSuite.title,
      data,
      text: `${httpSuite.title}\n${t.text}`,
      markdown: `### ${httpSuite.title}\n\n${t.markdown}`,
      errors,
    };
  },
};

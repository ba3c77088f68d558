/**
 * The closed-loop load generator: N connections, each sending `pipeline`
 * commands in one write (one WebSocket frame), waiting for all their replies,
 * and sending the next batch, as redis-benchmark's -c/-P do. A command's
 * latency runs from its batch's write to the arrival of its reply.
 *
 * A run has a warmup (nothing recorded) and then a measured window; only
 * replies that arrive inside the window count, so ops/s is replies in the
 * window divided by its length.
 */
import { performance } from "node:perf_hooks";
import { LoadConnection, type Endpoint } from "./connection.ts";
import { Histogram } from "./histogram.ts";

/** Hands out encoded commands (one command's RESP bytes each). */
export type CommandSource = () => Uint8Array;

export interface LoadSpec {
  connections: number;
  /** Commands per write; 1 = unpipelined. */
  pipeline: number;
  warmupMs: number;
  durationMs: number;
  /** One command source per connection. */
  source(connection: number): CommandSource;
}

export interface LoadResult {
  /** Replies received inside the measured window. */
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** Error replies inside the measured window. */
  errors: number;
  firstError?: string;
}

export interface LoadTick {
  elapsedMs: number;
  totalMs: number;
  warmingUp: boolean;
  /** Replies counted so far in the measured window. */
  ops: number;
}

/** How long after the window the in-flight replies may take before the run is declared stalled. */
const DRAIN_TIMEOUT_MS = 30_000;

export async function runLoad(endpoint: Endpoint, spec: LoadSpec, onTick?: (tick: LoadTick) => void): Promise<LoadResult> {
  const conns = await Promise.all(Array.from({ length: spec.connections }, () => LoadConnection.open(endpoint)));
  try {
    return await drive(conns, spec, onTick);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
}

function drive(conns: LoadConnection[], spec: LoadSpec, onTick?: (tick: LoadTick) => void): Promise<LoadResult> {
  const hist = new Histogram();
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const measureTo = measureFrom + spec.durationMs;
  let running = conns.length;

  return new Promise<LoadResult>((resolve, reject) => {
    let finished = false;
    const ticker = onTick
      ? setInterval(() => {
          const now = performance.now();
          onTick({
            elapsedMs: Math.min(now - start, spec.warmupMs + spec.durationMs),
            totalMs: spec.warmupMs + spec.durationMs,
            warmingUp: now < measureFrom,
            ops,
          });
        }, 200)
      : undefined;
    const watchdog = setTimeout(
      () => finish(new Error(`stalled: ${running} connection(s) still waiting for replies ${DRAIN_TIMEOUT_MS / 1000} s after the run`)),
      spec.warmupMs + spec.durationMs + DRAIN_TIMEOUT_MS,
    );

    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      if (ticker) clearInterval(ticker);
      clearTimeout(watchdog);
      if (err) return reject(err);
      const seconds = spec.durationMs / 1000;
      resolve({
        ops,
        seconds,
        opsPerSec: ops / seconds,
        p50: hist.quantile(0.5),
        p99: hist.quantile(0.99),
        mean: hist.mean(),
        max: hist.max(),
        errors,
        firstError,
      });
    };

    conns.forEach((conn, i) => {
      const next = spec.source(i);
      const depth = spec.pipeline;
      const batch: Uint8Array[] = new Array<Uint8Array>(depth);
      let sentAt = 0;
      let outstanding = 0;

      const sendBatch = () => {
        let frame: Uint8Array;
        if (depth === 1) frame = next();
        else {
          let len = 0;
          for (let k = 0; k < depth; k++) len += (batch[k] = next()).length;
          frame = Buffer.concat(batch, len);
        }
        outstanding = depth;
        sentAt = performance.now();
        conn.send(frame);
      };

      conn.onClose((reason) => finish(new Error(`connection ${i} failed during the run: ${reason.message}`)));
      conn.onReplies((count, errs, errText) => {
        const now = performance.now();
        if (now >= measureFrom && now < measureTo) {
          ops += count;
          hist.record(now - sentAt, count);
          if (errs) {
            errors += errs;
            firstError ??= errText;
          }
        }
        outstanding -= count;
        if (outstanding > 0) return;
        if (outstanding < 0) return finish(new Error(`connection ${i}: more replies than commands sent`));
        if (now < measureTo) sendBatch();
        else if (--running === 0) finish();
      });
      sendBatch();
    });
  });
}

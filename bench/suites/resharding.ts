/**
 * Live resharding (CLUSTER MIGRATESLOTS): how fast a slot's keys move from
 * one master to another, and what a client of `/resp` reading those keys
 * meanwhile sees. No target: the figures are for the README and the notes.
 *
 * One slot (hash tag {mv}) gets 10,000 keys of 100 bytes (100,000 with
 * --large) through `/resp`. Then, on one connection, GETs of random keys of
 * that slot run unpipelined: first before the move, then while the slot's
 * owner moves it to the next shard (started with CLUSTER MIGRATESLOTS on the
 * owner's endpoint, followed with CLUSTER GETSLOTMIGRATIONS). Every GET must
 * find its value (the proxy follows ASK and MOVED); a miss is an error.
 */
import { encodeCommand } from "../../shared/resp/index.ts";
import { keySlot } from "../../shared/cluster/slot.ts";
import { performance } from "node:perf_hooks";
import { LoadConnection, type Endpoint } from "../lib/connection.ts";
import { keyName, msetBatches, rng } from "../lib/data.ts";
import { Histogram } from "../lib/histogram.ts";
import type { Reply } from "../../shared/resp/reply.ts";
import type { Suite, SuiteContext, SuiteResult } from "./types.ts";
import { Control, fmtInt, fmtMs, replyText, sleep, table } from "./util.ts";

const PREFIX = "{mv}";
const VALUE_SIZE = 100;
/** How long the GETs run before the move, as the baseline. */
const BASELINE_MS = 2000;

const encoder = new TextEncoder();

interface ReshardingData {
  keys: number;
  slot: number;
  from?: string;
  to?: string;
  seconds?: number;
  keysPerSec?: number;
  state?: string;
  message?: string;
  before?: { gets: number; p50: number; p99: number };
  during?: { gets: number; p50: number; p99: number; misses: number };
}

/** The fields of a RESP2 map (a flat list of names and values). */
function fields(reply: Reply): Map<string, string> {
  const out = new Map<string, string>();
  if (reply.type !== "array") return out;
  for (let i = 0; i + 1 < reply.value.length; i += 2) out.set(replyText(reply.value[i]), replyText(reply.value[i + 1]));
  return out;
}

export const reshardingSuite: Suite = {
  id: "resharding",
  title: "Live resharding (CLUSTER MIGRATESLOTS): keys/s, and GETs through /resp meanwhile",
  tasks: ({ tidekv }) => (tidekv ? 2 : 0),

  async run(ctx: SuiteContext): Promise<SuiteResult> {
    const errors: string[] = [];
    const keys = ctx.large ? 100_000 : 10_000;
    const slot = keySlot(encoder.encode(PREFIX));
    const data: ReshardingData = { keys, slot };
    const host = ctx.tidekv;
    if (!host) {
      return { id: "resharding", title: reshardingSuite.title, data, text: "resharding: skipped (tidekv is not running)", markdown: "", errors };
    }
    const proxy: Endpoint = { kind: "ws", url: host.server.wsUrl("/resp") };
    const node = (name: string): Endpoint => ({ kind: "ws", url: host.server.wsUrl(`/node/${encodeURIComponent(name)}`) });

    ctx.progress.start("resharding: load", `${keys.toLocaleString("en-US")} keys of slot ${slot} through /resp`);
    const control = await Control.open(proxy);
    let from: string;
    let to: string;
    try {
      await control.pipeline(msetBatches(PREFIX, keys, VALUE_SIZE, ctx.seed), (n) => ctx.progress.update(n / (keys / 500), `${n} MSETs`));
      const slots = await control.call(["CLUSTER", "SLOTS"]);
      if (slots.type !== "array") throw new Error("CLUSTER SLOTS: not an array");
      const masters = slots.value.map((entry) => {
        if (entry.type !== "array" || entry.value[2]?.type !== "array") throw new Error("CLUSTER SLOTS: unexpected entry");
        const [start, end, master] = entry.value as [Reply, Reply, Reply & { type: "array" }];
        return { start: Number(replyText(start)), end: Number(replyText(end)), name: replyText(master.value[0]) };
      });
      const owner = masters.findIndex((m) => m.start <= slot && slot <= m.end);
      from = masters[owner].name;
      to = masters.find((m) => m.name !== from)!.name;
    } finally {
      await control.close();
    }
    data.from = from;
    data.to = to;
    ctx.progress.finish(`  resharding: ${keys.toLocaleString("en-US")} keys in slot ${slot} on ${from}`);

    ctx.progress.start("resharding: move", `slot ${slot} from ${from} to ${to}, GETs through /resp`);
    const source = await Control.open(node(from));
    const target = await Control.open(node(to));
    const reader = await LoadConnection.open(proxy);
    const random = rng(ctx.seed);
    const before = new Histogram();
    const during = new Histogram();
    let misses = 0;
    let finished = false;
    let started = 0;
    try {
      const read = async (hist: Histogram) => {
        const key = keyName(PREFIX, Math.floor(random() * keys));
        const t0 = performance.now();
        const [reply] = await reader.request(encodeCommand(["GET", key]), 1);
        hist.record(performance.now() - t0);
        if (reply.type !== "bulk" || reply.value.length !== VALUE_SIZE) {
          misses++;
          if (errors.length < 5) errors.push(`resharding: GET ${key} answered ${replyText(reply)}`);
        }
      };
      const baselineEnd = performance.now() + BASELINE_MS;
      while (performance.now() < baselineEnd && !ctx.interrupted()) await read(before);

      const targetId = replyText(await target.call(["CLUSTER", "MYID"]));
      started = performance.now();
      await source.call(["CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", String(slot), String(slot), "NODE", targetId]);
      // GETs run until the job is done; the job is polled on another connection.
      const reads = (async () => {
        while (!finished && !ctx.interrupted()) await read(during);
      })();
      let job = new Map<string, string>();
      for (;;) {
        const jobs = await source.call(["CLUSTER", "GETSLOTMIGRATIONS"]);
        job = jobs.type === "array" && jobs.value.length > 0 ? fields(jobs.value[0]) : new Map();
        if (job.get("state") !== "migrating" || ctx.interrupted()) break;
        ctx.progress.update(Math.min(0.99, (performance.now() - started) / (keys / 2)), `moving: ${((performance.now() - started) / 1000).toFixed(1)} s`);
        await sleep(50);
      }
      const seconds = (performance.now() - started) / 1000;
      finished = true;
      await reads;
      data.state = job.get("state");
      data.message = job.get("message");
      data.seconds = seconds;
      data.keysPerSec = keys / seconds;
      if (data.state !== "success") errors.push(`resharding: the migration ended ${data.state}: ${data.message}`);
    } finally {
      finished = true;
      await Promise.all([source.close(), target.close(), reader.close()].map((p) => p.catch(() => undefined)));
    }
    data.before = { gets: before.count, p50: before.quantile(0.5), p99: before.quantile(0.99) };
    data.during = { gets: during.count, p50: during.quantile(0.5), p99: during.quantile(0.99), misses };
    ctx.progress.finish(
      `  resharding: ${fmtInt(keys)} keys moved in ${data.seconds?.toFixed(2)} s = ${fmtInt(data.keysPerSec)} keys/s; GET p50 ${fmtMs(data.before.p50)} -> ${fmtMs(data.during.p50)} ms`,
    );

    const t = table(
      ["", "keys", "seconds", "keys/s", "GETs", "GET p50", "GET p99", "misses"],
      [
        ["before the move", fmtInt(keys), "-", "-", fmtInt(data.before.gets), `${fmtMs(data.before.p50)} ms`, `${fmtMs(data.before.p99)} ms`, "-"],
        [
          "during the move",
          fmtInt(keys),
          data.seconds === undefined ? "-" : data.seconds.toFixed(2),
          fmtInt(data.keysPerSec),
          fmtInt(data.during.gets),
          `${fmtMs(data.during.p50)} ms`,
          `${fmtMs(data.during.p99)} ms`,
          fmtInt(misses),
        ],
      ],
      [false, true, true, true, true, true, true, true],
    );
    const note =
      `slot ${slot} (${PREFIX}) from ${from} to ${to}: ${VALUE_SIZE}-byte values, moved in batches of up to 100 keys; ` +
      `GETs of random keys of the slot, one at a time through /resp (ASK and MOVED followed by the proxy). Job: ${data.state ?? "-"} (${data.message ?? ""}).`;
    return {
      id: "resharding",
      title: reshardingSuite.title,
      data,
      text: `${reshardingSuite.title}\n\n${t.text}\n\n${note}`,
      markdown: `### ${reshardingSuite.title}\n\n${t.markdown}\n\n${note}`,
      errors,
    };
  },
};


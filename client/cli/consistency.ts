/**
 * `tidekv consistency-test`: the consistency checker of redis-rb-cluster's
 * consistency-test.rb (the Redis/Valkey cluster tutorial's). It loops over
 * random counters doing a read (GET) and then a write (INCR), remembers the
 * value every acknowledged INCR returned, and on every read compares:
 * a value lower than remembered means acknowledged writes were lost; a
 * higher one means writes that failed (no acknowledgement) did happen.
 *
 * Once a second it prints `R reads (err) | W writes (err) | N lost | N noack`;
 * at the end a summary. Lost writes make the exit status non-zero.
 */
import { Client } from "../src/client.ts";
import { ClusterClient } from "../src/cluster.ts";
import type { RedisCommands } from "../src/client.ts";
import { describeError } from "../src/errors.ts";
import { redactUrl } from "../src/url.ts";
import { CliError } from "./errors.ts";
import { resolveTarget, type TargetOptions } from "./target.ts";

export interface ConsistencyOptions extends TargetOptions {
  /** Size of the whole keyspace (default 10000). */
  keys?: number;
  /** Size of the often-written subset (default 1000). */
  workingSet?: number;
  /** Seconds to run; until stopped when absent. */
  duration?: number;
  /** Pause after each read+write (ms). */
  delayMs?: number;
  /** Route by slot (CLUSTER SLOTS) instead of through the URL. */
  cluster?: boolean;
}

export interface ConsistencyResult {
  reads: number;
  failedReads: number;
  writes: number;
  failedWrites: number;
  lost: number;
  noack: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function report(r: ConsistencyResult): string {
  return `${r.reads} R (${r.failedReads} err) | ${r.writes} W (${r.failedWrites} err) | ${r.lost} lost | ${r.noack} noack`;
}

export async function consistencyTest(
  opts: ConsistencyOptions,
  print: (line: string) => void,
  stop: { requested: boolean } = { requested: false },
): Promise<ConsistencyResult> {
  const keyspace = opts.keys ?? 10000;
  const workingSet = opts.workingSet ?? 1000;
  if (!(keyspace >= 1) || !(workingSet >= 1)) throw new CliError("consistency-test: --keys and --working-set must be at least 1", 2);
  const target = resolveTarget(opts);
  let client: RedisCommands;
  try {
    client = opts.cluster
      ? await ClusterClient.connect(target.url, { token: target.token })
      : await Client.connect(target.url, { token: target.token });
  } catch (e) {
    throw new CliError(`consistency-test: ${redactUrl(target.url)}: ${describeError(e)}`);
  }
  const prefix = [process.pid, Date.now() % 1_000_000, Math.floor(Math.random() * 1e9), ""].join("|");
  const cached = new Map<string, number>();
  const r: ConsistencyResult = { reads: 0, failedReads: 0, writes: 0, failedWrites: 0, lost: 0, noack: 0 };
  const errTime = new Map<string, number>();
  const putErr = (msg: string) => {
    const now = Math.floor(Date.now() / 1000);
    if (errTime.get(msg) !== now) print(msg);
    errTime.set(msg, now);
  };
  const genKey = () => `${prefix}key_${Math.floor(Math.random() * (Math.random() > 0.5 ? keyspace : workingSet))}`;
  const deadline = opts.duration !== undefined ? Date.now() + opts.duration * 1000 : Infinity;
  let lastReport = Math.floor(Date.now() / 1000);
  try {
    while (!stop.requested && Date.now() < deadline) {
      const key = genKey();
      try {
        const value = await client.call("GET", key);
        const n = value === null ? 0 : Number(value);
        const expected = cached.get(key);
        if (expected !== undefined) {
          if (expected > n) r.lost += expected - n;
          else if (expected < n) r.noack += n - expected;
        }
        r.reads++;
      } catch (e) {
        putErr(`Reading: ${describeError(e)}`);
        r.failedReads++;
      }
      try {
        cached.set(key, Number(await client.call("INCR", key)));
        r.writes++;
      } catch (e) {
        putErr(`Writing: ${describeError(e)}`);
        r.failedWrites++;
      }
      if (opts.delayMs) await sleep(opts.delayMs);
      const now = Math.floor(Date.now() / 1000);
      if (now !== lastReport) {
        lastReport = now;
        print(report(r));
      }
    }
  } finally {
    await client.close();
  }
  return r;
}

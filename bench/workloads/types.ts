import type { CommandSource } from "../lib/load.ts";

/** Settings every workload sees (from the command line). */
export interface BenchSettings {
  /** Keys in the working set. */
  keys: number;
  /** Value size in bytes. */
  valueSize: number;
  seed: number;
}

/** Data a workload needs before it runs; loaded once per system (datasets are shared by id). */
export interface Dataset {
  id: string;
  description: string;
  /** Batches of encoded commands; each batch goes out as one write and is awaited before the next. */
  batches(settings: BenchSettings): Iterable<Uint8Array[]>;
}

/** A target from the issue, on the ratio tidekv / ceiling. */
export interface Target {
  /** "at most" for latency, "at least" for throughput. */
  kind: "at most" | "at least";
  ratio: number;
  /** How to print it, e.g. "p50 <= 1.25x ceiling". */
  text: string;
}

export interface Workload {
  /** Short id used on the command line and in the table: "a", "b", ... */
  id: string;
  title: string;
  connections: number;
  /** Commands per write; 1 = unpipelined. */
  pipeline: number;
  /** The figure systems are compared on: p50 latency (lower is better) or throughput. */
  compare: "p50" | "ops";
  target?: Target;
  dataset: Dataset;
  /** Builds the command sources for one run; called once per run, then once per connection. */
  prepare(settings: BenchSettings): (connection: number) => CommandSource;
}

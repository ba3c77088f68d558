import type { Endpoint } from "../lib/connection.ts";
import type { Progress } from "../lib/progress.ts";
import type { TidekvHost } from "../systems/tidekv.ts";

/**
 * A suite is a benchmark that does not fit the workload model (one closed-loop
 * command mix per system, compared with the ceiling): it drives its own
 * scenario (several nodes, several sizes, timelines) and renders its own
 * tables. `npm run bench -- --workloads <suite id>` selects it like a workload.
 */
export interface SuiteContext {
  /** The wrangler dev server, when tidekv is among the systems. Suites use their own `/node/NAME` nodes on it. */
  tidekv?: TidekvHost;
  /** redis-server (the run's reference instance), when redis is among the systems. */
  redis?: Endpoint;
  /** Measured seconds per run and warmup seconds before it (--seconds, --warmup). */
  seconds: number;
  warmup: number;
  /** --large: the 1,000,000-element / 1,000,000-key sizes of the issues instead of the default smaller ones. */
  large: boolean;
  seed: number;
  progress: Progress;
  /** True once Ctrl-C was pressed: stop at the next step. */
  interrupted(): boolean;
}

export interface SuiteResult {
  id: string;
  title: string;
  /** Everything measured (goes to latest.json). */
  data: unknown;
  /** The suite's tables for the terminal and for latest.md. */
  text: string;
  markdown: string;
  errors: string[];
}

export interface Suite {
  /** Used on the command line (--workloads) and in the results. */
  id: string;
  title: string;
  /** How many progress tasks run() will start and finish (for the progress bar's total). */
  tasks(opts: { large: boolean; tidekv: boolean; redis: boolean }): number;
  run(ctx: SuiteContext): Promise<SuiteResult>;
}

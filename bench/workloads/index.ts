/** The workloads `npm run bench` runs, in order. Add new ones here. */
import { getSetWorkload } from "./get-set.ts";
import type { Workload } from "./types.ts";

export const workloads: Workload[] = [
  getSetWorkload({
    id: "a",
    connections: 1,
    pipeline: 1,
    compare: "p50",
    target: { kind: "at most", ratio: 1.25, text: "p50 <= 1.25x ceiling" },
  }),
  getSetWorkload({
    id: "b",
    connections: 1,
    pipeline: 16,
    compare: "ops",
    target: { kind: "at least", ratio: 0.6, text: "ops/s >= 60% of ceiling" },
  }),
  getSetWorkload({
    id: "c",
    connections: 32,
    pipeline: 1,
    compare: "ops",
    target: { kind: "at least", ratio: 0.6, text: "ops/s >= 60% of ceiling" },
  }),
];

/**
 * GET/SET 50/50 over a preloaded working set (redis-benchmark's classic mix):
 * uniformly random keys, fixed-size random values.
 */
import { encodeCommand } from "../../shared/resp/index.ts";
import { keyName, msetBatches, randomValue, rng } from "../lib/data.ts";
import type { CommandSource } from "../lib/load.ts";
import type { BenchSettings, Dataset, Target, Workload } from "./types.ts";

const PREFIX = "key";

export const workingSet: Dataset = {
  id: "get-set-keys",
  description: "the GET/SET working set",
  batches: (s) => msetBatches(PREFIX, s.keys, s.valueSize, s.seed),
};

/** Every GET and SET of the working set, encoded once, so the generator only picks. */
function commandPool(s: BenchSettings): { gets: Uint8Array[]; sets: Uint8Array[] } {
  const random = rng(s.seed + 1);
  const gets: Uint8Array[] = [];
  const sets: Uint8Array[] = [];
  for (let i = 0; i < s.keys; i++) {
    const key = keyName(PREFIX, i);
    gets.push(encodeCommand(["GET", key]));
    sets.push(encodeCommand(["SET", key, randomValue(s.valueSize, random)]));
  }
  return { gets, sets };
}

export function getSetWorkload(opts: {
  id: string;
  connections: number;
  pipeline: number;
  compare: "p50" | "ops";
  target?: Target;
}): Workload {
  const conns = `${opts.connections} connection${opts.connections === 1 ? "" : "s"}`;
  return {
    ...opts,
    title: `GET/SET 50/50, ${conns}, ${opts.pipeline === 1 ? "unpipelined" : `pipelined ${opts.pipeline} deep`}`,
    dataset: workingSet,
    prepare(s) {
      const { gets, sets } = commandPool(s);
      return (connection): CommandSource => {
        const random = rng(s.seed * 7919 + connection + 17);
        const n = gets.length;
        return () => {
          const r = random();
          // The low half picks GET, the high half SET; the key from the same draw.
          return r < 0.5 ? gets[Math.floor(r * 2 * n)] : sets[Math.floor((r - 0.5) * 2 * n)];
        };
      };
    },
  };
}

/**
 * tidekv on Deno (deno/main.ts, what `npm run start:deno` runs) on a free
 * loopback port with a fresh data directory: the same node as the Durable
 * Object one, on node:sqlite. `--sync full` (the default) fsyncs the WAL at
 * every commit, as durable acknowledgement asks; the `deno-normal` system is
 * the same node with `--sync normal` (fsync at checkpoints: survives a
 * killed process, not a crashed OS), to show what the fsync costs.
 *
 * Deno does not reload on source changes, so no source snapshot is needed
 * (unlike wrangler dev, see tidekv.ts).
 */
import { startDenoNode, type DenoNode } from "../../test/support/deno.ts";
import type { Host, System } from "./types.ts";

export interface DenoHost extends Host {
  readonly nodes: DenoNode[];
}

export async function startDenoHost(opts: { normalSync?: boolean } = {}): Promise<DenoHost> {
  const full = await startDenoNode({ args: ["--quiet"] });
  const nodes = [full];
  try {
    if (opts.normalSync) nodes.push(await startDenoNode({ args: ["--quiet", "--sync", "normal"] }));
  } catch (e) {
    await full.stop();
    throw e;
  }
  const systems: System[] = [
    {
      id: "deno",
      description: "tidekv on Deno /resp (WebSocket, node:sqlite, fsync per commit)",
      endpoint: { kind: "ws", url: full.wsUrl("/resp") },
    },
  ];
  if (nodes[1]) {
    systems.push({
      id: "deno-normal",
      description: "tidekv on Deno /resp with --sync normal (fsync at checkpoints)",
      endpoint: { kind: "ws", url: nodes[1].wsUrl("/resp") },
    });
  }
  return {
    label: `tidekv on Deno (${nodes.map((n) => `127.0.0.1:${n.port}`).join(", ")})`,
    systems,
    nodes,
    stop: async () => {
      await Promise.allSettled(nodes.map((n) => n.stop()));
    },
  };
}

/**
 * tidekv under `wrangler dev` (local workerd, real Durable Object SQLite) on
 * a free loopback port with a fresh data directory. One server hosts two
 * systems: tidekv itself (`/resp`) and the ceiling (`/bench/ceiling`, a
 * do-nothing Durable Object on the same worker path, enabled by TIDEKV_BENCH=1).
 *
 * wrangler dev rebuilds and restarts the worker (dropping every WebSocket)
 * whenever a source file changes, so the server runs from a snapshot of the
 * sources taken at start: editing the tree during a bench does not disturb it,
 * and the figures belong to one build.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, startTidekv, type TidekvServer } from "../../test/support/processes.ts";
import type { Host, System } from "./types.ts";

/** What the worker build needs (wrangler.toml's `main` and everything it imports). */
const SOURCES = ["wrangler.toml", "package.json", "tsconfig.json", "worker", "durable", "shared"];

export interface TidekvHost extends Host {
  readonly server: TidekvServer;
  /** The wrangler --persist-to directory (ours: it outlives stop() so storage can be measured after shutdown). */
  readonly persistDir: string;
  /** Removes the data directory and the source snapshot (after stop()). */
  removeData(): void;
}

function snapshotSources(): string {
  const dir = mkdtempSync(join(tmpdir(), "tidekv-bench-src-"));
  try {
    for (const name of SOURCES) cpSync(join(repoRoot, name), join(dir, name), { recursive: true });
    symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export async function startTidekvHost(): Promise<TidekvHost> {
  const persistDir = mkdtempSync(join(tmpdir(), "tidekv-bench-data-"));
  let sourceDir: string | undefined;
  const removeData = () => {
    rmSync(persistDir, { recursive: true, force: true });
    if (sourceDir) rmSync(sourceDir, { recursive: true, force: true });
  };
  let server: TidekvServer;
  try {
    sourceDir = snapshotSources();
    server = await startTidekv({
      persistDir,
      vars: { TIDEKV_BENCH: "1" },
      args: ["--config", join(sourceDir, "wrangler.toml")],
    });
  } catch (e) {
    removeData();
    throw e;
  }
  const systems: System[] = [
    {
      id: "tidekv",
      description: "tidekv /resp (WebSocket, NodeDO on DO SQLite)",
      endpoint: { kind: "ws", url: server.wsUrl("/resp") },
    },
    {
      id: "ceiling",
      description: "do-nothing Durable Object on the same path (/bench/ceiling, canned replies)",
      endpoint: { kind: "ws", url: server.wsUrl("/bench/ceiling") },
    },
    {
      id: "ceiling-durable",
      description: "the ceiling plus one committed SQLite write per frame with a SET (the durable-write floor)",
      endpoint: { kind: "ws", url: server.wsUrl("/bench/ceiling?durable=1") },
    },
  ];
  return {
    label: `tidekv (wrangler dev, ${server.url})`,
    systems,
    server,
    persistDir,
    stop: () => server.stop(),
    removeData,
  };
}

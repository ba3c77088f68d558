/**
 * A tidekv node on Deno (deno/main.ts, the path `npm run start:deno` takes)
 * as a real process for e2e tests, on a loopback port, in its own process
 * group, stopped by its own handle:
 *
 *   const node = await startDenoNode({ replicaof: tidekv.wsUrl("/node/m") });
 *   await node.kill();     // SIGKILL: no shutdown at all
 *   await node.restart();  // same port, same data directory
 *   await node.stop();     // SIGTERM (clean shutdown), removes a temp data dir
 *
 * As a safety net the node exits by itself once the test process is gone
 * (TIDEKV_EXIT_WITH_PARENT), and leftovers are killed when the test process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./processes.ts";

export const denoBin = join(repoRoot, "node_modules", ".bin", "deno");
/** The permissions `npm run start:deno` grants. */
export const DENO_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

export interface DenoNodeOptions {
  /** Port to serve on; any free one by default (then kept across restarts). */
  port?: number;
  /** Data directory; a fresh temp dir by default, removed by stop(). */
  dataDir?: string;
  /** --name: the node /resp serves. */
  name?: string;
  /** --replicaof URL. */
  replicaof?: string;
  /** More CLI arguments (e.g. ["--sync", "normal"]). */
  args?: string[];
  /** Extra environment (e.g. TIDEKV_TOKEN). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

export interface DenoNode {
  readonly port: number;
  readonly dataDir: string;
  /** ws://127.0.0.1:PORT + path. */
  wsUrl(path: string): string;
  /** Everything the process printed (stdout and stderr), this start and earlier ones. */
  log(): string;
  readonly pid: number | undefined;
  /** SIGTERM (clean shutdown) and wait for the exit; returns the exit code. */
  terminate(): Promise<number | null>;
  /** SIGKILL the process group and wait for the exit. */
  kill(): Promise<void>;
  /** Starts again on the same port and data directory (after terminate() or kill()). */
  restart(options?: { replicaof?: string }): Promise<void>;
  /** Stops (SIGTERM, then SIGKILL) and removes the data directory if this helper made it. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let netInstalled = false;
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // gone
  }
}
function installSafetyNet(): void {
  if (netInstalled) return;
  netInstalled = true;
  process.on("exit", () => {
    for (const child of live) killGroup(child, "SIGKILL");
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startDenoNode(opts: DenoNodeOptions = {}): Promise<DenoNode> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "tidekv-deno-"));
  let port = opts.port ?? 0;
  let output = "";
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let replicaof = opts.replicaof;

  const launch = async () => {
    const args = ["run", ...DENO_PERMISSIONS, "deno/main.ts", "--port", String(port), "--data", dataDir];
    if (opts.name) args.push("--name", opts.name);
    if (replicaof) args.push("--replicaof", replicaof);
    args.push(...(opts.args ?? []));
    const proc = spawn(denoBin, args, {
      cwd: repoRoot,
      detached: true, // own process group
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", TIDEKV_EXIT_WITH_PARENT: String(process.pid), ...opts.env },
    });
    child = proc;
    live.add(proc);
    installSafetyNet();
    const append = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
    };
    proc.stdout?.on("data", append);
    proc.stderr?.on("data", append);
    exited = new Promise((resolve) =>
      proc.once("exit", (code) => {
        live.delete(proc);
        resolve(code);
      }),
    );
    const from = output.length;
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    let gone = false;
    void exited.then(() => (gone = true));
    for (;;) {
      const listening = output.slice(from).match(/listening on http:\/\/[^\s]+:(\d+)/);
      if (listening) {
        port = Number(listening[1]);
        return;
      }
      if (gone || Date.now() > deadline) {
        killGroup(proc, "SIGKILL");
        throw new Error(`deno node did not start (deno ${args.join(" ")}):\n${output.slice(from)}`);
      }
      await sleep(50);
    }
  };

  const terminate = async (): Promise<number | null> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    killGroup(child, "SIGTERM");
    const code = await Promise.race([exited, sleep(15_000).then(() => "timeout" as const)]);
    if (code === "timeout") {
      killGroup(child, "SIGKILL");
      await exited;
      throw new Error(`deno node ignored SIGTERM for 15 s:\n${output}`);
    }
    return code;
  };

  const kill = async (): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    killGroup(child, "SIGKILL");
    await exited;
  };

  await launch();
  return {
    get port() {
      return port;
    },
    dataDir,
    wsUrl: (path: string) => `ws://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    log: () => output,
    get pid() {
      return child?.pid;
    },
    terminate,
    kill,
    async restart(options) {
      await kill();
      if (options && "replicaof" in options) replicaof = options.replicaof;
      await launch();
    },
    async stop() {
      try {
        await terminate();
      } catch {
        // killed
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

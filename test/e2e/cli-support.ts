/**
 * Running the real `tidekv` bin (client/bin/tidekv.mjs) and Redis's tools
 * (redis-cli, redis-benchmark) from e2e tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort, repoRoot } from "../support/processes.ts";

export const tidekvBin = join(repoRoot, "client", "bin", "tidekv.mjs");

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion (stdin from `input`, or empty). */
export function run(command: string, args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", TIDEKV_HISTFILE: "/dev/null", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} timed out\nstderr: ${err}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on("error", () => undefined); // a program that exits without reading its stdin
    child.stdin.end(options.input ?? "");
  });
}

/** `tidekv ...` through its bin, as `npx tidekv` runs it. */
export function tidekv(args: string[], options: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  return run(process.execPath, [tidekvBin, ...args], options);
}

export interface Running {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a long-running `tidekv ...` (the bridge) and resolves once its
 * stderr shows `readyPattern`; stop() sends SIGTERM to that process only.
 */
export function startTidekvCommand(args: string[], readyPattern = /^ready/m, timeoutMs = 60_000): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tidekvBin, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    const onData = (d: Buffer) => {
      log += d.toString();
      if (readyPattern.test(log)) {
        clearTimeout(timer);
        resolve({
          child,
          output: () => log,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
              setTimeout(() => child.kill("SIGKILL"), 5000).unref();
            }),
        });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tidekv ${args.join(" ")} did not become ready:\n${log}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tidekv ${args.join(" ")} exited with ${code}:\n${log}`));
    });
    process.once("exit", () => child.kill("SIGKILL"));
  });
}

export interface ClusterBridge extends Running {
  /** The main port: node default-s0-m, where discovery starts. */
  readonly port: number;
  /** The bridge's local port of every node, by name. */
  readonly nodePorts: ReadonlyMap<string, number>;
}

/**
 * `tidekv bridge --cluster` in front of `server`'s default cluster. Discovery
 * (CLUSTER SLOTS) goes through a node URL, which makes the main port a real
 * cluster node, so redis-cli -c sees MOVED on it.
 */
export async function startClusterBridge(server: { wsUrl(path: string): string }): Promise<ClusterBridge> {
  const port = await freePort();
  const bridge = await startTidekvCommand(["bridge", "--cluster", "--listen", String(port), "--url", server.wsUrl("/node/default-s0-m")]);
  const nodePorts = new Map<string, number>();
  for (const m of bridge.output().matchAll(/node (\S+): 127\.0\.0\.1:(\d+) ->/g)) nodePorts.set(m[1], Number(m[2]));
  return { ...bridge, port, nodePorts };
}

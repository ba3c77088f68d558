/**
 * Real processes for e2e tests: tidekv (through `scripts/start.mjs`, the path
 * `npm start` takes) and redis-server, on loopback only, each on a free port.
 *
 *   let tidekv: TidekvServer;
 *   beforeAll(async () => { tidekv = await startTidekv(); });
 *   afterAll(() => tidekv?.stop());
 *
 * Every process runs in its own process group and is stopped by its own handle
 * (`stop()` kills that group: wrangler, workerd, esbuild). As a safety net,
 * leftovers are killed when the test process exits or gets SIGINT/SIGTERM/SIGHUP,
 * and start.mjs stops its server by itself once the test process is gone
 * (TIDEKV_EXIT_WITH_PARENT).
 *
 * This module has no dependency on the RESP codec, so it works before (and
 * whatever the state of) shared/resp.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const startScript = join(repoRoot, "scripts", "start.mjs");

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not get a free port"))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Process groups and the safety net

const LOG_LIMIT = 1 << 20;

class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = "";
  private hasExited = false;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv },
  ) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true, // own process group: stop() kills the whole tree
      stdio: ["ignore", "pipe", "pipe"],
    });
    const append = (chunk: Buffer) => {
      // eslint-disable-next-line no-control-regex
      this.output += chunk.toString("utf8").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
      if (this.output.length > LOG_LIMIT) this.output = this.output.slice(-LOG_LIMIT / 2);
    };
    this.child.stdout?.on("data", append);
    this.child.stderr?.on("data", append);
    this.exited = new Promise((resolve) => {
      this.child.once("error", (err) => {
        append(Buffer.from(`\n[${label}] spawn error: ${err.message}\n`));
        this.hasExited = true;
        live.delete(this);
        resolve({ code: null, signal: null });
      });
      this.child.once("exit", (code, signal) => {
        this.hasExited = true;
        resolve({ code, signal });
      });
    });
    // Keep the test process's event loop free of these handles.
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (this.child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    live.add(this);
    installSafetyNet();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.hasExited;
  }

  log(): string {
    return this.output;
  }

  private signalGroup(signal: NodeJS.Signals | 0): boolean {
    const pid = this.child.pid;
    if (!pid) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  }

  /** Kills the whole process group: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.pid) {
      this.signalGroup("SIGTERM");
      const leader = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!leader) this.signalGroup("SIGKILL");
      // The leader is gone; give the rest of the group (workerd, esbuild) a moment.
      const deadline = Date.now() + 5000;
      while (this.signalGroup(0) && Date.now() < deadline) await sleep(50);
      this.signalGroup("SIGKILL"); // whatever is left (zombies ignore it, harmlessly)
      await Promise.race([this.exited, sleep(2000)]);
    }
    live.delete(this);
  }

  /** Synchronous last resort, used by the exit safety net. */
  killNow(): void {
    this.signalGroup("SIGKILL");
    live.delete(this);
  }
}

/**
 * Runs `argv` as a child and stops it when the test process is gone, even after
 * a SIGKILL (which no exit handler survives). Signals are passed on.
 */
const WATCHDOG = `
const { spawn } = require("node:child_process");
const [bin, ...args] = process.argv.slice(1);
const parent = Number(process.env.TIDEKV_EXIT_WITH_PARENT);
const child = spawn(bin, args, { stdio: "inherit" });
child.on("error", (e) => { console.error(String(e)); process.exit(127); });
child.on("exit", (code, signal) => process.exit(code ?? 1));
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => child.kill(s));
setInterval(() => { try { process.kill(parent, 0); } catch { child.kill("SIGKILL"); } }, 1000).unref();
`;

function watched(command: string, args: string[]): [string, string[]] {
  return [process.execPath, ["-e", WATCHDOG, "--", command, ...args]];
}

const live = new Set<ManagedProcess>();
const tempDirs = new Set<string>();
let safetyNetInstalled = false;

function killLeftovers(): void {
  for (const p of [...live]) p.killNow();
  for (const dir of [...tempDirs]) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
    tempDirs.delete(dir);
  }
}

function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  process.on("exit", killLeftovers);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killLeftovers();
      // If nobody else handles the signal, keep its default meaning (terminate).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

function indent(text: string): string {
  const t = text.trimEnd();
  return t ? t.replace(/^/gm, "    ") : "    (no output)";
}

// ---------------------------------------------------------------------------
// tidekv

export interface TidekvOptions {
  /** Port to serve on; a free one by default. */
  port?: number;
  /** Data directory (wrangler --persist-to); a fresh temp dir by default, removed by stop(). */
  persistDir?: string;
  /** Worker vars, passed as `--var KEY:VALUE`. */
  vars?: Record<string, string>;
  /** Extra `wrangler dev` arguments. */
  args?: string[];
  /** How long to wait for the server to answer. Default 90 s. */
  startTimeoutMs?: number;
}

export interface TidekvServer {
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The data directory in use. */
  readonly persistDir: string;
  /** ws://127.0.0.1:PORT + path, e.g. wsUrl("/resp"), wsUrl("/node/a"). */
  wsUrl(path: string): string;
  /** Everything the process printed so far (stdout and stderr). */
  log(): string;
  /** Stops the server (kills its process group) and removes the temp data dir if it made one. */
  stop(): Promise<void>;
  /** Stops and starts the server again on the same port and data directory. */
  restart(): Promise<void>;
}

/** Resolves when an HTTP GET on / gets any response at all. */
function httpAnswers(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", method: "GET", agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on("end", () => resolve(true));
        res.on("error", () => resolve(true));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
    req.end();
  });
}

export async function startTidekv(opts: TidekvOptions = {}): Promise<TidekvServer> {
  let port = opts.port ?? (await freePort());
  // Per-instance scratch: data (unless given), wrangler's dev registry and logs,
  // so tests never share anything with a developer's `npm start`.
  const scratch = makeTempDir("tidekv-test-");
  const persistDir = opts.persistDir ?? join(scratch, "state");
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  let proc: ManagedProcess | undefined;

  const launch = async () => {
    const inspectorPort = await freePort();
    const args = [
      startScript,
      "--port", String(port),
      "--persist-to", persistDir,
      "--inspector-port", String(inspectorPort),
      "--log-level", "info",
      ...(opts.args ?? []),
    ];
    for (const [k, v] of Object.entries(opts.vars ?? {})) args.push(`--var=${k}:${v}`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CI: "true",
      FORCE_COLOR: "0",
      NO_COLOR: "1",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
      WRANGLER_LOG_PATH: join(scratch, "logs"),
      TIDEKV_EXIT_WITH_PARENT: String(process.pid),
    };
    const p = new ManagedProcess(`tidekv:${port}`, process.execPath, args, { cwd: repoRoot, env });
    proc = p;
    const started = Date.now();
    let errorSeenAt = 0;
    for (;;) {
      if (!p.running) {
        const { code, signal } = await p.exited;
        throw new Error(
          `tidekv (scripts/start.mjs --port ${port}) exited during startup (code ${code}, signal ${signal}).\n` +
            `  command: node ${args.join(" ")}\n  output:\n${indent(p.log())}`,
        );
      }
      // Any HTTP answer will do, once wrangler says it is ready (so a stranger
      // holding the port does not pass for us).
      const ready = /Ready on http/.test(p.log()) || Date.now() - started > 20_000;
      if (ready && (await httpAnswers(port, 5000))) return;
      const now = Date.now();
      // A build error makes wrangler wait for a file change forever: fail fast.
      if (!errorSeenAt && /\[ERROR\]|Build failed/.test(p.log())) errorSeenAt = now;
      if (now - started > timeoutMs || (errorSeenAt && now - errorSeenAt > 5000)) {
        await p.stop(2000);
        throw new Error(
          `tidekv did not answer HTTP on 127.0.0.1:${port} within ${Math.round((now - started) / 1000)} s.\n` +
            `  command: node ${args.join(" ")}\n  output:\n${indent(p.log())}`,
        );
      }
      await sleep(250);
    }
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (e) {
      // Someone took our free port between freePort() and wrangler's bind: take another.
      if (!opts.port && attempt < 3 && /Address already in use/.test(proc?.log() ?? "")) {
        port = await freePort();
        continue;
      }
      removeTempDir(scratch);
      throw e;
    }
  }

  let stopped = false;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    persistDir,
    wsUrl: (path: string) => `ws://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    log: () => proc?.log() ?? "",
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.stop();
      removeTempDir(scratch);
    },
    async restart() {
      if (stopped) throw new Error("restart() after stop()");
      await proc?.stop();
      await launch();
    },
  };
}

// ---------------------------------------------------------------------------
// redis-server

export interface RedisServer {
  readonly port: number;
  /** Everything redis-server printed (its log goes to stdout). */
  log(): string;
  stop(): Promise<void>;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/usr/sbin", "/usr/local/bin"])) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Sends an inline PING and resolves true on "+PONG". */
function redisPongs(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let data = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

export async function startRedisServer(opts: { args?: string[]; startTimeoutMs?: number } = {}): Promise<RedisServer> {
  const bin = findOnPath("redis-server");
  if (!bin) {
    throw new Error(
      "redis-server is not installed (not found on PATH); the differential tests need it.\n" +
        "Install it with: apt-get install -y redis-server   (as root; `apt-get update` first)",
    );
  }
  const port = await freePort();
  const dir = makeTempDir("tidekv-redis-");
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--protected-mode", "no",
    "--save", "",
    "--appendonly", "no",
    "--enable-debug-command", "yes",
    "--daemonize", "no",
    "--dir", dir,
    "--logfile", "",
    ...(opts.args ?? []),
  ];
  const [cmd, cmdArgs] = watched(bin, args);
  const p = new ManagedProcess(`redis:${port}`, cmd, cmdArgs, {
    cwd: dir,
    env: { ...process.env, TIDEKV_EXIT_WITH_PARENT: String(process.pid) },
  });
  const started = Date.now();
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  for (;;) {
    if (!p.running) {
      const { code, signal } = await p.exited;
      removeTempDir(dir);
      throw new Error(
        `redis-server exited during startup (code ${code}, signal ${signal}).\n` +
          `  command: ${bin} ${args.map((a) => (a === "" ? "''" : a)).join(" ")}\n  output:\n${indent(p.log())}`,
      );
    }
    if (await redisPongs(port, 2000)) break;
    if (Date.now() - started > timeoutMs) {
      await p.stop(2000);
      removeTempDir(dir);
      throw new Error(`redis-server did not answer PING on 127.0.0.1:${port}.\n  output:\n${indent(p.log())}`);
    }
    await sleep(50);
  }
  let stopped = false;
  return {
    port,
    log: () => p.log(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await p.stop(5000);
      removeTempDir(dir);
    },
  };
}

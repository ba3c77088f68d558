/**
 * The Deno host from `npm test`: `deno test` (what `npm run test:deno` and
 * `deno task test` run: the host's own suite, deno/*_test.ts: the node:sqlite
 * adapter, the output gate, the engine over them, the server in-process; and
 * the pure shared/ tests, test/node/resp and test/node/util, unchanged on
 * Deno) run as a child process, and the CLI as a user runs it (`deno task start`, clean
 * shutdown on SIGTERM, data kept across restarts, the HTTP API with `@upstash/redis`).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/processes.ts";
import { DENO_PERMISSIONS, denoBin, startDenoNode, type DenoNode } from "../support/deno.ts";
import { RespWsClient, utf8 } from "../support/resp-client.ts";
import type { Reply } from "../../shared/resp/index.ts";

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const text = (reply: Reply): string => {
  if (reply.type === "bulk" || reply.type === "verbatim") return utf8(reply.value);
  if (reply.type === "simple" || reply.type === "error") return reply.value;
  if (reply.type === "integer") return String(reply.value);
  return JSON.stringify(reply);
};

describe("deno test (the Deno host's suite and the shared/ tests on Deno)", () => {
  it("passes", async () => {
    const { code, output } = await run(denoBin, ["test", ...DENO_PERMISSIONS], 240_000);
    expect(output, output).toMatch(/ok \| \d+ passed \| 0 failed/);
    for (const file of ["deno/sql_test.ts", "deno/gate_test.ts", "deno/node_test.ts", "deno/server_test.ts", "deno/http_test.ts", "test/node/resp/roundtrip.test.ts", "test/node/util/numbers.test.ts"]) {
      expect(output, `${file} did not run`).toMatch(new RegExp(`running \\d+ tests? from \\./${file.replace(/[./]/g, "\\$&")}`));
    }
    expect(code, output).toBe(0);
  }, 300_000);
});

describe("the deno CLI", () => {
  const dirs: string[] = [];
  const nodes: DenoNode[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "tidekv-deno-cli-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("rejects bad arguments with a usage message", async () => {
    const { code, output } = await run(denoBin, ["run", ...DENO_PERMISSIONS, "deno/main.ts", "--port", "x"], 60_000);
    expect(code).toBe(2);
    expect(output).toContain("--port N is required");
    expect(output).toContain("usage: deno task start");
  }, 90_000);

  it("`deno task start` serves /resp; SIGTERM closes the databases (WAL checkpointed) and exits 0", async () => {
    const dataDir = tempDir();
    // `deno task start` is what the README tells Deno users; the helper runs deno/main.ts directly,
    // so run the task itself here.
    const child = spawn(denoBin, ["task", "start", "--port", "0", "--data", dataDir, "--name", "cli"], {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      let port = 0;
      while (!port) {
        port = Number(output.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1] ?? 0);
        if (Date.now() > deadline) throw new Error(`no listening line:\n${output}`);
        if (!port) await new Promise((r) => setTimeout(r, 50));
      }
      const c = await RespWsClient.open(`ws://127.0.0.1:${port}/resp`);
      expect(text(await c.command("SET", "k", "v"))).toBe("OK");
      expect(text(await c.command("GET", "k"))).toBe("v");
      expect(existsSync(join(dataDir, "cli.sqlite-wal"))).toBe(true); // a write went to the WAL
      process.kill(-child.pid!, "SIGTERM");
      expect(await exited, output).toBe(0);
      await c.closed;
      expect(output).toContain("SIGTERM, closing links and databases");
      // Closing the last connection checkpoints the WAL into the database file and removes it.
      expect(readdirSync(dataDir).sort()).toEqual(["cli.sqlite"]);
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // exited
      }
    }
  }, 120_000);

  it("refuses a second process on the same data directory", async () => {
    const first = await startDenoNode({ dataDir: tempDir() });
    nodes.push(first);
    const { code, output } = await run(denoBin, ["run", ...DENO_PERMISSIONS, "deno/main.ts", "--port", "0", "--data", first.dataDir], 60_000);
    expect(code, output).toBe(1);
    expect(output).toMatch(/cannot start: database is locked/);
    // and the first one still serves
    const c = await RespWsClient.open(first.wsUrl("/resp"));
    expect(text(await c.command("PING"))).toBe("PONG");
    await c.close();
  }, 120_000);

  it("keeps every acknowledged write across a SIGKILL and a restart", async () => {
    const node = await startDenoNode({ dataDir: tempDir() });
    nodes.push(node);
    let c = await RespWsClient.open(node.wsUrl("/resp"));
    const sets = Array.from({ length: 2000 }, (_, i) => ["SET", `k${i}`, `v${i}`]);
    const replies = await c.pipeline(sets);
    expect(replies.every((r) => r.type === "simple" && r.value === "OK")).toBe(true);
    expect(text(await c.command("HSET", "h", "a", "1", "b", "2"))).toBe("2");
    const digest = text(await c.command("DEBUG", "DIGEST"));
    await node.kill(); // no shutdown at all: only what was committed is there
    await c.closed;
    await node.restart();
    c = await RespWsClient.open(node.wsUrl("/resp"));
    expect(text(await c.command("DBSIZE"))).toBe("2001");
    expect(text(await c.command("GET", "k1999"))).toBe("v1999");
    expect(text(await c.command("DEBUG", "DIGEST"))).toBe(digest);
    await c.close();
  }, 120_000);

  it("serves the HTTP API: the unmodified @upstash/redis SDK, with the tokens of the environment", async () => {
    const node = await startDenoNode({ dataDir: tempDir(), name: "api", env: { TIDEKV_TOKEN: "deno-full", TIDEKV_READONLY_TOKEN: "deno-ro" } });
    nodes.push(node);
    const url = `http://127.0.0.1:${node.port}`;
    const redis = new Redis({ url, token: "deno-full", enableTelemetry: false, retry: false });
    expect(await redis.set("greeting", { hello: "deno" })).toBe("OK");
    expect(await redis.get("greeting")).toEqual({ hello: "deno" });
    expect(await redis.hset("h", { a: 1, b: "two" })).toBe(2);
    expect(await redis.hgetall("h")).toEqual({ a: 1, b: "two" });
    const p = redis.pipeline();
    p.incr("n");
    p.incrby("n", 4);
    p.lpush("l", "x", "y");
    expect(await p.exec()).toEqual([1, 5, 2]);
    const tx = redis.multi();
    tx.set("{t}a", "1");
    tx.incr("{t}a");
    expect(await tx.exec()).toEqual(["OK", 2]);
    // The same data on the node /resp serves (--name api).
    const c = await RespWsClient.open(node.wsUrl("/resp?token=deno-full"));
    expect(text(await c.command("GET", "n"))).toBe("5");
    await c.close();
    // The read-only token reads and cannot write; a wrong token is refused.
    const readonly = new Redis({ url, token: "deno-ro", enableTelemetry: false, retry: false });
    expect(await readonly.get("n")).toBe(5);
    await expect(readonly.set("n", 1)).rejects.toThrow(/NOPERM/);
    const wrong = new Redis({ url, token: "nope", enableTelemetry: false, retry: false });
    await expect(wrong.get("n")).rejects.toThrow(/WRONGPASS|401/);
  }, 120_000);
});

/**
 * `tidekv cli` prints what redis-cli prints: the same commands go to a real
 * redis-server through redis-cli and to tidekv through `tidekv cli`, and the
 * outputs must be identical bytes — formatted (--no-raw, what a terminal
 * gets) and raw (what a pipe gets), RESP2 and RESP3, one-shot and as a
 * script fed to the interactive mode. Also: `consistency-test` against a
 * single node reports 0 lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, startTidekv, type RedisServer, type TidekvServer } from "../support/processes.ts";
import { run, tidekv } from "./cli-support.ts";

let redis: RedisServer;
let server: TidekvServer;

beforeAll(async () => {
  [redis, server] = await Promise.all([startRedisServer(), startTidekv()]);
});

afterAll(async () => {
  await Promise.allSettled([redis?.stop(), server?.stop()]);
});

const fresh = () => `cli-${Math.random().toString(36).slice(2, 10)}`;

/** redis-cli's "(0.52s)" timing line after slow commands is not part of the reply. */
const withoutTimings = (s: string) => s.replace(/^\(\d+\.\d\ds\)\n/gm, "");

const SETUP = [
  'SET s "hello world"',
  'SET bin "\\x00\\xff\\r\\n\\"q\\" \\t\\\\"',
  "RPUSH l a b c",
  "HSET h f1 v1 f2 v2",
  "ZADD z 1.5 a 2 b 0.1 c",
  "SADD one-member m",
];

const QUERIES = [
  "GET s",
  "GET bin",
  "GET missing",
  "INCR counter",
  "INCRBY counter 41",
  "INCRBYFLOAT f 1.5",
  "LRANGE l 0 -1",
  "LRANGE missing 0 -1",
  "HGETALL h",
  "HGETALL missing",
  "HMGET h f1 nope f2",
  "SMEMBERS one-member",
  "ZRANGE z 0 -1 WITHSCORES",
  "ZSCORE z c",
  "ZSCORE z nope",
  "EXISTS s missing l",
  "TYPE l",
  "GET l",
  "SET onlykey",
  "NOSUCHCOMMAND a b",
  "MULTI",
  "INCR counter",
  "GET s",
  "EXEC",
  "EXEC",
  'ECHO "two\\nlines"',
  "ECHO ''",
  "COMMAND INFO get",
  "OBJECT ENCODING missing",
];

async function viaRepl(target: "redis" | "tidekv", lines: string[], flags: string[]): Promise<string> {
  const input = lines.join("\n") + "\n";
  const r =
    target === "redis"
      ? await run("redis-cli", ["-p", String(redis.port), ...flags], { input })
      : await tidekv(["cli", "--url", server.wsUrl(`/node/${fresh()}`), ...flags], { input });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return withoutTimings(r.stdout.toString("latin1"));
}

describe("tidekv cli prints like redis-cli", () => {
  for (const flags of [["--no-raw"], ["--raw"], ["-3", "--no-raw"], ["-3", "--raw"]]) {
    it(`a script through the interactive mode (${flags.join(" ")})`, async () => {
      await run("redis-cli", ["-p", String(redis.port), "FLUSHALL"]);
      const lines = [...SETUP, ...QUERIES];
      const expected = await viaRepl("redis", lines, flags);
      const actual = await viaRepl("tidekv", lines, flags);
      expect(actual).toBe(expected);
      // Not vacuous: the formats really differ between modes.
      if (flags.includes("--no-raw")) expect(actual).toMatch(/^"hello world"\n[\s\S]*^\(nil\)\n[\s\S]*^\(error\) WRONGTYPE /m);
      else expect(actual).toMatch(/^hello world\n[\s\S]*^WRONGTYPE [^\n]*\n\n/m);
    });
  }

  it("one-shot commands: formatted and raw (the default when stdout is a pipe)", async () => {
    await run("redis-cli", ["-p", String(redis.port), "FLUSHALL"]);
    const node = fresh();
    const setup = SETUP.join("\n") + "\n";
    await run("redis-cli", ["-p", String(redis.port)], { input: setup });
    await tidekv(["cli", "--url", server.wsUrl(`/node/${node}`)], { input: setup });
    const commands = [
      ["GET", "s"],
      ["GET", "missing"],
      ["LRANGE", "l", "0", "-1"],
      ["HGETALL", "h"],
      ["GET", "l"],
      ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
      ["INCR", "n"],
      ["SET", "spaced key", "a value with\nnewline"],
      ["GET", "spaced key"],
    ];
    for (const flags of [[], ["--no-raw"], ["-3", "--no-raw"]]) {
      for (const cmd of commands) {
        const want = await run("redis-cli", ["-p", String(redis.port), ...flags, ...cmd]);
        const got = await tidekv(["cli", "--url", server.wsUrl(`/node/${node}`), ...flags, ...cmd]);
        expect(got.stdout.toString("latin1"), `${flags.join(" ")} ${cmd.join(" ")}`).toBe(want.stdout.toString("latin1"));
        expect(got.code).toBe(want.code);
      }
    }
  }, 120_000);

  it("-e: an error reply goes to stderr with exit status 1; -x reads the last argument from stdin; -n selects a database", async () => {
    const url = server.wsUrl(`/node/${fresh()}`);
    await run("redis-cli", ["-p", String(redis.port), "RPUSH", "errlist", "x"]);
    await tidekv(["cli", "--url", url, "RPUSH", "errlist", "x"]);
    const want = await run("redis-cli", ["-p", String(redis.port), "-e", "GET", "errlist"]);
    const got = await tidekv(["cli", "--url", url, "-e", "GET", "errlist"]);
    expect(want.code).toBe(1);
    expect(got.code).toBe(1);
    expect(got.stderr).toBe(want.stderr);
    expect(got.stdout.toString()).toBe("");
    expect((await tidekv(["cli", "--url", url, "-x", "SET", "fromstdin"], { input: "piped\n" })).stdout.toString()).toBe("OK\n");
    expect((await tidekv(["cli", "--url", url, "--no-raw", "GET", "fromstdin"])).stdout.toString()).toBe('"piped\\n"\n');
    expect((await tidekv(["cli", "--url", url, "-n", "4", "SET", "indb4", "1"])).stdout.toString()).toBe("OK\n");
    expect((await tidekv(["cli", "--url", url, "GET", "indb4"])).stdout.toString()).toBe("\n");
    expect((await tidekv(["cli", "--url", url, "-n", "4", "GET", "indb4"])).stdout.toString()).toBe("1\n");
    // --token: on the URL and as AUTH default <token> (tidekv's default user takes any password for now).
    expect((await tidekv(["cli", "--url", url, "--token", "t0ken", "-3", "--no-raw", "GET", "indb4"])).stdout.toString()).toBe("(nil)\n");
  });

  it("a server that is not there: one line on stderr, exit status 1", async () => {
    const r = await tidekv(["cli", "--url", "ws://127.0.0.1:1/resp", "PING"]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toBe("");
    expect(r.stderr).toMatch(/^Could not connect to tidekv at ws:\/\/127\.0\.0\.1:1\/resp: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  });
});

describe("tidekv consistency-test", () => {
  it("reports 0 lost against a single node", async () => {
    const r = await tidekv(["consistency-test", "--url", server.wsUrl("/resp"), "--duration", "3", "--keys", "200", "--working-set", "20"], {
      timeoutMs: 60_000,
    });
    const out = r.stdout.toString();
    expect(r.stderr).toBe("");
    expect(r.code, out).toBe(0);
    // Errors (a dropped connection while a file watcher restarts the dev server) are
    // counted, not fatal; a lost acknowledged write is.
    const reports = out.split("\n").filter((l) => / R \(/.test(l));
    expect(reports.length).toBeGreaterThanOrEqual(2);
    for (const line of reports.slice(0, -1)) expect(line).toMatch(/^\d+ R \(\d+ err\) \| \d+ W \(\d+ err\) \| 0 lost \| \d+ noack$/);
    const summary = /^Summary: (\d+) R \((\d+) err\) \| (\d+) W \((\d+) err\) \| 0 lost \| \d+ noack$/.exec(reports.at(-1)!);
    expect(summary).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(50);
    expect(Number(summary![3])).toBeGreaterThan(50);
  });
});

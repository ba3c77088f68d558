/**
 * Differential tests: run the same commands on redis-server (the reference) and
 * on tidekv, and compare the replies byte for byte.
 *
 * Each run opens a fresh TCP connection to redis-server and a fresh WebSocket to
 * a brand-new tidekv node (`/node/diff-<name>-<random>`, so it starts empty),
 * sends FLUSHALL to both (and `HELLO 3` for RESP3 runs; neither reply is
 * compared), then sends the steps one at a time and compares the replies.
 * All mismatches are reported together, each with the command, redis's bytes
 * and tidekv's bytes (`\r\n` escaped).
 *
 * ## Usage (a test file under test/e2e/)
 *
 *   import { describe, it } from "vitest";
 *   import { useDifferentialServers, runDifferential, runDifferentialFile, parseScript } from "../support/differential.ts";
 *
 *   useDifferentialServers();          // beforeAll: starts redis-server + tidekv; afterAll: stops them
 *                                      // (options: { redisArgs: ["--proto-max-bulk-len", "16mb"], tidekv: {...} })
 *
 *   it("strings", () => runDifferential("strings", [
 *     { cmd: ["SET", "a", "1"] },
 *     { cmd: ["INCR", "a"] },
 *     { cmd: ["OBJECT", "ENCODING", "a"], compare: "type" },
 *   ], { protocols: [2, 3] }));
 *
 *   it("strings script", () => runDifferentialFile("test/e2e/scripts/strings.redis"));
 *
 * Runs share one redis-server (FLUSHALL at the start of each run), so do not
 * use `it.concurrent` with them.
 *
 * ## Compare modes (per step)
 *
 *   "bytes"     (default) the replies must be identical bytes
 *   "type"      only the reply type byte must match (`+ - : $ * _ , # % ~ ...`);
 *               for replies whose value legitimately differs (INFO, TIME, ids)
 *   "unordered" aggregates: same header and the same elements in any order
 *               (SMEMBERS, KEYS); a RESP3 map's entries are compared as
 *               key-value pairs; other replies: as "bytes"
 *   "pairs"     like "unordered", but a flat array is read as key-value pairs
 *               (HGETALL, CONFIG GET in RESP2; in RESP3 it is a map anyway)
 *   "ignore"    the command is sent, its reply is read, nothing is compared
 *
 * ## The text script format (`*.redis` files)
 *
 *   # a comment: lines whose first non-blank character is '#', and blank lines, are skipped
 *   SET greeting "hello world"        one command per line, redis-cli quoting:
 *   SET bin "\x00\xff\r\n"            "..." supports \" \\ \n \r \t \b \a \xHH (raw bytes)
 *   SET q 'it\'s'                     '...' is literal except \' ; as in redis-cli, a closing
 *                                     quote must end the argument (`"a"b` is an error)
 *   SET empty ""                      an empty argument
 *   INFO server ~type                 a trailing unquoted ~type / ~ignore / ~unordered / ~pairs / ~bytes
 *   SMEMBERS s ~unordered             sets the compare mode; quote it ("~type") to send it
 *
 * (The text on the right above is explanation, not part of the lines: there
 * are no trailing comments, a '#' after the command is an argument.)
 * Non-ASCII characters outside escapes are sent as UTF-8. The same script runs
 * once per protocol in `protocols`; a step's compare mode applies to all.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import {
  startRedisServer,
  startTidekv,
  repoRoot,
  type RedisServer,
  type TidekvOptions,
  type TidekvServer,
} from "./processes.ts";
import {
  RespTcpClient,
  RespWsClient,
  bytesEqual,
  showBytes,
  describeArgv,
  splitAggregate,
  type Arg,
  type RespClient,
} from "./resp-client.ts";

export type CompareMode = "bytes" | "type" | "unordered" | "pairs" | "ignore";

export interface Step {
  cmd: Arg[];
  compare?: CompareMode;
  /** Where the step came from (script line), for messages. */
  source?: string;
}

export type Protocol = 2 | 3;

export interface DifferentialTargets {
  /** redis-server's port on 127.0.0.1. */
  redisPort: number;
  /** The WebSocket URL of a fresh tidekv node with this name. */
  tidekvNodeUrl(name: string): string;
}

export interface DifferentialOptions {
  /** Protocols to run the script with; each gets its own fresh connections. Default [2, 3]. */
  protocols?: Protocol[];
  /** Servers to use; default: the ones set by useDifferentialServers / setDifferentialTargets. */
  targets?: DifferentialTargets;
  /** Per-reply timeout. Default 30 s. */
  timeoutMs?: number;
}

const COMPARE_MODES: readonly CompareMode[] = ["bytes", "type", "unordered", "pairs", "ignore"];

// ---------------------------------------------------------------------------
// Targets

let defaultTargets: DifferentialTargets | undefined;

/** Sets the servers runDifferential uses when no `targets` option is given. */
export function setDifferentialTargets(targets: DifferentialTargets | undefined): void {
  defaultTargets = targets;
}

/** Targets for a running redis-server and tidekv. */
export function targetsFor(redis: { port: number }, tidekv: { wsUrl(path: string): string }): DifferentialTargets {
  return {
    redisPort: redis.port,
    tidekvNodeUrl: (name) => tidekv.wsUrl(`/node/${encodeURIComponent(name)}`),
  };
}

/**
 * Registers vitest hooks in the current file/describe: beforeAll starts
 * redis-server and tidekv and makes them the default targets; afterAll stops
 * both. The returned object exposes the servers once beforeAll has run.
 */
export function useDifferentialServers(
  options: { redisArgs?: string[]; tidekv?: TidekvOptions } = {},
): { readonly redis: RedisServer; readonly tidekv: TidekvServer } {
  let redis: RedisServer | undefined;
  let tidekv: TidekvServer | undefined;
  beforeAll(async () => {
    // One after the other; afterAll stops whichever did start.
    redis = await startRedisServer({ args: options.redisArgs });
    tidekv = await startTidekv(options.tidekv);
    setDifferentialTargets(targetsFor(redis, tidekv));
  });
  afterAll(async () => {
    setDifferentialTargets(undefined);
    await Promise.all([redis?.stop(), tidekv?.stop()]);
  });
  return {
    get redis() {
      if (!redis) throw new Error("redis-server is not started (use it inside tests, after beforeAll)");
      return redis;
    },
    get tidekv() {
      if (!tidekv) throw new Error("tidekv is not started (use it inside tests, after beforeAll)");
      return tidekv;
    },
  };
}

// ---------------------------------------------------------------------------
// Running

interface Mismatch {
  index: number;
  step: Step;
  expected: Uint8Array;
  actual: Uint8Array;
  detail?: string;
}

function typeName(b: number | undefined): string {
  return b === undefined ? "(empty)" : JSON.stringify(String.fromCharCode(b));
}

function compareReplies(mode: CompareMode, expected: Uint8Array, actual: Uint8Array): string | undefined {
  switch (mode) {
    case "ignore":
      return undefined;
    case "type":
      return expected[0] === actual[0] ? undefined : `reply types differ: ${typeName(expected[0])} vs ${typeName(actual[0])}`;
    case "unordered":
    case "pairs": {
      const e = splitAggregate(expected);
      const a = splitAggregate(actual);
      if (e && a) {
        if (!bytesEqual(e.header, a.header)) return "aggregate headers differ";
        const byPairs = mode === "pairs" || expected[0] === 0x25; /* % map */
        const keys = (els: Uint8Array[]) => {
          const out: string[] = [];
          const step = byPairs ? 2 : 1;
          for (let i = 0; i < els.length; i += step) {
            out.push(els.slice(i, i + step).map((x) => Buffer.from(x).toString("latin1")).join("\u0000"));
          }
          return out.sort();
        };
        const es = keys(e.elements);
        const as = keys(a.elements);
        return es.length === as.length && es.every((x, i) => x === as[i])
          ? undefined
          : `elements differ (compared in any order${byPairs ? ", as key-value pairs" : ""})`;
      }
      return bytesEqual(expected, actual) ? undefined : "replies differ";
    }
    case "bytes":
      return bytesEqual(expected, actual) ? undefined : "replies differ";
  }
}

/** "first difference at byte N: ...context..." for long replies that differ in one spot. */
function firstDifference(expected: Uint8Array, actual: Uint8Array): string {
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  const from = Math.max(0, i - 20);
  const ctx = (b: Uint8Array) => (i < b.length ? showBytes(b.subarray(from, i + 40), 60) : "(ends here)");
  return `first difference at byte ${i}: redis ${from > 0 ? "..." : ""}${ctx(expected)} vs tidekv ${from > 0 ? "..." : ""}${ctx(actual)}`;
}

function runName(name: string, protocol: Protocol): string {
  const slug = name.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 60);
  return `diff-${slug}-resp${protocol}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

async function prepare(client: RespClient, protocol: Protocol, label: string): Promise<void> {
  const flush = await client.command("FLUSHALL");
  if (flush.type === "error") throw new Error(`${label}: FLUSHALL failed: ${flush.value}`);
  if (protocol === 3) {
    const hello = await client.command("HELLO", "3");
    if (hello.type === "error") throw new Error(`${label}: HELLO 3 failed: ${hello.value}`);
  }
}

function formatMismatches(name: string, protocol: Protocol, steps: readonly Step[], mismatches: Mismatch[], nodeName: string): string {
  const lines = [
    `differential "${name}" (RESP${protocol}): ${mismatches.length} of ${steps.length} replies differ (tidekv node ${nodeName})`,
  ];
  for (const m of mismatches.slice(0, 10)) {
    lines.push(
      "",
      `  step ${m.index + 1}${m.step.source ? ` (${m.step.source})` : ""}: ${describeArgv(m.step.cmd)}` +
        (m.step.compare && m.step.compare !== "bytes" ? `   [~${m.step.compare}]` : ""),
      `    redis : ${showBytes(m.expected)}`,
      `    tidekv: ${showBytes(m.actual)}`,
    );
    if (m.detail && m.detail !== "replies differ") lines.push(`    (${m.detail})`);
    else if (m.detail && Math.max(m.expected.length, m.actual.length) > 80) lines.push(`    ${firstDifference(m.expected, m.actual)}`);
  }
  if (mismatches.length > 10) lines.push("", `  ... and ${mismatches.length - 10} more`);
  return lines.join("\n");
}

/** Runs `steps` on both servers once per protocol; throws a readable diff on any mismatch. */
export async function runDifferential(name: string, steps: readonly Step[], options: DifferentialOptions = {}): Promise<void> {
  const targets = options.targets ?? defaultTargets;
  if (!targets) {
    throw new Error("runDifferential: no servers; call useDifferentialServers() in the file, or pass `targets`");
  }
  for (const step of steps) {
    if (!Array.isArray(step.cmd) || step.cmd.length === 0) throw new Error(`runDifferential("${name}"): empty command in a step`);
    if (step.compare && !COMPARE_MODES.includes(step.compare)) throw new Error(`runDifferential("${name}"): unknown compare mode ${step.compare}`);
  }
  const failures: string[] = [];
  for (const protocol of options.protocols ?? [2, 3]) {
    const nodeName = runName(name, protocol);
    const clientOptions = { timeoutMs: options.timeoutMs ?? 30_000 };
    const redis = new RespTcpClient(targets.redisPort, "127.0.0.1", clientOptions);
    const tidekv = new RespWsClient(targets.tidekvNodeUrl(nodeName), clientOptions);
    try {
      await redis.connect();
      await tidekv.connect();
      await prepare(redis, protocol, "redis-server");
      await prepare(tidekv, protocol, `tidekv node ${nodeName}`);
      const mismatches: Mismatch[] = [];
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const where = `step ${i + 1}${step.source ? ` (${step.source})` : ""}: ${describeArgv(step.cmd)}`;
        const expected = await redis.commandRaw(...step.cmd).catch((e: Error) => {
          throw new Error(`differential "${name}" (RESP${protocol}) ${where}: redis-server: ${e.message}`);
        });
        const actual = await tidekv.commandRaw(...step.cmd).catch((e: Error) => {
          throw new Error(
            `differential "${name}" (RESP${protocol}) ${where}: tidekv: ${e.message}\n    redis : ${showBytes(expected)}` +
              (mismatches.length ? `\n\nearlier mismatches:\n${formatMismatches(name, protocol, steps, mismatches, nodeName)}` : ""),
          );
        });
        const detail = compareReplies(step.compare ?? "bytes", expected, actual);
        if (detail) mismatches.push({ index: i, step, expected, actual, detail });
      }
      if (mismatches.length) failures.push(formatMismatches(name, protocol, steps, mismatches, nodeName));
    } catch (e) {
      // A failed connection or a missing reply ends this protocol's run; the
      // other protocols still run, and everything is reported together.
      const msg = e instanceof Error ? e.message : String(e);
      failures.push(msg.startsWith("differential ") ? msg : `differential "${name}" (RESP${protocol}): ${msg}`);
    } finally {
      await Promise.all([redis.close(500), tidekv.close(500)]);
    }
  }
  if (failures.length) {
    const err = new Error(failures.join("\n\n"));
    err.stack = err.message; // the diff is the useful part, not our stack
    throw err;
  }
}

// ---------------------------------------------------------------------------
// The text script format

const textEncoder = new TextEncoder();

function isSpace(c: string): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\v" || c === "\f";
}

function pushUtf8(out: number[], ch: string): void {
  for (const b of textEncoder.encode(ch)) out.push(b);
}

/**
 * Splits one line like redis-cli (sdssplitargs). Each token tells whether it
 * was quoted. Throws on unbalanced quotes or a quote not followed by a space.
 */
export function splitArgs(line: string): { bytes: Uint8Array; quoted: boolean }[] {
  const tokens: { bytes: Uint8Array; quoted: boolean }[] = [];
  const chars = Array.from(line); // by code point
  let i = 0;
  const n = chars.length;
  while (i < n) {
    while (i < n && isSpace(chars[i])) i++;
    if (i >= n) break;
    const out: number[] = [];
    let quoted = false;
    let inDq = false;
    let inSq = false;
    for (;;) {
      if (inDq) {
        if (i >= n) throw new Error("unbalanced double quote");
        const c = chars[i];
        if (c === "\\" && chars[i + 1] === "x" && /^[0-9a-fA-F]{2}$/.test((chars[i + 2] ?? "") + (chars[i + 3] ?? ""))) {
          out.push(parseInt(chars[i + 2] + chars[i + 3], 16));
          i += 4;
        } else if (c === "\\" && i + 1 < n) {
          const e = chars[i + 1];
          const map: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, a: 7 };
          if (e in map) out.push(map[e]);
          else pushUtf8(out, e);
          i += 2;
        } else if (c === '"') {
          if (i + 1 < n && !isSpace(chars[i + 1])) throw new Error("closing quote must be followed by a space");
          inDq = false;
          i++;
          break;
        } else {
          pushUtf8(out, c);
          i++;
        }
      } else if (inSq) {
        if (i >= n) throw new Error("unbalanced single quote");
        const c = chars[i];
        if (c === "\\" && chars[i + 1] === "'") {
          out.push(0x27);
          i += 2;
        } else if (c === "'") {
          if (i + 1 < n && !isSpace(chars[i + 1])) throw new Error("closing quote must be followed by a space");
          inSq = false;
          i++;
          break;
        } else {
          pushUtf8(out, c);
          i++;
        }
      } else {
        if (i >= n) break;
        const c = chars[i];
        if (isSpace(c)) break;
        if (c === '"') {
          inDq = quoted = true;
          i++;
        } else if (c === "'") {
          inSq = quoted = true;
          i++;
        } else {
          pushUtf8(out, c);
          i++;
        }
      }
    }
    tokens.push({ bytes: Uint8Array.from(out), quoted });
  }
  return tokens;
}

/** Parses the text script format (see the top of this file). `origin` names the source in messages. */
export function parseScript(text: string, origin = "script"): Step[] {
  const steps: Step[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const source = `${origin}:${ln + 1}`;
    let tokens;
    try {
      tokens = splitArgs(line);
    } catch (e) {
      throw new Error(`${source}: ${(e as Error).message}: ${line}`);
    }
    let compare: CompareMode | undefined;
    const last = tokens[tokens.length - 1];
    if (last && !last.quoted && last.bytes[0] === 0x7e /* ~ */) {
      const mode = new TextDecoder().decode(last.bytes.subarray(1));
      if (!COMPARE_MODES.includes(mode as CompareMode)) {
        throw new Error(`${source}: unknown compare marker ~${mode} (use ${COMPARE_MODES.map((m) => "~" + m).join(", ")}, or quote the argument)`);
      }
      compare = mode as CompareMode;
      tokens.pop();
    }
    if (tokens.length === 0) throw new Error(`${source}: a compare marker without a command`);
    // Plain ASCII arguments stay strings so messages read naturally.
    const cmd: Arg[] = tokens.map((t) => (t.bytes.every((b) => b < 0x80) ? new TextDecoder().decode(t.bytes) : t.bytes));
    steps.push(compare ? { cmd, compare, source } : { cmd, source });
  }
  return steps;
}

/** Reads a script file (path relative to the repo root, or absolute) and runs it. */
export async function runDifferentialFile(path: string, options: DifferentialOptions = {}): Promise<void> {
  const full = isAbsolute(path) ? path : join(repoRoot, path);
  const steps = parseScript(readFileSync(full, "utf8"), path);
  await runDifferential(path, steps, options);
}

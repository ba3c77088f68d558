import type { Sql } from "../store/sql.ts";
import { globMatch } from "../util/glob.ts";

/**
 * Configuration parameters (CONFIG GET/SET), with Redis 7.0's names, aliases,
 * defaults, value syntax and error texts (src/config.c). A node has no config
 * file: values set with CONFIG SET persist in SQL (`meta`), so they survive
 * restarts and evictions.
 *
 * Where tidekv's default differs from Redis's on purpose, the entry says why.
 */
type Kind =
  | { type: "bool" }
  /**
   * A number, parsed as Redis parses numeric configs: `memory` accepts unit
   * suffixes (memtoull, never a sign), `percent` also accepts "N%", plain ones
   * take a strict integer (string2ll). `unsigned` bounds are checked the way
   * Redis checks size_t/unsigned configs (a negative number is huge).
   */
  | { type: "number"; min: bigint; max: bigint; unsigned: boolean; memory: boolean; percent?: boolean; clamp?: readonly [bigint, bigint] }
  | { type: "enum"; values: readonly string[] }
  /** A free-form string, optionally validated/normalized by `special`. */
  | { type: "string" };

export interface ConfigParam {
  readonly name: string;
  readonly alias?: string;
  readonly kind: Kind;
  readonly default: string;
  readonly immutable?: boolean;
  /** Redis's PROTECTED_CONFIG: refused while enable-protected-configs is "no" (its only value here). */
  readonly protected?: boolean;
  /** Validates and normalizes a string value; returns the stored form or an error text. */
  readonly special?: (value: string, current: string) => { value: string } | { error: string };
}

const MB = 1024 * 1024;
const INT_MIN = -2147483648n;
const INT_MAX = 2147483647n;
const UINT_MAX = 4294967295n;
const LONG_MAX = 9223372036854775807n;
const ULLONG_MAX = 18446744073709551615n;

const bool = (name: string, def: "yes" | "no", extra: Partial<ConfigParam> = {}): ConfigParam => ({ name, kind: { type: "bool" }, default: def, ...extra });
const num = (
  name: string, def: number | bigint, min: bigint, max: bigint,
  opts: { unsigned?: boolean; memory?: boolean; percent?: boolean; clamp?: readonly [bigint, bigint] } = {},
  extra: Partial<ConfigParam> = {},
): ConfigParam => ({
  name,
  kind: { type: "number", min, max, unsigned: opts.unsigned ?? false, memory: opts.memory ?? false, percent: opts.percent, clamp: opts.clamp },
  default: String(def),
  ...extra,
});
/** createIntConfig / createLongLongConfig / createTimeTConfig. */
const int = (name: string, def: number, min: bigint, max: bigint, extra: Partial<ConfigParam> = {}) => num(name, def, min, max, {}, extra);
/** createSizeTConfig / createUIntConfig / createULongConfig with INTEGER_CONFIG. */
const uint = (name: string, def: number, min: bigint, max: bigint, extra: Partial<ConfigParam> = {}) => num(name, def, min, max, { unsigned: true }, extra);
/** Numeric configs with MEMORY_CONFIG. */
const memory = (name: string, def: number, min: bigint, max: bigint, unsigned: boolean, extra: Partial<ConfigParam> = {}) => num(name, def, min, max, { unsigned, memory: true }, extra);
const oneOf = (name: string, def: string, values: readonly string[], extra: Partial<ConfigParam> = {}): ConfigParam => ({ name, kind: { type: "enum", values }, default: def, ...extra });
const str = (name: string, def: string, extra: Partial<ConfigParam> = {}): ConfigParam => ({ name, kind: { type: "string" }, default: def, ...extra });

const PROTECTED_ACTION = ["no", "yes", "local"] as const;

export const CONFIG_PARAMS: readonly ConfigParam[] = [
  // Protocol and client limits (DESIGN.md invariant 7). tidekv's defaults and
  // maxima are smaller than Redis's (512mb, 1gb): a Durable Object has 128 MB
  // of memory and a WebSocket message is at most 32 MiB.
  memory("proto-max-bulk-len", 16 * MB, 1024n * 1024n, 512n * 1024n * 1024n, false),
  memory("client-query-buffer-limit", 40 * MB, 1024n * 1024n, 1024n * 1024n * 1024n, true),
  uint("maxclients", 10000, 1n, UINT_MAX),
  int("databases", 16, 1n, INT_MAX, { immutable: true }),
  int("timeout", 0, 0n, INT_MAX),
  int("tcp-keepalive", 300, 0n, INT_MAX),
  int("tcp-backlog", 511, 0n, INT_MAX, { immutable: true }),
  // Redis caps hz at 1..500 once set (updateHZ).
  num("hz", 10, 0n, INT_MAX, { clamp: [1n, 500n] }),
  int("io-threads", 1, 1n, 128n, { immutable: true }),
  bool("daemonize", "no", { immutable: true }),
  bool("protected-mode", "yes"),
  oneOf("enable-protected-configs", "no", PROTECTED_ACTION, { immutable: true }),
  oneOf("enable-debug-command", "no", PROTECTED_ACTION, { immutable: true }),
  oneOf("enable-module-command", "no", PROTECTED_ACTION, { immutable: true }),
  memory("maxmemory", 0, 0n, ULLONG_MAX, true),
  oneOf("maxmemory-policy", "noeviction", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]),
  int("maxmemory-samples", 5, 1n, INT_MAX),
  num("maxmemory-clients", 0, -100n, LONG_MAX, { memory: true, percent: true }),
  int("lfu-log-factor", 10, 0n, INT_MAX),
  int("lfu-decay-time", 1, 0n, INT_MAX),
  bool("activerehashing", "yes"),
  bool("appendonly", "no"),
  oneOf("appendfsync", "everysec", ["always", "everysec", "no"]),
  str("appendfilename", "appendonly.aof", { immutable: true }),
  str("save", "", { special: normalizeSave }),
  str("dir", "/", { protected: true }),
  str("dbfilename", "dump.rdb", { protected: true }),
  // A node has no TCP listener of its own: port and bind only describe it.
  int("port", 6379, 0n, 65535n, { immutable: true }),
  str("bind", "", { immutable: true }),
  oneOf("loglevel", "notice", ["debug", "verbose", "notice", "warning"]),
  int("slowlog-log-slower-than", 10000, -1n, LONG_MAX),
  uint("slowlog-max-len", 128, 0n, LONG_MAX),
  bool("latency-tracking", "yes"),
  int("busy-reply-threshold", 5000, 0n, LONG_MAX, { alias: "lua-time-limit" }),
  str("notify-keyspace-events", "", { special: normalizeKeyspaceEvents }),
  bool("lazyfree-lazy-eviction", "no"),
  bool("lazyfree-lazy-expire", "no"),
  bool("lazyfree-lazy-server-del", "no"),
  bool("lazyfree-lazy-user-del", "no"),
  bool("lazyfree-lazy-user-flush", "no"),
  int("active-expire-effort", 1, 1n, 10n),
  // Encodings reported by OBJECT ENCODING.
  uint("hash-max-listpack-entries", 512, 0n, LONG_MAX, { alias: "hash-max-ziplist-entries" }),
  memory("hash-max-listpack-value", 64, 0n, LONG_MAX, true, { alias: "hash-max-ziplist-value" }),
  int("list-max-listpack-size", -2, INT_MIN, INT_MAX, { alias: "list-max-ziplist-size" }),
  int("list-compress-depth", 0, 0n, INT_MAX),
  uint("set-max-intset-entries", 512, 0n, LONG_MAX),
  // Not in Redis 7.0 (added in 7.2, where small sets use listpacks).
  uint("set-max-listpack-entries", 128, 0n, LONG_MAX),
  memory("set-max-listpack-value", 64, 0n, LONG_MAX, true),
  uint("zset-max-listpack-entries", 128, 0n, LONG_MAX, { alias: "zset-max-ziplist-entries" }),
  memory("zset-max-listpack-value", 64, 0n, LONG_MAX, true, { alias: "zset-max-ziplist-value" }),
  memory("hll-sparse-max-bytes", 3000, 0n, LONG_MAX, true),
  memory("stream-node-max-bytes", 4096, 0n, LONG_MAX, true),
  int("stream-node-max-entries", 100, 0n, LONG_MAX),
  // Replication.
  memory("repl-backlog-size", 1 * MB, 1n, LONG_MAX, false),
  int("repl-backlog-ttl", 3600, 0n, LONG_MAX),
  int("repl-ping-replica-period", 10, 1n, INT_MAX, { alias: "repl-ping-slave-period" }),
  int("repl-timeout", 60, 1n, INT_MAX),
  bool("repl-diskless-sync", "yes"),
  int("min-replicas-to-write", 0, 0n, INT_MAX, { alias: "min-slaves-to-write" }),
  int("min-replicas-max-lag", 10, 0n, INT_MAX, { alias: "min-slaves-max-lag" }),
  bool("replica-read-only", "yes", { alias: "slave-read-only" }),
  bool("replica-serve-stale-data", "yes", { alias: "slave-serve-stale-data" }),
  bool("replica-lazy-flush", "no", { alias: "slave-lazy-flush" }),
  int("replica-priority", 100, 0n, INT_MAX, { alias: "slave-priority" }),
  str("masterauth", ""),
  str("masteruser", ""),
  str("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", { special: normalizeOutputBufferLimit }),
  // Cluster. Nodes are reached by name (Durable Object names), not by IP,
  // hence "hostname" where Redis defaults to "ip".
  bool("cluster-enabled", "no", { immutable: true }),
  int("cluster-node-timeout", 15000, 0n, LONG_MAX),
  oneOf("cluster-preferred-endpoint-type", "hostname", ["ip", "hostname", "unknown-endpoint"]),
  // Auth.
  str("requirepass", ""),
];

const MEMORY_UNITS: Record<string, bigint> = { "": 1n, b: 1n, k: 1000n, kb: 1024n, m: 1000n ** 2n, mb: 1024n ** 2n, g: 1000n ** 3n, gb: 1024n ** 3n };

/** Parses "100mb", "1gb", "1024" as Redis's memtoull does (no sign); null when invalid. */
export function parseMemory(value: string): number | null {
  const n = memtoull(value);
  return n === null ? null : Number(n);
}

function memtoull(value: string): bigint | null {
  const match = /^(\d*)(.*)$/s.exec(value)!;
  const unit = MEMORY_UNITS[match[2].toLowerCase()];
  if (unit === undefined) return null;
  const n = match[1] === "" ? 0n : BigInt(match[1]);
  return (n * unit) & ULLONG_MAX; // Redis multiplies in unsigned 64-bit arithmetic
}

/** Redis's string2ll: optional '-', no leading zeros, no '+', no spaces, 64-bit range. */
function string2ll(value: string): bigint | null {
  if (!/^(0|-?[1-9][0-9]*)$/.test(value)) return null;
  const n = BigInt(value);
  return n < -(LONG_MAX + 1n) || n > LONG_MAX ? null : n;
}

export class Config {
  private readonly params = new Map<string, ConfigParam>();
  private readonly values = new Map<string, string>();

  constructor(private readonly sql: Sql) {
    for (const param of CONFIG_PARAMS) {
      this.params.set(param.name, param);
      if (param.alias) this.params.set(param.alias, param);
      this.values.set(param.name, param.default);
    }
    for (const row of sql.all<{ name: string; value: string }>(`SELECT name, value FROM meta WHERE name LIKE 'config:%'`)) {
      const name = String(row.name).slice("config:".length);
      if (this.values.has(name)) this.values.set(name, String(row.value));
    }
  }

  /** The value as CONFIG GET prints it. */
  get(name: string): string {
    const param = this.params.get(name);
    if (!param) throw new Error(`unknown config parameter ${name}`);
    return this.values.get(param.name)!;
  }

  int(name: string): number {
    return Number(this.get(name));
  }

  /**
   * Sets a value the node derives itself rather than one a client sets
   * (cluster-enabled is "yes" while the node holds a cluster topology). In
   * memory only, and allowed for immutable parameters.
   */
  setDerived(name: string, value: string): void {
    const param = this.params.get(name);
    if (!param) throw new Error(`unknown config parameter ${name}`);
    this.values.set(param.name, value);
  }

  bool(name: string): boolean {
    return this.get(name) === "yes";
  }

  /** Whether `name` (or an alias, any case) is a parameter. */
  has(name: string): boolean {
    return this.params.has(name.toLowerCase());
  }

  /**
   * CONFIG GET: every (name, value) whose name or alias matches one of the
   * patterns, once each. A pattern without glob characters is looked up
   * directly and answered under the name as given, as Redis does.
   */
  match(patterns: readonly Uint8Array[]): [string, string][] {
    const out = new Map<string, [string, string]>(); // lowercase name -> [shown name, value]
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    for (const pattern of patterns) {
      const text = decoder.decode(pattern);
      if (!/[*?[]/.test(text)) {
        const lower = text.toLowerCase();
        const exact = this.params.get(lower);
        if (exact && !out.has(lower)) out.set(lower, [text, this.values.get(exact.name)!]);
        continue;
      }
      for (const param of CONFIG_PARAMS) {
        for (const name of param.alias ? [param.name, param.alias] : [param.name]) {
          if (out.has(name)) continue;
          if (globMatch(pattern, encoder.encode(name), true)) out.set(name, [name, this.values.get(param.name)!]);
        }
      }
    }
    return [...out.values()];
  }

  /**
   * CONFIG SET name value [name value ...]: all or nothing, with Redis's errors
   * and their precedence (the first bad name wins, then the first bad value).
   * Returns null on success or the error text.
   */
  set(pairs: readonly [string, string][]): string | null {
    const seen = new Set<string>();
    const targets: [string, ConfigParam][] = [];
    for (const [rawName] of pairs) {
      const name = rawName.toLowerCase();
      const param = this.params.get(name);
      if (!param) return `ERR Unknown option or number of arguments for CONFIG SET - '${rawName}'`;
      const failed = (why: string) => `ERR CONFIG SET failed (possibly related to argument '${rawName}') - ${why}`;
      if (param.immutable) return failed("can't set immutable config");
      if (param.protected) return failed("can't set protected config");
      // Redis registers an alias as a config of its own: `alias v1 name v2` is not a duplicate.
      if (seen.has(name)) return failed("duplicate parameter");
      seen.add(name);
      targets.push([name, param]);
    }
    const accepted: [ConfigParam, string][] = [];
    for (let i = 0; i < pairs.length; i++) {
      const [name, param] = targets[i];
      const normalized = normalize(param, pairs[i][1], this.values.get(param.name)!);
      if ("error" in normalized) return `ERR CONFIG SET failed (possibly related to argument '${name}') - ${normalized.error}`;
      accepted.push([param, normalized.value]);
    }
    for (const [param, value] of accepted) {
      this.values.set(param.name, value);
      this.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, `config:${param.name}`, value);
    }
    return null;
  }
}

function normalize(param: ConfigParam, value: string, current: string): { value: string } | { error: string } {
  const kind = param.kind;
  switch (kind.type) {
    case "bool": {
      const v = value.toLowerCase();
      if (v !== "yes" && v !== "no") return { error: "argument must be 'yes' or 'no'" };
      return { value: v };
    }
    case "number": {
      let n: bigint | null = null;
      let percent = false;
      if (kind.memory) n = memtoull(value);
      if (n === null && kind.percent && value.length > 1 && value.endsWith("%")) {
        const p = string2ll(value.slice(0, -1));
        if (p !== null && p >= 0n) {
          n = -p;
          percent = true;
        }
      }
      if (n === null && !kind.memory && !kind.percent) n = string2ll(value);
      if (n === null) {
        return { error: kind.memory ? (kind.percent ? "argument must be a memory or percent value" : "argument must be a memory value") : "argument couldn't be parsed into an integer" };
      }
      if (kind.unsigned) {
        const u = n < 0n ? n + ULLONG_MAX + 1n : n;
        if (u > kind.max || u < kind.min) return { error: `argument must be between ${kind.min} and ${kind.max} inclusive` };
        n = u;
      } else if (percent) {
        if (n < kind.min) return { error: `percentage argument must be less or equal to ${-kind.min}` };
      } else {
        if (n > LONG_MAX) n -= ULLONG_MAX + 1n; // memtoull's result seen as a long long
        if (n > kind.max || n < kind.min) return { error: `argument must be between ${kind.min} and ${kind.max} inclusive` };
      }
      if (kind.clamp) n = n < kind.clamp[0] ? kind.clamp[0] : n > kind.clamp[1] ? kind.clamp[1] : n;
      return { value: percent ? `${-n}%` : String(n) };
    }
    case "enum": {
      const v = value.toLowerCase();
      if (!kind.values.includes(v)) return { error: `argument(s) must be one of the following: ${kind.values.join(", ")}` };
      return { value: v };
    }
    case "string":
      return param.special ? param.special(value, current) : { value };
  }
}

/** Splits a multi-argument config value (save, client-output-buffer-limit) into words. */
function words(value: string): string[] {
  return value.split(/[ \t\r\n]+/).filter((w) => w !== "");
}

/** `save "<seconds> <changes> ..."`; an empty value disables snapshots (which tidekv never takes anyway). */
function normalizeSave(value: string): { value: string } | { error: string } {
  const args = words(value);
  const invalid = { error: "Invalid save parameters" };
  if (args.length % 2 === 1) return invalid;
  const out: string[] = [];
  for (let j = 0; j < args.length; j++) {
    if (!/^[+-]?\d+$/.test(args[j])) return invalid;
    const n = BigInt(args[j]);
    if ((j % 2 === 0 && n < 1n) || (j % 2 === 1 && n < 0n)) return invalid;
    out.push(String(n));
  }
  return { value: out.join(" ") };
}

const KEYSPACE_EVENT_FLAGS: Record<string, number> = {
  K: 1 << 0, E: 1 << 1, g: 1 << 2, $: 1 << 3, l: 1 << 4, s: 1 << 5, h: 1 << 6, z: 1 << 7,
  x: 1 << 8, e: 1 << 9, t: 1 << 10, m: 1 << 11, d: 1 << 13, n: 1 << 14,
};
const NOTIFY_ALL = KEYSPACE_EVENT_FLAGS.g | KEYSPACE_EVENT_FLAGS.$ | KEYSPACE_EVENT_FLAGS.l | KEYSPACE_EVENT_FLAGS.s |
  KEYSPACE_EVENT_FLAGS.h | KEYSPACE_EVENT_FLAGS.z | KEYSPACE_EVENT_FLAGS.x | KEYSPACE_EVENT_FLAGS.e |
  KEYSPACE_EVENT_FLAGS.t | KEYSPACE_EVENT_FLAGS.d;

/** notify-keyspace-events: Redis's keyspaceEventsStringToFlags + keyspaceEventsFlagsToString. */
function normalizeKeyspaceEvents(value: string): { value: string } | { error: string } {
  let flags = 0;
  for (const c of value) {
    if (c === "A") flags |= NOTIFY_ALL;
    else if (c in KEYSPACE_EVENT_FLAGS) flags |= KEYSPACE_EVENT_FLAGS[c];
    else return { error: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'." };
  }
  let out = "";
  if ((flags & NOTIFY_ALL) === NOTIFY_ALL) out += "A";
  else for (const c of "g$lshzxetdn") if (flags & KEYSPACE_EVENT_FLAGS[c]) out += c;
  for (const c of "KEm") if (flags & KEYSPACE_EVENT_FLAGS[c]) out += c;
  return { value: out };
}

const OBUF_CLASSES = ["normal", "slave", "pubsub"] as const;

/** client-output-buffer-limit: `<class> <hard> <soft> <seconds>` groups merged into the current three classes. */
function normalizeOutputBufferLimit(value: string, current: string): { value: string } | { error: string } {
  const args = words(value);
  if (args.length % 4 !== 0) return { error: "Wrong number of arguments in buffer limit configuration." };
  const limits = new Map<string, string>();
  const existing = words(current);
  for (let j = 0; j < existing.length; j += 4) limits.set(existing[j], existing.slice(j + 1, j + 4).join(" "));
  for (let j = 0; j < args.length; j += 4) {
    let cls = args[j].toLowerCase();
    if (cls === "replica") cls = "slave";
    if (!(OBUF_CLASSES as readonly string[]).includes(cls)) return { error: "Invalid client class specified in buffer limit configuration." };
    const hard = memtoull(args[j + 1]);
    const soft = memtoull(args[j + 2]);
    const seconds = /^[+-]?\d+$/.test(args[j + 3]) ? BigInt(args[j + 3]) : -1n;
    if (hard === null || soft === null || seconds < 0n) {
      return { error: "Error in hard, soft or soft_seconds setting in buffer limit configuration." };
    }
    limits.set(cls, `${hard} ${soft} ${seconds}`);
  }
  return { value: OBUF_CLASSES.map((cls) => `${cls} ${limits.get(cls)}`).join(" ") };
}

import {
  array,
  bulk,
  error,
  integer,
  NULL,
  OK,
  ONE,
  simple,
  ZERO,
  type Reply,
} from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { CommandError, Errors, invalidExpire } from "../engine/errors.ts";
import { KeyType, TYPE_NAMES, type KeyRecord } from "../engine/keyspace.ts";
import { globMatch } from "../util/glob.ts";
import { hashEncoding } from "./hash.ts";
import { parseInt64 } from "../util/numbers.ts";
import type { HandlerTable } from "./spec.ts";

/**
 * The generic (keyspace) group: DEL, UNLINK, EXISTS, TYPE, RENAME(NX), COPY,
 * MOVE, KEYS, SCAN, RANDOMKEY, the EXPIRE family, TTL family, PERSIST, TOUCH
 * and OBJECT, with Redis 7.0's replies, errors and replication effects
 * (db.c, expire.c, object.c).
 */

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
/** Keys read from SQL per query by KEYS and SCAN (bounds memory: a row carries its inline value). */
const PAGE = 128;

const OUT_OF_INT_RANGE = `ERR value is out of range, value must between ${INT32_MIN} and ${INT32_MAX}`;

// ---- argument helpers --------------------------------------------------------

/** Redis getIntFromObjectOrReply (with the default messages). */
function intArg(call: CommandCall, i: number): number {
  const v = parseInt64(call.argv[i]);
  if (v === null) throw new CommandError(Errors.notInteger);
  if (v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX)) throw new CommandError(OUT_OF_INT_RANGE);
  return Number(v);
}

/** A db index as COPY's DB and MOVE take it: an int, then Redis's selectDb range check. */
function dbArg(call: CommandCall, i: number): number {
  const db = intArg(call, i);
  if (db < 0 || db >= call.server.config.int("databases")) throw new CommandError(Errors.dbIndexOutOfRange);
  return db;
}

/** Redis getLongFromObjectOrReply. */
function longArg(call: CommandCall, i: number): bigint {
  const v = parseInt64(call.argv[i]);
  if (v === null) throw new CommandError(Errors.notInteger);
  return v;
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const ULONG_MAX = 18446744073709551615n;

/**
 * Redis parseScanCursorOrReply: strtoul base 10 over the whole argument, no
 * leading space; a sign is accepted ("-1" wraps to ULONG_MAX) and the empty
 * string is cursor 0, as strtoul has it. Returns the cursor as a bigint.
 */
export function parseScanCursor(arg: Uint8Array): bigint | null {
  if (arg.length === 0) return 0n;
  if (isSpace(arg[0])) return null;
  let i = 0;
  let negative = false;
  if (arg[0] === 0x2b /* + */ || arg[0] === 0x2d /* - */) {
    negative = arg[0] === 0x2d;
    i = 1;
  }
  if (i === arg.length) return null;
  let v = 0n;
  for (; i < arg.length; i++) {
    const c = arg[i];
    if (c < 0x30 || c > 0x39) return null;
    v = v * 10n + BigInt(c - 0x30);
    if (v > ULONG_MAX) return null; // ERANGE
  }
  return negative && v !== 0n ? ULONG_MAX + 1n - v : v;
}

/** Whether `pattern` has glob syntax; a plain pattern names at most one key. */
function isGlob(pattern: Uint8Array): boolean {
  for (const c of pattern) if (c === 0x2a || c === 0x3f || c === 0x5b || c === 0x5c) return true;
  return false;
}

const isStar = (pattern: Uint8Array) => pattern.length === 1 && pattern[0] === 0x2a;

function helpReply(call: CommandCall, lines: readonly string[]): Reply {
  const name = call.str(0).toUpperCase();
  return array([
    simple(`${name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`),
    ...lines.map(simple),
    simple("HELP"),
    simple("    Prints this help."),
  ]);
}

// ---- OBJECT ENCODING -----------------------------------------------------------

/**
 * How OBJECT ENCODING names a key's representation: one function per type.
 * Groups whose Redis encoding depends on their contents (sets: intset or
 * hashtable; sorted sets: listpack or skiplist by entries and member length)
 * replace their type's default with registerObjectEncoding(type, fn) when
 * their module loads (safe inside an import cycle with this module).
 */
export type ObjectEncoding = (call: CommandCall, record: KeyRecord) => string;

// `var`, not `const`: a group module that imports this one inside an import
// cycle may register before this module's body has run.
// deno-lint-ignore no-var
var encodings: Map<KeyType, ObjectEncoding> | undefined;

/** Sets how OBJECT ENCODING names `type` (replaces the default below). */
export function registerObjectEncoding(type: KeyType, fn: ObjectEncoding): void {
  (encodings ??= new Map()).set(type, fn);
}

function registerDefault(type: KeyType, fn: ObjectEncoding): void {
  if (!(encodings ??= new Map()).has(type)) encodings.set(type, fn);
}

/** OBJECT ENCODING's answer for a live key. */
export function objectEncoding(call: CommandCall, record: KeyRecord): string {
  const fn = encodings?.get(record.type);
  return fn ? fn(call, record) : "unknown";
}

/** Redis's string encodings: "int" for integers in long range, "embstr" up to 44 bytes, else "raw". */
export function stringEncoding(value: Uint8Array | null, length: number): "int" | "embstr" | "raw" {
  if (value !== null && length <= 20 && parseInt64(value) !== null) return "int";
  return length <= 44 ? "embstr" : "raw";
}

registerDefault(KeyType.string, (call, record) =>
  stringEncoding(record.chunks === 0 ? record.value ?? new Uint8Array(0) : null, call.keys.stringLength(record)),
);
// Hashes: "listpack" while within hash-max-listpack-entries/-value, else "hashtable" (hash.ts).
registerDefault(KeyType.hash, (call, record) => hashEncoding(record, call.server.config, call.server.sql));
// Defaults for groups that have not registered a finer rule (Redis 7.0 names).
registerDefault(KeyType.list, () => "quicklist");
registerDefault(KeyType.set, () => "hashtable");
registerDefault(KeyType.zset, (call, record) =>
  record.count <= call.server.config.int("zset-max-listpack-entries") ? "listpack" : "skiplist",
);
registerDefault(KeyType.stream, () => "stream");

/** Redis shares the integers 0..9999 (refcount INT_MAX) unless an LRU/LFU maxmemory policy is in force. */
function sharedInteger(call: CommandCall, record: KeyRecord): boolean {
  if (record.type !== KeyType.string || record.chunks !== 0 || record.value === null) return false;
  if (stringEncoding(record.value, record.value.length) !== "int") return false;
  const v = Number(parseInt64(record.value));
  if (v < 0 || v >= 10000) return false;
  const config = call.server.config;
  const policy = config.get("maxmemory-policy");
  return config.int("maxmemory") === 0 || !(policy.includes("lru") || policy.includes("lfu"));
}

const lfuPolicy = (call: CommandCall) => call.server.config.get("maxmemory-policy").includes("lfu");
const LFU_MSG = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

const OBJECT_HELP = [
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
];

// ---- expiry --------------------------------------------------------------------

const EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8;

/** Redis parseExtendedExpireArgumentsOrReply: NX | XX | GT | LT from argument `from` on. */
function expireFlags(call: CommandCall, from: number): number {
  let flags = 0;
  for (let j = from; j < call.argv.length; j++) {
    const opt = call.option(j);
    if (opt === "nx") flags |= EXPIRE_NX;
    else if (opt === "xx") flags |= EXPIRE_XX;
    else if (opt === "gt") flags |= EXPIRE_GT;
    else if (opt === "lt") flags |= EXPIRE_LT;
    else throw new CommandError(`ERR Unsupported option ${call.str(j)}`);
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    throw new CommandError("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) {
    throw new CommandError("ERR GT and LT options at the same time are not compatible");
  }
  return flags;
}

/**
 * Redis expireGenericCommand. `relative`: the time is from now (EXPIRE,
 * PEXPIRE); `seconds`: the unit is seconds (EXPIRE, EXPIREAT). Propagated as
 * PEXPIREAT with the absolute time (flags kept, as Redis rewrites only
 * argv[0] and argv[2]); a time already past deletes the key and propagates
 * DEL (UNLINK with lazyfree-lazy-expire).
 */
function expireGeneric(call: CommandCall, relative: boolean, seconds: boolean): Reply {
  const flags = expireFlags(call, 3);
  let when = longArg(call, 2);
  if (seconds) {
    if (when > LLONG_MAX / 1000n || when < LLONG_MIN / 1000n) throw new CommandError(invalidExpire(call.command.fullName));
    when *= 1000n;
  }
  const base = relative ? BigInt(call.now) : 0n;
  if (when > LLONG_MAX - base) throw new CommandError(invalidExpire(call.command.fullName));
  when += base;

  const record = call.keys.lookup(call.db, call.argv[1]);
  if (!record) return ZERO;
  // Times beyond 2^53 ms (year 287396) are kept as the nearest double.
  const at = Number(when);
  const current = record.expiresAt;
  if (flags & EXPIRE_NX && current !== null) return ZERO;
  if (flags & EXPIRE_XX && current === null) return ZERO;
  if (flags & EXPIRE_GT && (current === null || at <= current)) return ZERO;
  if (flags & EXPIRE_LT && current !== null && at >= current) return ZERO;

  if (at <= call.now && !call.server.isReplica) {
    call.keys.remove(record);
    call.server.touchWatchedKey(call.db, call.argv[1]);
    call.dirty++;
    call.rewrite([call.server.config.bool("lazyfree-lazy-expire") ? "UNLINK" : "DEL", call.argv[1]]);
    return ONE;
  }
  call.keys.setExpiry(record, at);
  call.dirty++;
  if (call.command.name !== "pexpireat") call.rewrite(["PEXPIREAT", call.argv[1], when.toString(), ...call.argv.slice(3)]);
  return ONE;
}

/** Redis ttlGenericCommand: -2 missing, -1 no TTL, else the (remaining or absolute) time. */
function ttlGeneric(call: CommandCall, ms: boolean, absolute: boolean): Reply {
  const record = call.keys.read(call.db, call.argv[1]);
  if (!record) return integer(-2);
  if (record.expiresAt === null) return integer(-1);
  let ttl = absolute ? record.expiresAt : record.expiresAt - call.now;
  if (ttl < 0) ttl = 0;
  return integer(ms ? ttl : Math.floor((ttl + 500) / 1000));
}

// ---- keyspace helpers ------------------------------------------------------------

function deleteKeys(call: CommandCall): Reply {
  let deleted = 0;
  for (let i = 1; i < call.argv.length; i++) {
    if (call.keys.delete(call.db, call.argv[i])) deleted++;
  }
  call.dirty += deleted;
  return integer(deleted);
}

function countLive(call: CommandCall): Reply {
  let n = 0;
  for (let i = 1; i < call.argv.length; i++) if (call.keys.read(call.db, call.argv[i])) n++;
  return integer(n);
}

function renameGeneric(call: CommandCall, nx: boolean): Reply {
  const { db, argv } = call;
  const record = call.keys.lookup(db, argv[1]);
  // Returned, not thrown: the lookup may have removed an expired key, which must stay removed (and replicated).
  if (!record) return error(Errors.noSuchKey);
  if (sameBytes(argv[1], argv[2])) return nx ? ZERO : OK;
  const target = call.keys.lookup(db, argv[2]);
  if (target) {
    if (nx) return ZERO;
    call.keys.remove(target);
  }
  call.keys.rename(record, db, argv[2]);
  call.dirty++;
  return nx ? ONE : OK;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function clusterEnabled(call: CommandCall): boolean {
  return call.server.config.bool("cluster-enabled");
}

// ---- the table -----------------------------------------------------------------

export const genericCommands: HandlerTable = {
  del: deleteKeys,
  unlink: deleteKeys,

  exists: countLive,
  touch: countLive,

  type: (call) => {
    const record = call.keys.read(call.db, call.argv[1]);
    return simple(record ? TYPE_NAMES[record.type] : "none");
  },

  rename: (call) => renameGeneric(call, false),
  renamenx: (call) => renameGeneric(call, true),

  copy: (call) => {
    const { argv } = call;
    const srcDb = call.db;
    let dstDb = srcDb;
    let replace = false;
    for (let j = 3; j < argv.length; j++) {
      const opt = call.option(j);
      if (opt === "replace") {
        replace = true;
      } else if (opt === "db" && j + 1 < argv.length) {
        dstDb = dbArg(call, ++j);
      } else {
        throw new CommandError(Errors.syntax);
      }
    }
    if (clusterEnabled(call) && (srcDb !== 0 || dstDb !== 0)) {
      return error("ERR Copying to another database is not allowed in cluster mode");
    }
    if (srcDb === dstDb && sameBytes(argv[1], argv[2])) return error(Errors.sameObject);
    const record = call.keys.read(srcDb, argv[1]);
    if (!record) return ZERO;
    const target = call.keys.lookup(dstDb, argv[2]);
    if (target) {
      if (!replace) return ZERO;
      call.keys.remove(target);
    }
    call.keys.copy(record, dstDb, argv[2]);
    call.dirty++;
    return ONE;
  },

  move: (call) => {
    if (clusterEnabled(call)) return error("ERR MOVE is not allowed in cluster mode");
    const dstDb = dbArg(call, 2);
    if (dstDb === call.db) return error(Errors.sameObject);
    const record = call.keys.lookup(call.db, call.argv[1]);
    if (!record) return ZERO;
    if (call.keys.lookup(dstDb, call.argv[1])) return ZERO;
    call.keys.rename(record, dstDb, call.argv[1]);
    call.dirty++;
    return ONE;
  },

  keys: (call) => {
    const pattern = call.argv[1];
    const out: Reply[] = [];
    // KEYS skips expired keys without deleting them (keyIsExpired), as Redis 7.0 does.
    if (!isGlob(pattern)) {
      const record = call.keys.find(call.db, pattern);
      if (record && !call.keys.isExpired(record)) out.push(bulk(record.key));
      return array(out);
    }
    const all = isStar(pattern);
    for (let cursor = 0; ;) {
      const { records } = call.keys.page(call.db, cursor, PAGE);
      for (const record of records) {
        if (call.keys.isExpired(record)) continue;
        if (all || globMatch(pattern, record.key)) out.push(bulk(record.key));
      }
      if (records.length < PAGE) break;
      cursor = records[records.length - 1].id;
    }
    return array(out);
  },

  scan: (call) => {
    const { argv, keys, db } = call;
    const parsed = parseScanCursor(argv[1]);
    if (parsed === null) return error("ERR invalid cursor");
    let count = 10;
    let pattern: Uint8Array | null = null;
    let typeName: string | null = null;
    for (let i = 2; i < argv.length; i += 2) {
      const opt = call.option(i);
      const more = i + 1 < argv.length;
      if (opt === "count" && more) {
        const n = longArg(call, i + 1);
        if (n < 1n) throw new CommandError(Errors.syntax);
        count = n > 1_000_000_000n ? 1_000_000_000 : Number(n);
      } else if (opt === "match" && more) {
        pattern = isStar(argv[i + 1]) ? null : argv[i + 1];
      } else if (opt === "type" && more) {
        typeName = call.option(i + 1);
      } else {
        throw new CommandError(Errors.syntax);
      }
    }

    // The cursor is the id of the last key examined: keys are paged in id order,
    // and a key keeps its id while it exists, so a full iteration returns every
    // key that existed for all of it.
    let cursor = parsed > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(parsed);
    let examined = 0;
    let done = false;
    const out: Reply[] = [];
    while (examined < count) {
      const want = Math.min(PAGE, count - examined);
      const { records } = keys.page(db, cursor, want + 1);
      const batch = records.length > want ? records.slice(0, want) : records;
      for (const record of batch) {
        if (pattern && !globMatch(pattern, record.key)) continue;
        const expired = keys.isExpired(record);
        if (typeName !== null) {
          // Redis looks the key up to learn its type (a counted read that expires it).
          if (expired) keys.misses++;
          else keys.hits++;
          const name = expired ? "none" : TYPE_NAMES[record.type];
          if (name !== typeName) {
            if (expired) keys.lookup(db, record.key);
            continue;
          }
        }
        if (expired) {
          keys.lookup(db, record.key); // deletes it on a master and propagates DEL
          continue;
        }
        out.push(bulk(record.key));
      }
      examined += batch.length;
      if (records.length <= want) {
        done = true;
        break;
      }
      cursor = batch[batch.length - 1].id;
    }
    return array([bulk(done ? "0" : String(cursor)), array(out)]);
  },

  randomkey: (call) => {
    const record = call.keys.randomKey(call.db, Math.random);
    return record ? bulk(record.key) : NULL;
  },

  expire: (call) => expireGeneric(call, true, true),
  pexpire: (call) => expireGeneric(call, true, false),
  expireat: (call) => expireGeneric(call, false, true),
  pexpireat: (call) => expireGeneric(call, false, false),

  ttl: (call) => ttlGeneric(call, false, false),
  pttl: (call) => ttlGeneric(call, true, false),
  expiretime: (call) => ttlGeneric(call, false, true),
  pexpiretime: (call) => ttlGeneric(call, true, true),

  persist: (call) => {
    const record = call.keys.lookup(call.db, call.argv[1]);
    if (!record || record.expiresAt === null) return ZERO;
    call.keys.setExpiry(record, null);
    call.dirty++;
    return ONE;
  },

  object: {
    subcommands: {
      help: (call) => helpReply(call, OBJECT_HELP),
      encoding: (call) => {
        const record = call.keys.read(call.db, call.argv[2]);
        return record ? bulk(objectEncoding(call, record)) : NULL;
      },
      refcount: (call) => {
        const record = call.keys.read(call.db, call.argv[2]);
        if (!record) return NULL;
        return integer(sharedInteger(call, record) ? INT32_MAX : 1);
      },
      idletime: (call) => {
        const record = call.keys.read(call.db, call.argv[2]);
        if (!record) return NULL;
        if (lfuPolicy(call)) return error(`ERR An LFU maxmemory policy is selected, idle time not tracked. ${LFU_MSG}`);
        // tidekv does not track reads per key: the idle time is the time since the last write.
        return integer(Math.max(0, Math.floor((call.now - record.modifiedAt) / 1000)));
      },
      freq: (call) => {
        const record = call.keys.read(call.db, call.argv[2]);
        if (!record) return NULL;
        if (!lfuPolicy(call)) return error(`ERR An LFU maxmemory policy is not selected, access frequency not tracked. ${LFU_MSG}`);
        // A new key starts at LFU_INIT_VAL (5) and decays one step per lfu-decay-time minute.
        return integer(Math.max(0, 5 - Math.floor((call.now - record.modifiedAt) / 60_000)));
      },
    },
  },
};

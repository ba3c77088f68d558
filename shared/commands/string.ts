/**
 * The string commands, after Redis 7.0's t_string.c: GET, SET and its
 * variants (SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX), MGET, MSET, MSETNX,
 * the INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, LCS.
 *
 * Values are binary-safe and may reach proto-max-bulk-len. Large values are
 * chunked by the keyspace; APPEND, SETRANGE and GETRANGE touch only the chunks
 * their range covers (Keyspace.writeStringRange / readStringRange).
 *
 * Effects (DESIGN.md invariant 4) are Redis's: relative expiry becomes
 * `SET k v PXAT <ms>` / `PEXPIREAT k <ms>`, INCRBYFLOAT becomes
 * `SET k <result> KEEPTTL`, GETSET becomes SET, GETDEL becomes DEL, GETEX
 * PERSIST becomes PERSIST, a GETEX with a past EXAT/PXAT becomes DEL.
 */
import {
  array, bulk, bulkOrNull, integer, map, NULL, OK, ONE, ZERO, type Reply,
} from "../resp/reply.ts";
import { KeyType, VALUE_INLINE_MAX, type KeyRecord } from "../engine/keyspace.ts";
import type { CommandCall } from "../engine/call.ts";
import { Errors, fail, invalidExpire, wrongArity } from "../engine/errors.ts";
import {
  addLongDouble, formatLongDouble, isFiniteLongDouble, parseInt64, parseLongDouble, type LongDouble,
} from "../util/numbers.ts";
import { utf8 } from "../util/bytes.ts";
import type { HandlerTable } from "./spec.ts";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

// SET/GETEX option flags (t_string.c OBJ_*).
const NX = 1 << 0;
const XX = 1 << 1;
const EX = 1 << 2;
const PX = 1 << 3;
const KEEPTTL = 1 << 4;
const GET = 1 << 5;
const EXAT = 1 << 6;
const PXAT = 1 << 7;
const PERSIST = 1 << 8;

/**
 * An option argument as C code sees it: up to its first NUL byte, lowercased
 * (Redis compares options with strcasecmp and opt[n] == '\0' checks).
 */
function cOption(arg: Uint8Array): string {
  const nul = arg.indexOf(0);
  return decoder.decode(nul < 0 ? arg : arg.subarray(0, nul)).toLowerCase();
}

const int64Reply = (v: bigint): Reply => integer(v >= -SAFE_MAX && v <= SAFE_MAX ? Number(v) : v);

/** Redis's checkStringLength: a result longer than proto-max-bulk-len is refused. */
function checkStringLength(call: CommandCall, total: number): void {
  if (total > call.server.config.int("proto-max-bulk-len")) fail(Errors.stringTooLong);
}

/** The whole value of a string record. */
function valueOf(call: CommandCall, record: KeyRecord): Uint8Array {
  return call.keys.readString(record);
}

/**
 * lookupKeyRead + checkType: a read counted as a keyspace hit or miss (a key
 * of another type is a hit, then WRONGTYPE, as in Redis).
 */
function readString(call: CommandCall, key: Uint8Array): KeyRecord | null {
  const record = call.keys.read(call.db, key);
  if (record && record.type !== KeyType.string) fail(Errors.wrongType);
  return record;
}

/** getGenericCommand: the value of a string key, null when missing. */
function getValue(call: CommandCall, key: Uint8Array): Uint8Array | null {
  const record = readString(call, key);
  return record ? valueOf(call, record) : null;
}

// ---- expiry arguments ---------------------------------------------------------

interface ExtendedArgs {
  flags: number;
  /** The EX/PX/EXAT/PXAT argument, if any. */
  expire: Uint8Array | null;
  seconds: boolean;
}

/**
 * parseExtendedStringArgumentsOrReply: SET's options from argv[3], GETEX's from
 * argv[2], with Redis's exact rules for which combinations are a syntax error
 * (NX NX and EX 1 EX 2 are accepted, the last EX wins; EX after PX is not).
 */
function parseExtended(call: CommandCall, forSet: boolean): ExtendedArgs {
  const argv = call.argv;
  let flags = 0;
  let expire: Uint8Array | null = null;
  let seconds = true;
  for (let j = forSet ? 3 : 2; j < argv.length; j++) {
    const opt = cOption(argv[j]);
    const hasNext = j < argv.length - 1;
    if (opt === "nx" && !(flags & XX) && forSet) {
      flags |= NX;
    } else if (opt === "xx" && !(flags & NX) && forSet) {
      flags |= XX;
    } else if (opt === "get" && forSet) {
      flags |= GET;
    } else if (opt === "keepttl" && !(flags & (PERSIST | EX | EXAT | PX | PXAT)) && forSet) {
      flags |= KEEPTTL;
    } else if (opt === "persist" && !forSet && !(flags & (EX | EXAT | PX | PXAT | KEEPTTL))) {
      flags |= PERSIST;
    } else if (opt === "ex" && !(flags & (KEEPTTL | PERSIST | EXAT | PX | PXAT)) && hasNext) {
      flags |= EX;
      seconds = true;
      expire = argv[++j];
    } else if (opt === "px" && !(flags & (KEEPTTL | PERSIST | EX | EXAT | PXAT)) && hasNext) {
      flags |= PX;
      seconds = false;
      expire = argv[++j];
    } else if (opt === "exat" && !(flags & (KEEPTTL | PERSIST | EX | PX | PXAT)) && hasNext) {
      flags |= EXAT;
      seconds = true;
      expire = argv[++j];
    } else if (opt === "pxat" && !(flags & (KEEPTTL | PERSIST | EX | EXAT | PX)) && hasNext) {
      flags |= PXAT;
      seconds = false;
      expire = argv[++j];
    } else {
      fail(Errors.syntax);
    }
  }
  return { flags, expire, seconds };
}

/**
 * getExpireMillisecondsOrReply: the absolute expiry in ms. Zero or negative
 * values, and values whose conversion overflows int64, are "invalid expire time".
 */
function expireAt(call: CommandCall, arg: Uint8Array, relative: boolean, seconds: boolean): bigint {
  const value = parseInt64(arg);
  if (value === null) fail(Errors.notInteger);
  if (value <= 0n || (seconds && value > INT64_MAX / 1000n)) fail(invalidExpire(call.command.fullName));
  let ms = seconds ? value * 1000n : value;
  if (relative) ms += BigInt(call.now);
  // In C the sum wraps to a negative number, which Redis reports the same way.
  if (ms > INT64_MAX || ms <= 0n) fail(invalidExpire(call.command.fullName));
  return ms;
}

// ---- SET and friends ----------------------------------------------------------

/**
 * setGenericCommand. `okReply` / `abortReply` are what SETNX answers instead
 * of +OK / null.
 */
function setGeneric(
  call: CommandCall, flags: number, key: Uint8Array, value: Uint8Array,
  expire: Uint8Array | null, seconds: boolean, okReply: Reply = OK, abortReply: Reply = NULL,
): Reply {
  const ms = expire ? expireAt(call, expire, (flags & (EX | PX)) !== 0, seconds) : null;
  let reply: Reply | null = null;
  if (flags & GET) reply = bulkOrNull(getValue(call, key));
  const found = call.keys.lookup(call.db, key) !== null;
  if ((flags & NX && found) || (flags & XX && !found)) return reply ?? abortReply;

  const ttl = ms !== null ? Number(ms) : flags & KEEPTTL ? "keep" : null;
  call.keys.writeString(call.db, key, value, ttl);
  call.dirty++;
  if (ms !== null) {
    call.rewrite(["SET", key, value, "PXAT", ms.toString()]);
  } else if (flags & GET) {
    // Propagated without its GET arguments (which may repeat).
    call.rewrite(call.argv.filter((arg, j) => j < 3 || cOption(arg) !== "get"));
  }
  return reply ?? okReply;
}

function set(call: CommandCall): Reply {
  const { flags, expire, seconds } = parseExtended(call, true);
  return setGeneric(call, flags, call.argv[1], call.argv[2], expire, seconds);
}

function getex(call: CommandCall): Reply {
  const { flags, expire, seconds } = parseExtended(call, false);
  const key = call.argv[1];
  const record = readString(call, key);
  if (!record) return NULL;
  const ms = expire ? expireAt(call, expire, (flags & (EX | PX)) !== 0, seconds) : null;
  const reply = bulk(valueOf(call, record));
  if (ms !== null && flags & (EXAT | PXAT) && ms <= BigInt(call.now) && !call.server.isReplica) {
    // checkAlreadyExpired: a timestamp in the past deletes the key.
    call.keys.delete(call.db, key);
    call.rewrite([call.server.config.bool("lazyfree-lazy-expire") ? "UNLINK" : "DEL", key]);
    call.dirty++;
  } else if (ms !== null) {
    call.keys.setExpiry(record, Number(ms));
    call.rewrite(["PEXPIREAT", key, ms.toString()]);
    call.dirty++;
  } else if (flags & PERSIST && record.expiresAt !== null) {
    call.keys.setExpiry(record, null);
    call.rewrite(["PERSIST", key]);
    call.dirty++;
  }
  return reply;
}

// ---- INCR family ----------------------------------------------------------------

/** incrDecrCommand: 64-bit signed arithmetic, the TTL kept. */
function incrBy(call: CommandCall, incr: bigint): Reply {
  const key = call.argv[1];
  const record = call.keys.lookupType(call.db, key, KeyType.string);
  let value = 0n;
  if (record) {
    const parsed = record.chunks > 0 ? null : parseInt64(record.value ?? EMPTY);
    if (parsed === null) fail(Errors.notInteger);
    value = parsed;
  }
  const result = value + incr;
  if (result > INT64_MAX || result < INT64_MIN) fail(Errors.overflow);
  call.keys.writeString(call.db, key, utf8(result.toString()), "keep");
  call.dirty++;
  return int64Reply(result);
}

function int64Arg(call: CommandCall, i: number): bigint {
  const v = parseInt64(call.argv[i]);
  if (v === null) fail(Errors.notInteger);
  return v;
}

/** string2ld on stored or argument bytes. */
function longDoubleOf(bytes: Uint8Array): LongDouble {
  const v = parseLongDouble(bytes);
  if (v === null) fail(Errors.notFloat);
  return v;
}

function incrByFloat(call: CommandCall): Reply {
  const key = call.argv[1];
  const record = call.keys.lookupType(call.db, key, KeyType.string);
  let value: LongDouble = { kind: "finite", negative: false, mantissa: 0n, exponent: 0 };
  if (record) {
    // A chunked value is far longer than any number string2ld accepts.
    if (record.chunks > 0) fail(Errors.notFloat);
    value = longDoubleOf(record.value ?? EMPTY);
  }
  const incr = longDoubleOf(call.argv[2]);
  const sum = addLongDouble(value, incr);
  if (!isFiniteLongDouble(sum)) fail(Errors.incrFloatNanOrInf);
  const text = utf8(formatLongDouble(sum));
  call.keys.writeString(call.db, key, text, "keep");
  call.dirty++;
  call.rewrite(["SET", key, text, "KEEPTTL"]);
  return bulk(text);
}

// ---- ranges ------------------------------------------------------------------------

function getrange(call: CommandCall): Reply {
  let start = int64Arg(call, 2);
  let end = int64Arg(call, 3);
  const record = readString(call, call.argv[1]);
  if (!record) return bulk(EMPTY);
  const length = BigInt(call.keys.stringLength(record));
  if (start < 0n && end < 0n && start > end) return bulk(EMPTY);
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return bulk(EMPTY);
  return bulk(call.keys.readStringRange(record, Number(start), Number(end) + 1));
}

function setrange(call: CommandCall): Reply {
  const key = call.argv[1];
  const offset = int64Arg(call, 2);
  const value = call.argv[3];
  if (offset < 0n) fail(Errors.offsetOutOfRange);
  const record = call.keys.lookup(call.db, key);
  if (record === null) {
    if (value.length === 0) return ZERO;
    checkStringLength(call, Number(offset) + value.length);
    // A new key: the value at `offset`, zeros before it.
    const total = Number(offset) + value.length;
    if (total <= VALUE_INLINE_MAX) {
      const bytes = new Uint8Array(total);
      bytes.set(value, Number(offset));
      call.keys.writeString(call.db, key, bytes, null);
      call.dirty++;
      return integer(bytes.length);
    }
    call.keys.writeString(call.db, key, EMPTY, null);
    const created = call.keys.lookup(call.db, key)!;
    const length = call.keys.writeStringRange(created, Number(offset), value);
    call.dirty++;
    return integer(length);
  }
  if (record.type !== KeyType.string) fail(Errors.wrongType);
  const oldLength = call.keys.stringLength(record);
  if (value.length === 0) return integer(oldLength);
  checkStringLength(call, Number(offset) + value.length);
  const length = call.keys.writeStringRange(record, Number(offset), value);
  call.dirty++;
  return integer(length);
}

function append(call: CommandCall): Reply {
  const key = call.argv[1];
  const value = call.argv[2];
  const record = call.keys.lookupType(call.db, key, KeyType.string);
  if (record === null) {
    call.keys.writeString(call.db, key, value, null);
    call.dirty++;
    return integer(value.length);
  }
  const oldLength = call.keys.stringLength(record);
  checkStringLength(call, oldLength + value.length);
  const length = call.keys.writeStringRange(record, oldLength, value);
  call.dirty++;
  return integer(length);
}

// ---- MSET / MSETNX ---------------------------------------------------------------

function msetGeneric(call: CommandCall, nx: boolean): Reply {
  const argv = call.argv;
  if (argv.length % 2 === 0) fail(wrongArity(call.command.fullName));
  if (nx) {
    for (let j = 1; j < argv.length; j += 2) {
      if (call.keys.lookup(call.db, argv[j]) !== null) return ZERO;
    }
  }
  for (let j = 1; j < argv.length; j += 2) call.keys.writeString(call.db, argv[j], argv[j + 1], null);
  call.dirty += (argv.length - 1) / 2;
  return nx ? ONE : OK;
}

// ---- LCS ------------------------------------------------------------------------------

function lcs(call: CommandCall): Reply {
  const argv = call.argv;
  const recordA = call.keys.read(call.db, argv[1]);
  const recordB = call.keys.read(call.db, argv[2]);
  if ((recordA && recordA.type !== KeyType.string) || (recordB && recordB.type !== KeyType.string)) {
    fail("ERR The specified keys must contain string values");
  }
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0n;
  for (let j = 3; j < argv.length; j++) {
    const opt = cOption(argv[j]);
    const moreArgs = argv.length - 1 - j;
    if (opt === "idx") getIdx = true;
    else if (opt === "len") getLen = true;
    else if (opt === "withmatchlen") withMatchLen = true;
    else if (opt === "minmatchlen" && moreArgs > 0) {
      minMatchLen = int64Arg(call, j + 1);
      if (minMatchLen < 0n) minMatchLen = 0n;
      j++;
    } else fail(Errors.syntax);
  }
  if (getLen && getIdx) fail("ERR If you want both the length and indexes, please just use IDX.");

  const alen = recordA ? call.keys.stringLength(recordA) : 0;
  const blen = recordB ? call.keys.stringLength(recordB) : 0;
  const cells = (alen + 1) * (blen + 1);
  if (cells * 4 > call.server.config.int("proto-max-bulk-len")) {
    fail("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  // A Durable Object has 128 MB: refuse tables Redis could allocate but we cannot.
  if (cells * 4 > LCS_TABLE_MAX_BYTES) fail("ERR Insufficient memory, failed allocating transient memory for LCS");
  const a = recordA ? valueOf(call, recordA) : EMPTY;
  const b = recordB ? valueOf(call, recordB) : EMPTY;

  // table[j + (blen+1)*i] = length of the LCS of a[0..i) and b[0..j).
  const w = blen + 1;
  const table = new Uint32Array(cells);
  for (let i = 1; i <= alen; i++) {
    const ai = a[i - 1];
    const row = i * w;
    const prev = row - w;
    for (let j = 1; j <= blen; j++) {
      if (ai === b[j - 1]) table[row + j] = table[prev + j - 1] + 1;
      else {
        const up = table[prev + j];
        const left = table[row + j - 1];
        table[row + j] = up > left ? up : left;
      }
    }
  }
  const total = table[alen * w + blen];
  if (getLen && !getIdx) return integer(total);

  // Walk back from the end, collecting the LCS bytes and (for IDX) the
  // matching ranges, exactly as t_string.c does.
  const result = new Uint8Array(total);
  const matches: Reply[] = [];
  let idx = total;
  let i = alen;
  let j = blen;
  let aStart = alen; // alen: no range open
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1];
      if (aStart === alen) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      const up = table[(i - 1) * w + j];
      const left = table[i * w + j - 1];
      if (up > left) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    if (emit) {
      const matchLen = aEnd - aStart + 1;
      if (getIdx && (minMatchLen === 0n || BigInt(matchLen) >= minMatchLen)) {
        const entry: Reply[] = [array([integer(aStart), integer(aEnd)]), array([integer(bStart), integer(bEnd)])];
        if (withMatchLen) entry.push(integer(matchLen));
        matches.push(array(entry));
      }
      aStart = alen;
    }
  }
  if (getIdx) {
    return map([
      [bulk("matches"), array(matches)],
      [bulk("len"), integer(total)],
    ]);
  }
  return bulk(result);
}

/** The largest LCS table (4 bytes a cell) this node allocates. */
const LCS_TABLE_MAX_BYTES = 64 * 1024 * 1024;

// ---- the table ------------------------------------------------------------------------

export const stringCommands: HandlerTable = {
  get: (call) => bulkOrNull(getValue(call, call.argv[1])),

  set,
  setnx: (call) => setGeneric(call, NX, call.argv[1], call.argv[2], null, false, ONE, ZERO),
  setex: (call) => setGeneric(call, EX, call.argv[1], call.argv[3], call.argv[2], true),
  psetex: (call) => setGeneric(call, PX, call.argv[1], call.argv[3], call.argv[2], false),

  getset: (call) => {
    const key = call.argv[1];
    const old = getValue(call, key);
    call.keys.writeString(call.db, key, call.argv[2], null);
    call.dirty++;
    call.rewrite(["SET", key, call.argv[2]]);
    return bulkOrNull(old);
  },

  getdel: (call) => {
    const key = call.argv[1];
    const value = getValue(call, key);
    if (value === null) return NULL;
    if (call.keys.delete(call.db, key)) {
      call.rewrite([call.server.config.bool("lazyfree-lazy-user-del") ? "UNLINK" : "DEL", key]);
      call.dirty++;
    }
    return bulk(value);
  },

  getex,

  mget: (call) => {
    const replies: Reply[] = [];
    for (let j = 1; j < call.argv.length; j++) {
      const record = call.keys.read(call.db, call.argv[j]);
      replies.push(record && record.type === KeyType.string ? bulk(valueOf(call, record)) : NULL);
    }
    return array(replies);
  },

  mset: (call) => msetGeneric(call, false),
  msetnx: (call) => msetGeneric(call, true),

  incr: (call) => incrBy(call, 1n),
  decr: (call) => incrBy(call, -1n),
  incrby: (call) => incrBy(call, int64Arg(call, 2)),
  decrby: (call) => {
    const incr = int64Arg(call, 2);
    if (incr === INT64_MIN) fail("ERR decrement would overflow");
    return incrBy(call, -incr);
  },
  incrbyfloat: incrByFloat,

  append,

  strlen: (call) => {
    const record = readString(call, call.argv[1]);
    return record ? integer(call.keys.stringLength(record)) : ZERO;
  },

  getrange,
  substr: getrange,
  setrange,

  lcs,
};

/**
 * Bitmap commands (Redis 7.0 bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS,
 * BITOP, BITFIELD, BITFIELD_RO. Bitmaps are plain strings (TYPE string);
 * bit 0 is the most significant bit of byte 0.
 *
 * Large strings live in 1 MiB chunks (Keyspace). Commands that touch a few
 * bits (SETBIT, GETBIT, BITFIELD) read and rewrite only the chunks those bits
 * are in (Keyspace.readStringRange / writeStringRange): SETBIT on a 16 MiB
 * bitmap rewrites one chunk. BITCOUNT and BITPOS walk their range one chunk
 * at a time; BITOP reads its sources a chunk at a time and holds only the
 * result (at most proto-max-bulk-len) while it writes it.
 *
 * Offsets are limited as in Redis: a bit offset whose byte is at or past
 * proto-max-bulk-len is "ERR bit offset is not an integer or out of range"
 * (except for the master link, which Redis trusts: mustObeyClient).
 *
 * Effects (DESIGN.md invariant 4): SETBIT, BITOP and BITFIELD propagate as
 * called when they changed something, as Redis does. One deliberate
 * difference: a BITFIELD whose only writes failed under OVERFLOW FAIL but
 * which created or zero-padded the key is propagated too (Redis 7.0 leaves
 * such a key unreplicated); replaying the same command reproduces exactly
 * that padding on a replica.
 */
import { array, integer, NULL, ONE, ZERO, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { Errors, fail } from "../engine/errors.ts";
import { KeyType, VALUE_INLINE_MAX, type KeyRecord, type Keyspace } from "../engine/keyspace.ts";
import { parseInt64 } from "../util/numbers.ts";
import type { HandlerTable } from "./spec.ts";

const ERR_BIT_OFFSET = "ERR bit offset is not an integer or out of range";
const ERR_BIT_VALUE = "ERR bit is not an integer or out of range";
const ERR_BITFIELD_TYPE = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const ERR_BITPOS_BIT = "ERR The bit argument must be 1 or 0.";
const ERR_BITOP_NOT = "ERR BITOP NOT must be called with a single source key.";
const ERR_OVERFLOW_TYPE = "ERR Invalid OVERFLOW type specified";
const ERR_BITFIELD_RO = "ERR BITFIELD_RO only supports the GET subcommand";

/** Work is done in slices aligned to the keyspace's chunks. */
const SLICE = VALUE_INLINE_MAX;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const int64Reply = (v: bigint): Reply => integer(v >= -SAFE_MAX && v <= SAFE_MAX ? Number(v) : v);

/** Redis's C-string view of an option argument: up to its first NUL, lowercased. */
function cOption(arg: Uint8Array): string {
  const nul = arg.indexOf(0);
  return decoder.decode(nul < 0 ? arg : arg.subarray(0, nul)).toLowerCase();
}

function parseLongLong(arg: Uint8Array, message: string = Errors.notInteger): bigint {
  const v = parseInt64(arg);
  if (v === null) fail(message);
  return v;
}

// ---- string access ----------------------------------------------------------------

/** A live string key for a read (counted), WRONGTYPE for other types. */
function readString(call: CommandCall, key: Uint8Array): KeyRecord | null {
  return call.keys.read(call.db, key, KeyType.string);
}

/** Calls fn(bytes, offset) for bytes [start, end) of the string, one chunk-aligned slice at a time. */
function forSlices(
  keys: Keyspace, record: KeyRecord, start: number, end: number,
  fn: (bytes: Uint8Array, offset: number) => boolean | void,
): void {
  for (let at = start; at < end;) {
    const to = Math.min(end, (Math.floor(at / SLICE) + 1) * SLICE);
    if (fn(keys.readStringRange(record, at, to), at) === true) return;
    at = to;
  }
}

/**
 * getBitOffsetFromArgument: a bit offset, optionally "#N" (N * bits) for
 * BITFIELD; negative, or with its byte at or past proto-max-bulk-len, is an error.
 */
function bitOffset(call: CommandCall, arg: Uint8Array, hash: boolean, bits: number): number {
  const useHash = arg.length > 0 && arg[0] === 0x23 /* # */ && hash && bits > 0;
  const parsed = parseInt64(useHash ? arg.subarray(1) : arg);
  if (parsed === null) fail(ERR_BIT_OFFSET);
  // C multiplies in int64 and wraps.
  const offset = useHash ? BigInt.asIntN(64, parsed * BigInt(bits)) : parsed;
  if (offset < 0n) fail(ERR_BIT_OFFSET);
  if (call.client.role !== "master" && offset >> 3n >= BigInt(call.server.config.int("proto-max-bulk-len"))) {
    fail(ERR_BIT_OFFSET);
  }
  return Number(offset);
}

/**
 * lookupStringForBitCommand: the string at `key`, created or zero-padded so
 * that bit `maxbit` exists. `grown` tells whether that changed the key.
 */
function stringForBits(call: CommandCall, key: Uint8Array, maxbit: number): { record: KeyRecord; grown: boolean; length: number } {
  const keys = call.keys;
  const needed = Math.floor(maxbit / 8) + 1;
  let record = keys.lookup(call.db, key);
  if (record && record.type !== KeyType.string) fail(Errors.wrongType);
  let length = 0;
  let grown = false;
  if (!record) {
    keys.writeString(call.db, key, EMPTY, null);
    record = keys.lookup(call.db, key)!;
    grown = true;
  } else {
    length = keys.stringLength(record);
  }
  if (length < needed) {
    keys.writeStringRange(record, needed - 1, new Uint8Array(1));
    length = needed;
    grown = true;
  }
  return { record, grown, length };
}

// ---- SETBIT / GETBIT ----------------------------------------------------------------

function setbit(call: CommandCall): Reply {
  const offset = bitOffset(call, call.argv[2], false, 0);
  const on = parseInt64(call.argv[3]);
  if (on === null || (on !== 0n && on !== 1n)) fail(ERR_BIT_VALUE);
  const keys = call.keys;
  const key = call.argv[1];
  const byte = Math.floor(offset / 8);
  const mask = 1 << (7 - (offset & 7));

  let record = keys.lookup(call.db, key);
  if (record && record.type !== KeyType.string) fail(Errors.wrongType);
  let created = false;
  if (!record) {
    keys.writeString(call.db, key, EMPTY, null);
    record = keys.lookup(call.db, key)!;
    created = true;
  }
  const length = created ? 0 : keys.stringLength(record);
  const old = byte < length ? keys.readStringRange(record, byte, byte + 1)[0] : 0;
  const bitval = (old & mask) !== 0;
  if (created || byte >= length || bitval !== (on === 1n)) {
    const next = on === 1n ? old | mask : old & ~mask;
    keys.writeStringRange(record, byte, Uint8Array.of(next));
    call.dirty++;
  }
  return bitval ? ONE : ZERO;
}

function getbit(call: CommandCall): Reply {
  const offset = bitOffset(call, call.argv[2], false, 0);
  const record = readString(call, call.argv[1]);
  if (!record) return ZERO;
  const byte = Math.floor(offset / 8);
  if (byte >= call.keys.stringLength(record)) return ZERO;
  const value = call.keys.readStringRange(record, byte, byte + 1)[0];
  return value & (1 << (7 - (offset & 7))) ? ONE : ZERO;
}

// ---- BITCOUNT / BITPOS -------------------------------------------------------------------

/** Set bits in bit positions [first, last] (inclusive) of the string. */
function countBits(keys: Keyspace, record: KeyRecord, first: number, last: number): number {
  const firstByte = Math.floor(first / 8);
  const lastByte = Math.floor(last / 8);
  let count = 0;
  forSlices(keys, record, firstByte, lastByte + 1, (bytes, offset) => {
    for (let i = 0; i < bytes.length; i++) {
      let b = bytes[i];
      const at = offset + i;
      if (at === firstByte) b &= 0xff >> (first & 7);
      if (at === lastByte) b &= (0xff << (7 - (last & 7))) & 0xff;
      count += POPCOUNT[b];
    }
  });
  return count;
}

/** The first bit equal to `bit` in bit positions [first, last] (inclusive), or -1. */
function findBit(keys: Keyspace, record: KeyRecord, bit: number, first: number, last: number): number {
  const firstByte = Math.floor(first / 8);
  const lastByte = Math.floor(last / 8);
  const skip = bit ? 0 : 0xff;
  let found = -1;
  forSlices(keys, record, firstByte, lastByte + 1, (bytes, offset) => {
    for (let i = 0; i < bytes.length; i++) {
      let b = bytes[i];
      const at = offset + i;
      if (b === skip && at !== firstByte && at !== lastByte) continue;
      if (!bit) b = ~b & 0xff; // look for a set bit either way
      if (at === firstByte) b &= 0xff >> (first & 7);
      if (at === lastByte) b &= (0xff << (7 - (last & 7))) & 0xff;
      if (b !== 0) {
        found = at * 8 + Math.clz32(b) - 24;
        return true;
      }
    }
    return false;
  });
  return found;
}

/**
 * The [start, end] range of BITCOUNT/BITPOS after Redis's conversions
 * (negative indexes from the end, clamped to the string), in bytes or bits.
 */
function normalizeRange(start: bigint, end: bigint, total: bigint): [bigint, bigint] {
  if (start < 0n) start = total + start;
  if (end < 0n) end = total + end;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= total) end = total - 1n;
  return [start, end];
}

function bitcount(call: CommandCall): Reply {
  const argv = call.argv;
  const record = readString(call, argv[1]);
  if (!record) return ZERO;
  const length = call.keys.stringLength(record);
  let first: number;
  let last: number;
  if (argv.length === 4 || argv.length === 5) {
    const start = parseLongLong(argv[2]);
    const end = parseLongLong(argv[3]);
    if (start < 0n && end < 0n && start > end) return ZERO;
    let isBit = false;
    if (argv.length === 5) {
      const unit = cOption(argv[4]);
      if (unit === "bit") isBit = true;
      else if (unit !== "byte") fail(Errors.syntax);
    }
    const total = BigInt(length) * (isBit ? 8n : 1n);
    const [s, e] = normalizeRange(start, end, total);
    if (s > e) return ZERO;
    first = Number(isBit ? s : s * 8n);
    last = Number(isBit ? e : e * 8n + 7n);
  } else if (argv.length === 2) {
    if (length === 0) return ZERO;
    first = 0;
    last = length * 8 - 1;
  } else {
    fail(Errors.syntax);
  }
  return integer(countBits(call.keys, record, first, last));
}

function bitpos(call: CommandCall): Reply {
  const argv = call.argv;
  const bitArg = parseLongLong(argv[2]);
  if (bitArg !== 0n && bitArg !== 1n) fail(ERR_BITPOS_BIT);
  const bit = Number(bitArg);
  const record = readString(call, argv[1]);
  if (!record) return integer(bit ? -1 : 0);
  const length = call.keys.stringLength(record);
  let first: number;
  let last: number;
  let endGiven = false;
  if (argv.length >= 4 && argv.length <= 6) {
    const start = parseLongLong(argv[3]);
    let isBit = false;
    if (argv.length === 6) {
      const unit = cOption(argv[5]);
      if (unit === "bit") isBit = true;
      else if (unit !== "byte") fail(Errors.syntax);
    }
    let end: bigint;
    if (argv.length >= 5) {
      end = parseLongLong(argv[4]);
      endGiven = true;
    } else {
      end = BigInt(length) - 1n;
    }
    const total = BigInt(length) * (isBit ? 8n : 1n);
    const [s, e] = normalizeRange(start, end, total);
    if (s > e) return integer(-1);
    first = Number(isBit ? s : s * 8n);
    last = Number(isBit ? e : e * 8n + 7n);
  } else if (argv.length === 3) {
    if (length === 0) return integer(-1);
    first = 0;
    last = length * 8 - 1;
  } else {
    fail(Errors.syntax);
  }
  const found = findBit(call.keys, record, bit, first, last);
  if (found >= 0 || bit === 1) return integer(found);
  // Looking for a clear bit and none in range: with no explicit end the
  // string counts as zero-padded on the right, so the answer is the first
  // bit past it; with an explicit end there is no such bit in the range.
  return integer(endGiven ? -1 : last + 1);
}

// ---- BITOP ------------------------------------------------------------------------------------

const AND = 0, OR = 1, XOR = 2, NOT = 3;

function bitop(call: CommandCall): Reply {
  const argv = call.argv;
  const name = cOption(argv[1]);
  const op = name === "and" ? AND : name === "or" ? OR : name === "xor" ? XOR : name === "not" ? NOT : -1;
  if (op < 0) fail(Errors.syntax);
  if (op === NOT && argv.length !== 4) fail(ERR_BITOP_NOT);
  const keys = call.keys;
  const sources: { record: KeyRecord | null; length: number }[] = [];
  let maxlen = 0;
  for (let j = 3; j < argv.length; j++) {
    const record = readString(call, argv[j]);
    const length = record ? keys.stringLength(record) : 0;
    sources.push({ record, length });
    if (length > maxlen) maxlen = length;
  }
  const target = argv[2];
  if (maxlen === 0) {
    if (keys.delete(call.db, target)) call.dirty++;
    return ZERO;
  }
  const result = new Uint8Array(maxlen);
  for (let base = 0; base < maxlen; base += SLICE) {
    const to = Math.min(maxlen, base + SLICE);
    const slices = sources.map(({ record, length }) =>
      record && length > base ? keys.readStringRange(record, base, Math.min(to, length)) : EMPTY,
    );
    const out = result.subarray(base, to);
    const src0 = slices[0];
    for (let i = 0; i < out.length; i++) out[i] = i < src0.length ? src0[i] : 0;
    if (op === NOT) {
      for (let i = 0; i < out.length; i++) out[i] = ~out[i];
    } else {
      for (let k = 1; k < slices.length; k++) {
        const src = slices[k];
        const n = src.length;
        if (op === AND) {
          for (let i = 0; i < out.length; i++) out[i] &= i < n ? src[i] : 0;
        } else if (op === OR) {
          for (let i = 0; i < n; i++) out[i] |= src[i];
        } else {
          for (let i = 0; i < n; i++) out[i] ^= src[i];
        }
      }
    }
  }
  keys.writeString(call.db, target, result, null);
  call.dirty++;
  return integer(maxlen);
}

// ---- BITFIELD ------------------------------------------------------------------------------------

const WRAP = 0, SAT = 1, FAIL = 2;
const OP_GET = 0, OP_SET = 1, OP_INCRBY = 2;

interface BitfieldOp {
  offset: number;
  value: bigint;
  opcode: number;
  overflow: number;
  bits: number;
  signed: boolean;
}

/** getBitfieldTypeFromArgument: "i1".."i64" or "u1".."u63". */
function bitfieldType(arg: Uint8Array): { signed: boolean; bits: number } {
  const c = arg[0];
  if (c !== 0x69 /* i */ && c !== 0x75 /* u */) fail(ERR_BITFIELD_TYPE);
  const signed = c === 0x69;
  const rest = arg.subarray(1);
  const nul = rest.indexOf(0);
  const bits = parseInt64(nul < 0 ? rest : rest.subarray(0, nul));
  if (bits === null || bits < 1n || (signed && bits > 64n) || (!signed && bits > 63n)) fail(ERR_BITFIELD_TYPE);
  return { signed, bits: Number(bits) };
}

/**
 * The bytes of a string for BITFIELD, read and rewritten a chunk-aligned page
 * at a time: only the pages its fields touch are loaded, and only the
 * changed ones are written back (flush).
 */
class BitPages {
  private readonly pages = new Map<number, Uint8Array>();
  private readonly changed = new Set<number>();

  constructor(private readonly keys: Keyspace, private readonly record: KeyRecord | null, private readonly length: number) {}

  private page(n: number): Uint8Array {
    let page = this.pages.get(n);
    if (!page) {
      const base = n * SLICE;
      page = this.record ? this.keys.readStringRange(this.record, base, Math.min(base + SLICE, this.length)) : EMPTY;
      if (page.buffer === this.record?.value?.buffer) page = page.slice();
      this.pages.set(n, page);
    }
    return page;
  }

  getBit(offset: number): number {
    const byte = Math.floor(offset / 8);
    if (byte >= this.length) return 0;
    const page = this.page(Math.floor(byte / SLICE));
    return (page[byte % SLICE] >> (7 - (offset & 7))) & 1;
  }

  setBit(offset: number, bit: number): void {
    const byte = Math.floor(offset / 8);
    const n = Math.floor(byte / SLICE);
    const page = this.page(n);
    const i = byte % SLICE;
    const mask = 1 << (7 - (offset & 7));
    const next = bit ? page[i] | mask : page[i] & ~mask;
    if (next !== page[i]) {
      page[i] = next;
      this.changed.add(n);
    }
  }

  getUnsigned(offset: number, bits: number): bigint {
    let value = 0n;
    for (let j = 0; j < bits; j++) value = (value << 1n) | BigInt(this.getBit(offset + j));
    return value;
  }

  getSigned(offset: number, bits: number): bigint {
    return BigInt.asIntN(bits, this.getUnsigned(offset, bits));
  }

  setUnsigned(offset: number, bits: number, value: bigint): void {
    for (let j = 0; j < bits; j++) this.setBit(offset + j, Number((value >> BigInt(bits - 1 - j)) & 1n));
  }

  flush(): void {
    if (!this.record) return;
    for (const n of [...this.changed].sort((a, b) => a - b)) {
      this.keys.writeStringRange(this.record, n * SLICE, this.pages.get(n)!);
    }
    this.changed.clear();
  }
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const I64 = (v: bigint): bigint => BigInt.asIntN(64, v);

/** checkUnsignedBitfieldOverflow, on uint64/int64 values as C computes them. Returns [overflow, limit]. */
function unsignedOverflow(value: bigint, incr: bigint, bits: number, owtype: number): [number, bigint] {
  const max = (1n << BigInt(bits)) - 1n;
  const maxincr = I64(max - value);
  const minincr = I64(-value);
  const wrap = (): bigint => U64(value + incr) & max;
  if (value > max || (incr > 0n && incr > maxincr)) {
    return [1, owtype === WRAP ? wrap() : owtype === SAT ? max : 0n];
  } else if (incr < 0n && incr < minincr) {
    return [-1, owtype === WRAP ? wrap() : 0n];
  }
  return [0, 0n];
}

/** checkSignedBitfieldOverflow. Returns [overflow, limit]. */
function signedOverflow(value: bigint, incr: bigint, bits: number, owtype: number): [number, bigint] {
  const max = bits === 64 ? 2n ** 63n - 1n : (1n << BigInt(bits - 1)) - 1n;
  const min = -max - 1n;
  const maxincr = I64(U64(max) - U64(value));
  const minincr = I64(min - value);
  const wrap = (): bigint => {
    let c = U64(value + incr);
    if (bits < 64) {
      const msb = 1n << BigInt(bits - 1);
      const mask = U64(-1n << BigInt(bits));
      c = c & msb ? c | mask : c & ~mask;
    }
    return I64(c);
  };
  if (value > max || (bits !== 64 && incr > maxincr) || (value >= 0n && incr > 0n && incr > maxincr)) {
    return [1, owtype === WRAP ? wrap() : owtype === SAT ? max : 0n];
  } else if (value < min || (bits !== 64 && incr < minincr) || (value < 0n && incr < 0n && incr < minincr)) {
    return [-1, owtype === WRAP ? wrap() : owtype === SAT ? min : 0n];
  }
  return [0, 0n];
}

function bitfieldGeneric(call: CommandCall, readonlyCommand: boolean): Reply {
  const argv = call.argv;
  const ops: BitfieldOp[] = [];
  let overflow = WRAP;
  let readonly = true;
  let highestWrite = 0;
  for (let j = 2; j < argv.length; j++) {
    const remaining = argv.length - j - 1;
    const sub = cOption(argv[j]);
    let opcode: number;
    if (sub === "get" && remaining >= 2) opcode = OP_GET;
    else if (sub === "set" && remaining >= 3) opcode = OP_SET;
    else if (sub === "incrby" && remaining >= 3) opcode = OP_INCRBY;
    else if (sub === "overflow" && remaining >= 1) {
      const kind = cOption(argv[++j]);
      if (kind === "wrap") overflow = WRAP;
      else if (kind === "sat") overflow = SAT;
      else if (kind === "fail") overflow = FAIL;
      else fail(ERR_OVERFLOW_TYPE);
      continue;
    } else {
      fail(Errors.syntax);
    }
    const { signed, bits } = bitfieldType(argv[j + 1]);
    const offset = bitOffset(call, argv[j + 2], true, bits);
    let value = 0n;
    if (opcode !== OP_GET) {
      readonly = false;
      if (highestWrite < offset + bits - 1) highestWrite = offset + bits - 1;
      value = parseLongLong(argv[j + 3]);
    }
    ops.push({ offset, value, opcode, overflow, bits, signed });
    j += opcode === OP_GET ? 2 : 3;
  }

  let view: BitPages;
  let grown = false;
  if (readonly) {
    const record = readString(call, argv[1]);
    view = new BitPages(call.keys, record, record ? call.keys.stringLength(record) : 0);
  } else {
    if (readonlyCommand) fail(ERR_BITFIELD_RO);
    const target = stringForBits(call, argv[1], highestWrite);
    grown = target.grown;
    view = new BitPages(call.keys, target.record, target.length);
  }

  const replies: Reply[] = [];
  let changes = 0;
  for (const op of ops) {
    if (op.opcode === OP_GET) {
      replies.push(int64Reply(op.signed ? view.getSigned(op.offset, op.bits) : view.getUnsigned(op.offset, op.bits)));
      continue;
    }
    let oldval: bigint;
    let newval: bigint;
    let retval: bigint;
    let over: number;
    if (op.signed) {
      oldval = view.getSigned(op.offset, op.bits);
      if (op.opcode === OP_INCRBY) {
        const [o, limit] = signedOverflow(oldval, op.value, op.bits, op.overflow);
        over = o;
        newval = o ? limit : I64(oldval + op.value);
        retval = newval;
      } else {
        const [o, limit] = signedOverflow(op.value, 0n, op.bits, op.overflow);
        over = o;
        newval = o ? limit : op.value;
        retval = oldval;
      }
    } else {
      oldval = view.getUnsigned(op.offset, op.bits);
      if (op.opcode === OP_INCRBY) {
        const [o, limit] = unsignedOverflow(oldval, op.value, op.bits, op.overflow);
        over = o;
        newval = o ? limit : U64(oldval + op.value);
        retval = newval;
      } else {
        const uv = U64(op.value);
        const [o, limit] = unsignedOverflow(uv, 0n, op.bits, op.overflow);
        over = o;
        newval = o ? limit : uv;
        retval = oldval;
      }
    }
    if (over && op.overflow === FAIL) {
      replies.push(NULL);
      continue;
    }
    // The reply is the C int64 of the value (unsigned fields are at most 63 bits).
    replies.push(int64Reply(I64(retval)));
    view.setUnsigned(op.offset, op.bits, U64(newval));
    if (grown || oldval !== newval) changes++;
  }
  view.flush();
  if (changes > 0) call.dirty += changes;
  else if (grown) call.dirty++; // see the header: keep replicas in step with the padding
  return array(replies);
}

export const bitmapCommands: HandlerTable = {
  setbit,
  getbit,
  bitcount,
  bitpos,
  bitop,
  bitfield: (call) => bitfieldGeneric(call, false),
  bitfield_ro: (call) => bitfieldGeneric(call, true),
};

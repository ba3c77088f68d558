/**
 * List commands (Redis 7.0 t_list.c), on SQL, blocking variants included.
 *
 * Storage: one row per element in `list_items(key_id, pos, value)`, primary
 * key (key_id, pos). `pos` only orders the elements: the list is the rows in
 * `pos` order. Positions are spaced LIST_STEP apart, so
 *
 * - LPUSH/RPUSH take min(pos) - STEP / max(pos) + STEP (an indexed
 *   `ORDER BY pos LIMIT 1`, O(log n));
 * - LINSERT takes the midpoint between the pivot and its neighbour; when two
 *   neighbours are adjacent integers the list is renumbered (O(n), rare:
 *   about 20 insertions at the same spot between renumberings);
 * - positions stay within ±LIST_POS_LIMIT so that they round-trip exactly
 *   through JS numbers: a list that drifts there (a long-lived queue pushed at
 *   one end and popped at the other) is renumbered around 0 first.
 *
 * Index access goes from the nearer end (`ORDER BY pos ASC|DESC LIMIT 1
 * OFFSET k`), so LINDEX/LSET/LRANGE/LTRIM near either end are O(log n + k).
 * Reads that return many elements page through SQL in batches of PAGE_ROWS.
 * LPOS, LREM and LINSERT's pivot search scan in SQL (`value = ?`) and bring
 * back only positions.
 *
 * The key row's `count` is the length (LLEN is O(1)); Keyspace.updateCount
 * keeps it and deletes the key when a list becomes empty, as Redis does.
 *
 * Blocking commands first try the non-blocking path and otherwise return
 * `call.block(...)`. When a key they wait on changes, the engine runs the
 * same command again for the blocked clients in the order they blocked
 * (Server.serveReadyKeys); such a re-run (`call.client.blocked` is set) looks
 * only at the key that became ready, and ignores it unless it is a list, as
 * Redis 7.0 serves blocked clients (serveClientsBlockedOnListKey).
 *
 * Effects (DESIGN.md invariant 4), as Redis 7.0 propagates them: BLPOP ->
 * LPOP key, BRPOP -> RPOP key, LMPOP/BLMPOP -> LPOP|RPOP key <popped count>,
 * BLMOVE -> LMOVE (with the caller's LEFT/RIGHT when it did not block,
 * "left"/"right" when it was served after blocking), BRPOPLPUSH -> RPOPLPUSH.
 * Everything else propagates as called when it changed something.
 */
import {
  array, bulk, bulkArray, EMPTY_ARRAY, integer, NULL, NULL_ARRAY, OK, ZERO,
  type Reply,
} from "../resp/reply.ts";
import type { Blocked } from "../engine/blocking.ts";
import type { CommandCall } from "../engine/call.ts";
import { dbKeyId } from "../engine/client.ts";
import { Errors, fail, wrongArity } from "../engine/errors.ts";
import { KeyType, type KeyRecord } from "../engine/keyspace.ts";
import { blob, num, type Sql } from "../store/sql.ts";
import { equalBytes } from "../util/bytes.ts";
import { parseInt64, parseLongDouble } from "../util/numbers.ts";
import type { HandlerTable } from "./spec.ts";

/**
 * The largest element a list accepts: one element is one SQLite row, and a
 * Durable Object row holds at most 2 MB. Larger elements are refused with
 * Errors.elementTooLarge before anything is written.
 */
export const LIST_ELEMENT_MAX = 1024 * 1024;
/** Distance between the positions of neighbours after a push or a renumbering. */
export const LIST_STEP = 2 ** 20;
/** Positions stay strictly inside ±this (JS numbers are exact up to 2^53). */
export const LIST_POS_LIMIT = 2 ** 52;

/** Rows per SQL page when a command reads or pops many elements. */
const PAGE_ROWS = 256;
/** Rows per multi-row INSERT (3 bound parameters each; a Durable Object allows 100 per statement). */
const INSERT_ROWS = 32;
/** Timeouts longer than this (about 139 years) wait forever: no alarm is set that far out. */
const FOREVER_MS = 2 ** 42;

const ERR_INDEX_OUT_OF_RANGE = "ERR index out of range";
const ERR_MUST_BE_POSITIVE = "ERR value is out of range, must be positive";
const ERR_RANK_ZERO =
  "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const ERR_COUNT_NEGATIVE = "ERR COUNT can't be negative";
const ERR_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative";
const ERR_NUMKEYS = "ERR numkeys should be greater than 0";
const ERR_COUNT_POSITIVE = "ERR count should be greater than 0";
const ERR_TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range";
const ERR_TIMEOUT_NEGATIVE = "ERR timeout is negative";

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

type End = "head" | "tail";
const ASC = { head: "ASC", tail: "DESC" } as const;

interface PosRow {
  [column: string]: number | bigint | ArrayBuffer | Uint8Array | null;
  pos: number;
}
interface ItemRow extends PosRow {
  value: ArrayBuffer | Uint8Array;
}

// ---- argument parsing -----------------------------------------------------------

/** A C long argument (getLongFromObjectOrReply), clamped to the JS safe range (lists are far shorter). */
function longArg(call: CommandCall, i: number, message: string = Errors.notInteger): number {
  const value = parseInt64(call.argv[i]);
  if (value === null) fail(message);
  return clamp(value);
}

function clamp(value: bigint): number {
  return Number(value > MAX_SAFE ? MAX_SAFE : value < -MAX_SAFE ? -MAX_SAFE : value);
}

/** getRangeLongFromObjectOrReply(min..LONG_MAX, msg): the same message for a bad integer and for one out of range. */
function rangeArg(call: CommandCall, i: number, min: bigint, message: string): number {
  const value = parseInt64(call.argv[i]);
  if (value === null || value < min || value > LONG_MAX) fail(message);
  return clamp(value);
}

/** LEFT | RIGHT (getListPositionFromObjectOrReply). */
function endArg(call: CommandCall, i: number): End {
  const option = call.option(i);
  if (option === "left") return "head";
  if (option === "right") return "tail";
  fail(Errors.syntax);
}

/**
 * A blocking command's timeout in seconds (getTimeoutFromObjectOrReply,
 * UNIT_SECONDS): a long double, `ceill(t * 1000)` converted to long long. As
 * on x86-64 Redis, a value whose milliseconds do not fit a long long
 * (including inf) converts to LLONG_MIN and is "negative". Returns relative
 * ms, 0 for "forever".
 */
export function parseTimeout(arg: Uint8Array): number {
  const value = parseLongDouble(arg);
  if (value === null || value.kind === "nan") fail(ERR_TIMEOUT_NOT_FLOAT);
  if (value.kind === "infinite") fail(ERR_TIMEOUT_NEGATIVE);
  // The product is rounded to the 64-bit significand of a long double before ceill.
  const [m, e] = roundSignificand(value.mantissa * 1000n, value.exponent, 64);
  let ms: bigint;
  if (e >= 0) {
    ms = m << BigInt(e);
  } else {
    const whole = m >> BigInt(-e);
    const exact = whole << BigInt(-e) === m;
    ms = value.negative || exact ? whole : whole + 1n; // ceil(-x) = -floor(x)
  }
  if (value.negative) ms = -ms;
  if (ms > LONG_MAX || ms < LONG_MIN || ms < 0n) fail(ERR_TIMEOUT_NEGATIVE);
  return ms > BigInt(FOREVER_MS) ? 0 : Number(ms);
}

/** m * 2^e rounded (to nearest, ties to even) to `bits` significant bits. */
function roundSignificand(m: bigint, e: number, bits: number): [bigint, number] {
  const length = m.toString(2).length;
  if (m === 0n || length <= bits) return [m, e];
  let shift = length - bits;
  let q = m >> BigInt(shift);
  const rest = m - (q << BigInt(shift));
  const half = 1n << BigInt(shift - 1);
  if (rest > half || (rest === half && (q & 1n) === 1n)) q++;
  if (q >> BigInt(bits) !== 0n) {
    q >>= 1n;
    shift++;
  }
  return [q, e + shift];
}

function checkElementSize(elements: readonly Uint8Array[]): void {
  for (const element of elements) if (element.length > LIST_ELEMENT_MAX) fail(Errors.elementTooLarge);
}

// ---- positions ----------------------------------------------------------------------

/** The position of the first (head) or last (tail) element, or null for no rows. */
function endPos(sql: Sql, id: number, end: End): number | null {
  const row = sql.one<PosRow>(`SELECT pos FROM list_items WHERE key_id = ? ORDER BY pos ${ASC[end]} LIMIT 1`, id);
  return row ? num(row.pos) : null;
}

/** The position of element `index` (0 <= index < count), walked to from the nearer end. */
function posAt(sql: Sql, id: number, count: number, index: number): number {
  const fromTail = count - 1 - index;
  const row = index <= fromTail
    ? sql.one<PosRow>(`SELECT pos FROM list_items WHERE key_id = ? ORDER BY pos ASC LIMIT 1 OFFSET ?`, id, index)
    : sql.one<PosRow>(`SELECT pos FROM list_items WHERE key_id = ? ORDER BY pos DESC LIMIT 1 OFFSET ?`, id, fromTail);
  if (!row) throw new Error(`list ${id}: no element at index ${index} of ${count}`);
  return num(row.pos);
}

/**
 * Gives every element of the list a fresh position, LIST_STEP apart and
 * centred on 0, keeping the order. O(n), in pages: the rows are first parked
 * under key id -id (ids are positive) so old and new positions never collide.
 */
function renumber(sql: Sql, id: number, count: number): void {
  const parked = -id;
  sql.run(`UPDATE list_items SET key_id = ? WHERE key_id = ?`, parked, id);
  let next = -Math.floor(count / 2) * LIST_STEP;
  for (;;) {
    const rows = sql.all<PosRow>(`SELECT pos FROM list_items WHERE key_id = ? ORDER BY pos LIMIT ?`, parked, PAGE_ROWS);
    if (rows.length === 0) return;
    for (const row of rows) {
      sql.run(
        `INSERT INTO list_items (key_id, pos, value) SELECT ?, ?, value FROM list_items WHERE key_id = ? AND pos = ?`,
        id, next, parked, num(row.pos),
      );
      next += LIST_STEP;
    }
    sql.run(`DELETE FROM list_items WHERE key_id = ? AND pos <= ?`, parked, num(rows[rows.length - 1].pos));
  }
}

/** Inserts `values` one after the other at one end (LPUSH a b c leaves c first). */
function insertAtEnd(sql: Sql, record: KeyRecord, values: readonly Uint8Array[], end: End): void {
  if (values.length === 0) return;
  const sign = end === "head" ? -1 : 1;
  let edge = endPos(sql, record.id, end);
  let first: number;
  if (edge === null) {
    first = 0;
  } else {
    if (Math.abs(edge + sign * LIST_STEP * values.length) >= LIST_POS_LIMIT) {
      renumber(sql, record.id, record.count);
      edge = endPos(sql, record.id, end)!;
    }
    first = edge + sign * LIST_STEP;
  }
  for (let start = 0; start < values.length; start += INSERT_ROWS) {
    const batch = values.slice(start, start + INSERT_ROWS);
    const params: (number | Uint8Array)[] = [];
    batch.forEach((value, i) => params.push(record.id, first + sign * LIST_STEP * (start + i), value));
    sql.run(`INSERT INTO list_items (key_id, pos, value) VALUES ${batch.map(() => "(?, ?, ?)").join(", ")}`, ...params);
  }
}

/** Pushes onto a list, creating it when `record` is null; returns the new length. */
function pushElements(call: CommandCall, record: KeyRecord | null, key: Uint8Array, values: readonly Uint8Array[], end: End): number {
  const list = record ?? call.keys.createCollection(call.db, key, KeyType.list);
  insertAtEnd(call.server.sql, list, values, end);
  call.keys.updateCount(list, list.count + values.length);
  return list.count;
}

/** Removes up to `k` elements from one end and returns them in popping order. Does not update the count. */
function removeFromEnd(sql: Sql, id: number, end: End, k: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (out.length < k) {
    const limit = Math.min(PAGE_ROWS, k - out.length);
    const rows = sql.all<ItemRow>(
      `SELECT pos, value FROM list_items WHERE key_id = ? ORDER BY pos ${ASC[end]} LIMIT ?`, id, limit,
    );
    for (const row of rows) out.push(blob(row.value));
    if (rows.length > 0) {
      const last = num(rows[rows.length - 1].pos);
      sql.run(`DELETE FROM list_items WHERE key_id = ? AND pos ${end === "head" ? "<=" : ">="} ?`, id, last);
    }
    if (rows.length < limit) break;
  }
  return out;
}

/** Pops up to `k` elements from one end of a live list, keeping the count (and deleting an emptied key). */
function popElements(call: CommandCall, record: KeyRecord, end: End, k: number): Uint8Array[] {
  const values = removeFromEnd(call.server.sql, record.id, end, Math.min(k, record.count));
  call.keys.updateCount(record, record.count - values.length);
  return values;
}

/** Elements start..end (0 <= start <= end < count), head to tail, read in pages. */
function readRange(sql: Sql, record: KeyRecord, start: number, end: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let remaining = end - start + 1;
  let from = posAt(sql, record.id, record.count, start);
  let op = ">=";
  while (remaining > 0) {
    const limit = Math.min(PAGE_ROWS, remaining);
    const rows = sql.all<ItemRow>(
      `SELECT pos, value FROM list_items WHERE key_id = ? AND pos ${op} ? ORDER BY pos LIMIT ?`, record.id, from, limit,
    );
    for (const row of rows) out.push(blob(row.value));
    if (rows.length < limit) break;
    remaining -= rows.length;
    from = num(rows[rows.length - 1].pos);
    op = ">";
  }
  return out;
}

/** Redis's range normalization (addListRangeReply / LTRIM): null when empty. */
function normalizeRange(start: number, end: number, length: number): [number, number] | null {
  if (start < 0) start = length + start;
  if (end < 0) end = length + end;
  if (start < 0) start = 0;
  if (start > end || start >= length) return null;
  if (end >= length) end = length - 1;
  return [start, end];
}

// ---- lookups ----------------------------------------------------------------------------

/** A live list for a write command; null when missing; WRONGTYPE otherwise. */
function writeList(call: CommandCall, key: Uint8Array): KeyRecord | null {
  return call.keys.lookupType(call.db, key, KeyType.list);
}

/** A live list for a read command (counted as a keyspace hit or miss). */
function readList(call: CommandCall, key: Uint8Array): KeyRecord | null {
  return call.keys.read(call.db, key, KeyType.list);
}

/**
 * True when the engine re-runs a blocked client's command because a key it
 * waits on changed (Server.serveReadyKeys): the client is still marked blocked.
 */
function isServingBlocked(call: CommandCall): boolean {
  return call.client.blocked !== null;
}

/**
 * The keys a blocking pop looks at. A first run looks at all of them, in
 * order. A re-run for a key that became ready looks only at that key, as
 * Redis 7.0 serves a blocked client from the ready key.
 */
function candidateKeys(call: CommandCall, keys: readonly Uint8Array[]): readonly Uint8Array[] {
  if (!isServingBlocked(call)) return keys;
  const ready = call.server.servingKeyId;
  if (ready === null) return keys;
  const match = keys.find((key) => dbKeyId(call.db, key) === ready);
  return match ? [match] : keys;
}

/**
 * The first non-empty list among `keys`, as Redis's blocking and multi-key
 * pops look for one: missing keys are skipped, a key of another type is
 * WRONGTYPE (on a re-run for a blocked client it is skipped instead: Redis
 * only serves blocked clients from lists).
 */
function firstList(call: CommandCall, keys: readonly Uint8Array[]): { key: Uint8Array; record: KeyRecord } | null {
  const skipOtherTypes = isServingBlocked(call);
  for (const key of keys) {
    const record = call.keys.lookup(call.db, key);
    if (!record) continue;
    if (record.type !== KeyType.list) {
      if (skipOtherTypes) continue;
      fail(Errors.wrongType);
    }
    if (record.count > 0) return { key, record };
  }
  return null;
}

// ---- pushes ---------------------------------------------------------------------------------

/** LPUSH/RPUSH/LPUSHX/RPUSHX. */
function push(end: End, onlyIfExists: boolean) {
  return (call: CommandCall): Reply => {
    const key = call.argv[1];
    const record = writeList(call, key);
    if (!record && onlyIfExists) return ZERO;
    const values = call.argv.slice(2);
    checkElementSize(values);
    const length = pushElements(call, record, key, values, end);
    call.dirty += values.length;
    return integer(length);
  };
}

// ---- pops -----------------------------------------------------------------------------------

/** LPOP/RPOP key [count]. */
function pop(end: End) {
  return (call: CommandCall): Reply => {
    const argc = call.argv.length;
    if (argc > 3) fail(wrongArity(call.command.fullName));
    const hasCount = argc === 3;
    const count = hasCount ? rangeArg(call, 2, 0n, ERR_MUST_BE_POSITIVE) : 1;
    const record = writeList(call, call.argv[1]);
    if (!record) return hasCount ? NULL_ARRAY : NULL;
    if (hasCount && count === 0) return EMPTY_ARRAY;
    const values = popElements(call, record, end, count);
    call.dirty += values.length;
    return hasCount ? bulkArray(values) : bulk(values[0]);
  };
}

/**
 * Pops from the first non-empty list among `keys` (LMPOP, BLPOP, BRPOP,
 * BLMPOP). `count` null: one element, answered [key, element]; otherwise up
 * to `count`, answered [key, [elements]]. The effect is the single-key pop
 * that happened. Null when every list is empty or missing.
 */
function popFirst(call: CommandCall, keys: readonly Uint8Array[], end: End, count: number | null): Reply | null {
  const found = firstList(call, keys);
  if (!found) return null;
  const { key, record } = found;
  const name = end === "head" ? "LPOP" : "RPOP";
  const values = popElements(call, record, end, count ?? 1);
  call.dirty += values.length;
  if (count === null) {
    call.rewrite([name, key]);
    return array([bulk(key), bulk(values[0])]);
  }
  call.rewrite([name, key, String(values.length)]);
  return array([bulk(key), bulkArray(values)]);
}

/** BLPOP/BRPOP key [key ...] timeout. */
function blockingPop(end: End) {
  return (call: CommandCall): Reply | Blocked => {
    const argc = call.argv.length;
    const timeout = parseTimeout(call.argv[argc - 1]);
    const keys = call.argv.slice(1, argc - 1);
    return popFirst(call, candidateKeys(call, keys), end, null) ?? call.block(keys, timeout, NULL_ARRAY);
  };
}

/** LMPOP/BLMPOP's arguments after the timeout: numkeys key [key ...] LEFT|RIGHT [COUNT count]. */
function parseMpop(call: CommandCall, numkeysAt: number): { keys: Uint8Array[]; end: End; count: number } {
  const argc = call.argv.length;
  const numkeys = rangeArg(call, numkeysAt, 1n, ERR_NUMKEYS);
  const whereAt = numkeysAt + numkeys + 1;
  if (whereAt >= argc) fail(Errors.syntax);
  const end = endArg(call, whereAt);
  let count = -1;
  for (let j = whereAt + 1; j < argc; j++) {
    if (count === -1 && call.option(j) === "count" && j < argc - 1) {
      count = rangeArg(call, ++j, 1n, ERR_COUNT_POSITIVE);
    } else {
      fail(Errors.syntax);
    }
  }
  return { keys: call.argv.slice(numkeysAt + 1, whereAt), end, count: count === -1 ? 1 : count };
}

function lmpop(call: CommandCall): Reply {
  const { keys, end, count } = parseMpop(call, 1);
  return popFirst(call, keys, end, count) ?? NULL_ARRAY;
}

function blmpop(call: CommandCall): Reply | Blocked {
  const { keys, end, count } = parseMpop(call, 2);
  const timeout = parseTimeout(call.argv[1]);
  return popFirst(call, candidateKeys(call, keys), end, count) ?? call.block(keys, timeout, NULL_ARRAY);
}

// ---- moves ------------------------------------------------------------------------------------

/**
 * Pops one element from `source`'s `from` end and pushes it onto
 * `destination`'s `to` end (the same list rotates). Null when the source is
 * missing; WRONGTYPE for either key, checked before anything moves.
 */
function move(call: CommandCall, source: Uint8Array, destination: Uint8Array, from: End, to: End): Reply {
  const src = writeList(call, source);
  if (!src) return NULL;
  const sameKey = equalBytes(source, destination);
  const dst = sameKey ? src : writeList(call, destination);
  const sql = call.server.sql;
  const [value] = removeFromEnd(sql, src.id, from, 1);
  if (sameKey) {
    insertAtEnd(sql, src, [value], to);
    call.keys.updateCount(src, src.count);
  } else {
    call.keys.updateCount(src, src.count - 1);
    pushElements(call, dst, destination, [value], to);
  }
  call.dirty++;
  return bulk(value);
}

function lmove(call: CommandCall): Reply {
  const from = endArg(call, 3);
  const to = endArg(call, 4);
  return move(call, call.argv[1], call.argv[2], from, to);
}

function rpoplpush(call: CommandCall): Reply {
  return move(call, call.argv[1], call.argv[2], "tail", "head");
}

/**
 * BLMOVE/BRPOPLPUSH with an empty source. Redis 7.0 answers a null bulk when
 * it may not block (inside MULTI), but a null array when a blocked client
 * times out (replyToBlockedClientTimedOut answers every BLOCKED_LIST client so).
 */
function waitForSource(call: CommandCall, source: Uint8Array, timeout: number): Reply | Blocked {
  if (call.server.inTransaction) return NULL;
  return call.block([source], timeout, NULL_ARRAY);
}

/** BLMOVE/BRPOPLPUSH: LMOVE when the source has elements, else wait for it. */
function blockingMove(call: CommandCall, from: End, to: End, timeout: number, asRpoplpush: boolean): Reply | Blocked {
  const source = call.argv[1];
  const destination = call.argv[2];
  const served = isServingBlocked(call);
  const record = call.keys.lookup(call.db, source);
  if (record && record.type !== KeyType.list) {
    // Redis serves blocked clients only from lists: a re-run keeps waiting.
    if (served) return waitForSource(call, source, timeout);
    fail(Errors.wrongType);
  }
  if (!record) return waitForSource(call, source, timeout);
  const reply = move(call, source, destination, from, to);
  if (asRpoplpush) {
    call.rewrite(["RPOPLPUSH", source, destination]);
  } else if (served) {
    call.rewrite(["LMOVE", source, destination, from === "head" ? "left" : "right", to === "head" ? "left" : "right"]);
  } else {
    call.rewrite(["LMOVE", source, destination, call.argv[3], call.argv[4]]);
  }
  return reply;
}

function blmove(call: CommandCall): Reply | Blocked {
  const from = endArg(call, 3);
  const to = endArg(call, 4);
  const timeout = parseTimeout(call.argv[5]);
  return blockingMove(call, from, to, timeout, false);
}

function brpoplpush(call: CommandCall): Reply | Blocked {
  const timeout = parseTimeout(call.argv[3]);
  return blockingMove(call, "tail", "head", timeout, true);
}

// ---- reads ----------------------------------------------------------------------------------

function llen(call: CommandCall): Reply {
  const record = readList(call, call.argv[1]);
  return record ? integer(record.count) : ZERO;
}

function lindex(call: CommandCall): Reply {
  const record = readList(call, call.argv[1]);
  if (!record) return NULL;
  let index = longArg(call, 2);
  if (index < 0) index += record.count;
  if (index < 0 || index >= record.count) return NULL;
  const fromTail = record.count - 1 - index;
  const row = index <= fromTail
    ? call.server.sql.one<ItemRow>(`SELECT value FROM list_items WHERE key_id = ? ORDER BY pos ASC LIMIT 1 OFFSET ?`, record.id, index)
    : call.server.sql.one<ItemRow>(`SELECT value FROM list_items WHERE key_id = ? ORDER BY pos DESC LIMIT 1 OFFSET ?`, record.id, fromTail);
  return row ? bulk(blob(row.value)) : NULL;
}

function lrange(call: CommandCall): Reply {
  const start = longArg(call, 2);
  const end = longArg(call, 3);
  const record = readList(call, call.argv[1]);
  if (!record) return EMPTY_ARRAY;
  const range = normalizeRange(start, end, record.count);
  if (!range) return EMPTY_ARRAY;
  return bulkArray(readRange(call.server.sql, record, range[0], range[1]));
}

/**
 * LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. The scan
 * runs in SQL (`value = ?`) and returns positions of matches only; the index
 * of a reported match is counted over the rows since the previous one.
 */
function lpos(call: CommandCall): Reply {
  const argc = call.argv.length;
  const element = call.argv[2];
  let rank = 1;
  let rankIsLongMin = false;
  let count = -1; // -1: no COUNT option
  let maxlen = 0;
  for (let j = 3; j < argc; j++) {
    const option = call.option(j);
    const moreArgs = j < argc - 1;
    if (option === "rank" && moreArgs) {
      const value = parseInt64(call.argv[++j]);
      if (value === null) fail(Errors.notInteger);
      if (value === 0n) fail(ERR_RANK_ZERO);
      rankIsLongMin = value === LONG_MIN;
      rank = clamp(value);
    } else if (option === "count" && moreArgs) {
      count = rangeArg(call, ++j, 0n, ERR_COUNT_NEGATIVE);
    } else if (option === "maxlen" && moreArgs) {
      maxlen = rangeArg(call, ++j, 0n, ERR_MAXLEN_NEGATIVE);
    } else {
      fail(Errors.syntax);
    }
  }

  const record = readList(call, call.argv[1]);
  if (!record) return count !== -1 ? EMPTY_ARRAY : NULL;

  const sql = call.server.sql;
  const length = record.count;
  const backwards = rank < 0;
  // Redis negates a negative rank; -LONG_MIN stays negative there, so every match
  // qualifies and the COUNT limit never triggers (its overflowed test is never true).
  const skip = rankIsLongMin ? 0 : Math.abs(rank) - 1;
  const wanted = count === -1 ? 1 : count === 0 || rankIsLongMin ? Infinity : count;
  const order = backwards ? "DESC" : "ASC";
  const after = backwards ? "<" : ">";
  const before = backwards ? ">" : "<";

  // MAXLEN: only the first `maxlen` elements in the scan's direction.
  let bound = "";
  const boundParams: number[] = [];
  if (maxlen > 0 && maxlen < length) {
    const last = posAt(sql, record.id, length, backwards ? length - maxlen : maxlen - 1);
    bound = ` AND pos ${backwards ? ">=" : "<="} ?`;
    boundParams.push(last);
  }

  const found: number[] = [];
  let matches = 0;
  let cursor: number | null = null;
  let anchor: { pos: number; index: number } | null = null; // last reported match, index in scan order
  scan: for (;;) {
    const rows: PosRow[] = cursor === null
      ? sql.all<PosRow>(
        `SELECT pos FROM list_items WHERE key_id = ? AND value = ?${bound} ORDER BY pos ${order} LIMIT ?`,
        record.id, element, ...boundParams, PAGE_ROWS,
      )
      : sql.all<PosRow>(
        `SELECT pos FROM list_items WHERE key_id = ? AND value = ? AND pos ${after} ?${bound} ORDER BY pos ${order} LIMIT ?`,
        record.id, element, cursor, ...boundParams, PAGE_ROWS,
      );
    for (const row of rows) {
      matches++;
      if (matches <= skip) continue;
      const pos = num(row.pos);
      const between = anchor === null
        ? sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM list_items WHERE key_id = ? AND pos ${before} ?`, record.id, pos)
        : sql.one<{ n: number }>(
          `SELECT COUNT(*) AS n FROM list_items WHERE key_id = ? AND pos ${after} ? AND pos ${before} ?`,
          record.id, anchor.pos, pos,
        );
      const index: number = (anchor === null ? 0 : anchor.index + 1) + num(between?.n);
      anchor = { pos, index };
      found.push(backwards ? length - 1 - index : index);
      if (found.length >= wanted) break scan;
    }
    if (rows.length < PAGE_ROWS) break;
    cursor = num(rows[rows.length - 1].pos);
  }

  if (count !== -1) return array(found.map((i) => integer(i)));
  return found.length > 0 ? integer(found[0]) : NULL;
}

// ---- in-place writes ---------------------------------------------------------------------------

function lset(call: CommandCall): Reply {
  const record = writeList(call, call.argv[1]);
  if (!record) fail(Errors.noSuchKey);
  let index = longArg(call, 2);
  const value = call.argv[3];
  if (index < 0) index += record.count;
  if (index < 0 || index >= record.count) fail(ERR_INDEX_OUT_OF_RANGE);
  checkElementSize([value]);
  const sql = call.server.sql;
  const pos = posAt(sql, record.id, record.count, index);
  sql.run(`UPDATE list_items SET value = ? WHERE key_id = ? AND pos = ?`, value, record.id, pos);
  call.keys.updateCount(record, record.count);
  call.dirty++;
  return OK;
}

function ltrim(call: CommandCall): Reply {
  const start = longArg(call, 2);
  const end = longArg(call, 3);
  const record = writeList(call, call.argv[1]);
  if (!record) return OK;
  const length = record.count;
  const range = normalizeRange(start, end, length);
  const sql = call.server.sql;
  let removed: number;
  if (!range) {
    removed = length; // updateCount(0) deletes the key and its rows
  } else {
    const [first, last] = range;
    removed = first + (length - 1 - last);
    // Both bounds are read before anything is deleted: indexes refer to the list as it was.
    const firstPos = first > 0 ? posAt(sql, record.id, length, first) : null;
    const lastPos = last < length - 1 ? posAt(sql, record.id, length, last) : null;
    if (firstPos !== null) sql.run(`DELETE FROM list_items WHERE key_id = ? AND pos < ?`, record.id, firstPos);
    if (lastPos !== null) sql.run(`DELETE FROM list_items WHERE key_id = ? AND pos > ?`, record.id, lastPos);
  }
  // Redis signals the key as modified even when nothing was trimmed (WATCH sees it).
  call.keys.updateCount(record, length - removed);
  call.dirty += removed;
  return OK;
}

function linsert(call: CommandCall): Reply {
  const where = call.option(2);
  if (where !== "before" && where !== "after") fail(Errors.syntax);
  const record = writeList(call, call.argv[1]);
  if (!record) return ZERO;
  const pivot = call.argv[3];
  const value = call.argv[4];
  checkElementSize([value]);
  const sql = call.server.sql;
  const before = where === "before";
  for (let attempt = 0; ; attempt++) {
    const found = sql.one<PosRow>(
      `SELECT pos FROM list_items WHERE key_id = ? AND value = ? ORDER BY pos LIMIT 1`, record.id, pivot,
    );
    if (!found) return integer(-1);
    const at = num(found.pos);
    const neighbour = sql.one<PosRow>(
      before
        ? `SELECT pos FROM list_items WHERE key_id = ? AND pos < ? ORDER BY pos DESC LIMIT 1`
        : `SELECT pos FROM list_items WHERE key_id = ? AND pos > ? ORDER BY pos ASC LIMIT 1`,
      record.id, at,
    );
    let pos: number | null = null;
    if (neighbour) {
      const other = num(neighbour.pos);
      if (Math.abs(other - at) >= 2) pos = Math.floor((at + other) / 2);
    } else {
      const candidate = before ? at - LIST_STEP : at + LIST_STEP;
      if (Math.abs(candidate) < LIST_POS_LIMIT) pos = candidate;
    }
    if (pos !== null) {
      sql.run(`INSERT INTO list_items (key_id, pos, value) VALUES (?, ?, ?)`, record.id, pos, value);
      break;
    }
    if (attempt > 0) throw new Error(`list ${record.id}: no room to insert after renumbering`);
    renumber(sql, record.id, record.count);
  }
  call.keys.updateCount(record, record.count + 1);
  call.dirty++;
  return integer(record.count);
}

function lrem(call: CommandCall): Reply {
  const toRemove = longArg(call, 2);
  const record = writeList(call, call.argv[1]);
  if (!record) return ZERO;
  const element = call.argv[3];
  const sql = call.server.sql;
  const removed = toRemove === 0
    ? sql.run(`DELETE FROM list_items WHERE key_id = ? AND value = ?`, record.id, element)
    : sql.run(
      `DELETE FROM list_items WHERE key_id = ? AND pos IN
         (SELECT pos FROM list_items WHERE key_id = ? AND value = ? ORDER BY pos ${toRemove > 0 ? "ASC" : "DESC"} LIMIT ?)`,
      record.id, record.id, element, Math.abs(toRemove),
    );
  if (removed > 0) {
    call.keys.updateCount(record, record.count - removed);
    call.dirty += removed;
  }
  return integer(removed);
}

// ---- table ---------------------------------------------------------------------------------------

export const listCommands: HandlerTable = {
  lpush: push("head", false),
  rpush: push("tail", false),
  lpushx: push("head", true),
  rpushx: push("tail", true),
  lpop: pop("head"),
  rpop: pop("tail"),
  llen,
  lindex,
  lset,
  lrange,
  ltrim,
  linsert,
  lrem,
  lpos,
  lmove,
  rpoplpush,
  lmpop,
  blpop: blockingPop("head"),
  brpop: blockingPop("tail"),
  blmove,
  brpoplpush,
  blmpop,
};

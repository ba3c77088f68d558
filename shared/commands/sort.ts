/**
 * SORT and SORT_RO (Redis 7.0 sort.c) on lists, sets and sorted sets.
 *
 *   SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]
 *
 * - Numeric sort (the default) reads every element (or its BY value) as a
 *   double the way Redis's strtod check does; one that is not a number fails
 *   the whole command with "ERR One or more scores can't be converted into
 *   double". Equal scores order by the elements' bytes.
 * - ALPHA compares bytes (C-string order, as strcoll does in the C/C.UTF-8
 *   locale; binary order with STORE). With BY, elements whose BY key is
 *   missing sort first.
 * - BY pattern: the first '*' is replaced by the element; "key->field" reads
 *   a hash field. A pattern without '*' (e.g. "nosort") skips sorting: lists
 *   and sorted sets keep their order (DESC reverses it, LIMIT takes a range of
 *   it), sets come in their reply order (an intset's numeric order, else
 *   member bytes), except with STORE, where a set is sorted ALPHA so that the
 *   stored list is deterministic (as Redis does).
 * - GET pattern (repeatable): "#" is the element itself; missing values are
 *   nulls in the reply and empty strings in a STORE.
 * - STORE replaces the destination with a list of the result (deleting it
 *   when the result is empty) and answers its length. SORT_RO has no STORE.
 *
 * Memory: sorting needs every element in memory, as in Redis. The input is
 * read from SQL in pages, and a SORT may hold at most 1,000,000 elements and
 * 64 MiB (elements, BY values and GET values: sortLimits);
 * beyond that it fails with a clear error. Unsorted reads (BY nosort) of a
 * list or sorted set load only the LIMIT range, so any range of a huge
 * collection can be read that way.
 *
 * Effects: SORT ... STORE propagates as called when it changed the
 * destination (Redis does the same); everything else is a read.
 */
import { array, bulk, integer, NULL, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { Errors, fail } from "../engine/errors.ts";
import { KeyType, type KeyRecord } from "../engine/keyspace.ts";
import { blob, num, type Row, type Sql, type SqlParam } from "../store/sql.ts";
import { compareBytes } from "../util/bytes.ts";
import { parseDouble, parseInt64, parseInt64Approx } from "../util/numbers.ts";
import { LIST_ELEMENT_MAX, LIST_STEP } from "./list.ts";
import { setEncoding } from "./set.ts";
import type { HandlerTable } from "./spec.ts";

/**
 * What one SORT may hold in memory: elements, and bytes (elements, BY and GET
 * values). Fixed in production; tests lower them to exercise the errors.
 */
export const sortLimits = {
  maxElements: 1_000_000,
  maxBytes: 64 * 1024 * 1024,
};

const ERR_SCORES = "ERR One or more scores can't be converted into double";
const HINT = "sort a smaller collection, or read a list or sorted set in ranges with BY nosort LIMIT";
const tooMany = (): string => `ERR SORT can hold at most ${sortLimits.maxElements} elements in memory; ${HINT}`;
const tooLarge = (): string => `ERR SORT can hold at most ${sortLimits.maxBytes} bytes in memory; ${HINT}`;

/** Rows per SQL page. */
const PAGE_ROWS = 512;
/** Rows per multi-row INSERT (3 parameters each; at most 100 per statement). */
const INSERT_ROWS = 32;
const MIN_NORMAL = 2.2250738585072014e-308;

const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** An option as C code compares it: up to the first NUL, lowercased. */
function cOption(arg: Uint8Array): string {
  const nul = arg.indexOf(0);
  return decoder.decode(nul < 0 ? arg : arg.subarray(0, nul)).toLowerCase();
}

/** strchr on a C string: the index of `byte` before the first NUL, or -1. */
function cIndexOf(s: Uint8Array, byte: number, from: number): number {
  for (let i = from; i < s.length && s[i] !== 0; i++) if (s[i] === byte) return i;
  return -1;
}

/** strcoll in the C / C.UTF-8 locale: byte order up to the first NUL of each. */
function cCompare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; ; i++) {
    const x = i < a.length ? a[i] : 0;
    const y = i < b.length ? b[i] : 0;
    if (x !== y) return x < y ? -1 : 1;
    if (x === 0) return 0;
  }
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/**
 * SORT's score of a value: strtod must consume the whole C string, without
 * NaN or ERANGE (overflow, underflow). An empty string is 0, as strtod makes it.
 */
function sortScore(value: Uint8Array): number | null {
  const nul = value.indexOf(0);
  const s = nul < 0 ? value : value.subarray(0, nul);
  if (s.length === 0) return 0;
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  if (i === s.length) return null;
  const d = parseDouble(i === 0 ? s : s.subarray(i));
  if (d === null) return null;
  if (d !== 0 && Math.abs(d) < MIN_NORMAL) return null; // strtod reports ERANGE for a subnormal result
  return d;
}

// ---- patterns ---------------------------------------------------------------------

class Budget {
  private bytes = 0;
  add(n: number): void {
    this.bytes += n;
    if (this.bytes > sortLimits.maxBytes) fail(tooLarge());
  }
}

/**
 * lookupKeyByPattern: "#" is the element itself; otherwise the first '*' is
 * replaced by the element and the key read as a string, or, with "->field"
 * after the '*', the field of a hash. Null when there is no such value (no
 * '*', no key, wrong type, no field).
 */
function lookupByPattern(call: CommandCall, pattern: Uint8Array, subst: Uint8Array): Uint8Array | null {
  if (pattern[0] === 0x23 /* # */ && (pattern.length === 1 || pattern[1] === 0)) return subst;
  const star = cIndexOf(pattern, 0x2a /* * */, 0);
  if (star < 0) return null;
  let arrow = -1;
  for (let i = star + 1; i + 1 < pattern.length && pattern[i] !== 0; i++) {
    if (pattern[i] === 0x2d /* - */ && pattern[i + 1] === 0x3e /* > */) {
      arrow = i;
      break;
    }
  }
  const hasField = arrow >= 0 && arrow + 2 < pattern.length && pattern[arrow + 2] !== 0;
  const postfixEnd = hasField ? arrow : pattern.length;
  const key = new Uint8Array(star + subst.length + (postfixEnd - star - 1));
  key.set(pattern.subarray(0, star), 0);
  key.set(subst, star);
  key.set(pattern.subarray(star + 1, postfixEnd), star + subst.length);

  const record = call.keys.read(call.db, key);
  if (!record) return null;
  if (hasField) {
    if (record.type !== KeyType.hash) return null;
    const row = call.server.sql.one<{ value: ArrayBuffer }>(
      `SELECT value FROM hash_fields WHERE key_id = ? AND field = ?`, record.id, pattern.subarray(arrow + 2),
    );
    return row ? blob(row.value) : null;
  }
  if (record.type !== KeyType.string) return null;
  return call.keys.readString(record);
}

// ---- reading the input ---------------------------------------------------------------

/**
 * Up to `count` elements of a collection from `offset` in an order, read in
 * SQL pages: the first page seeks with OFFSET, the next ones continue from
 * the last row seen.
 */
function readOrdered(
  sql: Sql, record: KeyRecord, desc: boolean, offset: number, count: number, budget: Budget,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const id = record.id;
  const dir = desc ? "DESC" : "ASC";
  const cmp = desc ? "<" : ">";
  let last: Row | null = null;
  while (out.length < count) {
    const limit = Math.min(PAGE_ROWS, count - out.length);
    let rows: Row[];
    let value: (row: Row) => Uint8Array;
    if (record.type === KeyType.list) {
      const params: SqlParam[] = last ? [id, num(last.pos), limit] : [id, limit, offset];
      rows = sql.all(
        last
          ? `SELECT pos, value FROM list_items WHERE key_id = ? AND pos ${cmp} ? ORDER BY pos ${dir} LIMIT ?`
          : `SELECT pos, value FROM list_items WHERE key_id = ? ORDER BY pos ${dir} LIMIT ? OFFSET ?`,
        ...params,
      );
      value = (row) => blob(row.value);
    } else if (record.type === KeyType.zset) {
      if (last) {
        const score = num(last.score);
        const member = blob(last.member);
        rows = sql.all(
          `SELECT member, score FROM zset_members WHERE key_id = ? AND score ${cmp}= ?
             AND (score ${cmp} ? OR member ${cmp} ?) ORDER BY score ${dir}, member ${dir} LIMIT ?`,
          id, score, score, member, limit,
        );
      } else {
        rows = sql.all(
          `SELECT member, score FROM zset_members WHERE key_id = ? ORDER BY score ${dir}, member ${dir} LIMIT ? OFFSET ?`,
          id, limit, offset,
        );
      }
      value = (row) => blob(row.member);
    } else {
      rows = sql.all(
        last
          ? `SELECT member FROM set_members WHERE key_id = ? AND member ${cmp} ? ORDER BY member ${dir} LIMIT ?`
          : `SELECT member FROM set_members WHERE key_id = ? ORDER BY member ${dir} LIMIT ? OFFSET ?`,
        ...(last ? [id, blob(last.member), limit] : [id, limit, offset]),
      );
      value = (row) => blob(row.member);
    }
    for (const row of rows) {
      const v = value(row);
      budget.add(v.length);
      out.push(v);
    }
    if (rows.length < limit) break;
    last = rows[rows.length - 1];
  }
  return out;
}

/** Every element, in the order Redis would iterate it where that order is defined (lists; intsets). */
function readAll(call: CommandCall, record: KeyRecord, budget: Budget): Uint8Array[] {
  if (record.count > sortLimits.maxElements) fail(tooMany());
  const all = readOrdered(call.server.sql, record, false, 0, record.count, budget);
  if (record.type === KeyType.set && setEncoding(record, call.server.config, call.server.sql) === "intset") {
    const values = all.map((m) => parseInt64(m) ?? 0n);
    const order = all.map((_, i) => i);
    order.sort((a, b) => (values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : 0));
    return order.map((i) => all[i]);
  }
  return all;
}

// ---- SORT ------------------------------------------------------------------------------

interface SortItem {
  readonly obj: Uint8Array;
  score: number;
  cmp: Uint8Array | null;
}

function sortGeneric(call: CommandCall, readonly: boolean): Reply {
  const argv = call.argv;
  let desc = false;
  let alpha = false;
  let limitStart = 0;
  let limitCount = -1;
  let sortBy: Uint8Array | null = null;
  let storeKey: Uint8Array | null = null;
  let dontSort = false;
  const getPatterns: Uint8Array[] = [];

  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1;
    const opt = cOption(argv[j]);
    if (opt === "asc") {
      desc = false;
    } else if (opt === "desc") {
      desc = true;
    } else if (opt === "alpha") {
      alpha = true;
    } else if (opt === "limit" && left >= 2) {
      const start = parseInt64Approx(argv[j + 1]);
      const count = start === null ? null : parseInt64Approx(argv[j + 2]);
      if (start === null || count === null) fail(Errors.notInteger);
      limitStart = start;
      limitCount = count;
      j += 2;
    } else if (!readonly && opt === "store" && left >= 1) {
      storeKey = argv[++j];
    } else if (opt === "by" && left >= 1) {
      sortBy = argv[++j];
      // A pattern without '*' is constant: nothing to sort or look up.
      dontSort = cIndexOf(sortBy, 0x2a, 0) < 0;
    } else if (opt === "get" && left >= 1) {
      getPatterns.push(argv[++j]);
    } else {
      fail(Errors.syntax);
    }
  }

  const record = call.keys.read(call.db, argv[1]);
  if (record && record.type !== KeyType.set && record.type !== KeyType.list && record.type !== KeyType.zset) {
    fail(Errors.wrongType);
  }
  const type = record ? record.type : KeyType.list;

  // A set has no order of its own: STORE sorts it so the stored list is deterministic.
  if (dontSort && type === KeyType.set && storeKey) {
    dontSort = false;
    alpha = true;
    sortBy = null;
  }

  let vectorLength = record ? record.count : 0;
  let start = Math.min(Math.max(limitStart, 0), vectorLength);
  const count = Math.min(Math.max(limitCount, -1), vectorLength);
  let end = count < 0 ? vectorLength - 1 : start + count - 1;
  if (start >= vectorLength) {
    start = vectorLength - 1;
    end = vectorLength - 2;
  }
  if (end >= vectorLength) end = vectorLength - 1;

  const budget = new Budget();
  let items: SortItem[];
  if (!record) {
    items = [];
    end -= start;
    start = 0;
  } else if (dontSort && (type === KeyType.list || type === KeyType.zset)) {
    vectorLength = end - start + 1;
    if (vectorLength > sortLimits.maxElements) fail(tooMany());
    items = readOrdered(call.server.sql, record, desc, start, vectorLength, budget).map(item);
    end -= start;
    start = 0;
  } else if (dontSort) {
    // A set, unsorted: its reply order, then the LIMIT range of it.
    if (end < start) {
      items = [];
    } else if (setEncoding(record, call.server.config, call.server.sql) === "intset") {
      items = readAll(call, record, budget).slice(start, end + 1).map(item);
    } else {
      if (end - start + 1 > sortLimits.maxElements) fail(tooMany());
      items = readOrdered(call.server.sql, record, false, start, end - start + 1, budget).map(item);
    }
    end -= start;
    start = 0;
  } else {
    items = readAll(call, record, budget).map(item);
    let badScore = false;
    for (const it of items) {
      let by: Uint8Array | null;
      if (sortBy) {
        by = lookupByPattern(call, sortBy, it.obj);
        if (!by) continue;
        if (by !== it.obj) budget.add(by.length);
      } else {
        by = it.obj;
      }
      if (alpha) {
        if (sortBy) it.cmp = by;
      } else {
        const score = sortScore(by);
        if (score === null) badScore = true;
        else it.score = score;
      }
    }
    if (badScore) fail(ERR_SCORES);
    const store = storeKey !== null;
    let compare: (a: SortItem, b: SortItem) => number;
    if (!alpha) {
      compare = (a, b) => (a.score > b.score ? 1 : a.score < b.score ? -1 : compareBytes(a.obj, b.obj));
    } else if (sortBy) {
      compare = (a, b) => {
        if (!a.cmp || !b.cmp) return a.cmp === b.cmp ? 0 : !a.cmp ? -1 : 1;
        return store ? compareBytes(a.cmp, b.cmp) : cCompare(a.cmp, b.cmp);
      };
    } else {
      compare = (a, b) => (store ? compareBytes(a.obj, b.obj) : cCompare(a.obj, b.obj));
    }
    items.sort(desc ? (a, b) => -compare(a, b) || 0 : compare);
  }

  const getops = getPatterns.length;
  const outputLength = getops ? getops * (end - start + 1) : end - start + 1;
  if (storeKey === null) {
    const out: Reply[] = [];
    for (let j = start; j <= end; j++) {
      const obj = items[j].obj;
      if (!getops) out.push(bulk(obj));
      for (const pattern of getPatterns) {
        const value = lookupByPattern(call, pattern, obj);
        if (value === null) {
          out.push(NULL);
        } else {
          if (value !== obj) budget.add(value.length);
          out.push(bulk(value));
        }
      }
    }
    return array(out);
  }

  const values: Uint8Array[] = [];
  for (let j = start; j <= end; j++) {
    const obj = items[j].obj;
    if (!getops) {
      values.push(obj);
      continue;
    }
    for (const pattern of getPatterns) {
      const value = lookupByPattern(call, pattern, obj) ?? EMPTY;
      if (value !== obj) budget.add(value.length);
      values.push(value);
    }
  }
  if (outputLength > 0) {
    for (const value of values) if (value.length > LIST_ELEMENT_MAX) fail(Errors.elementTooLarge);
    storeList(call, storeKey, values);
    call.dirty += outputLength;
  } else if (call.keys.delete(call.db, storeKey)) {
    call.dirty++;
  }
  return integer(outputLength);
}

const item = (obj: Uint8Array): SortItem => ({ obj, score: 0, cmp: null });

/** setKey with a new list: replaces whatever `key` held (and its TTL). */
function storeList(call: CommandCall, key: Uint8Array, values: readonly Uint8Array[]): void {
  const keys = call.keys;
  const sql = call.server.sql;
  keys.delete(call.db, key);
  const record = keys.createCollection(call.db, key, KeyType.list);
  const first = -Math.floor(values.length / 2) * LIST_STEP;
  for (let at = 0; at < values.length; at += INSERT_ROWS) {
    const batch = values.slice(at, at + INSERT_ROWS);
    const params: SqlParam[] = [];
    batch.forEach((value, i) => params.push(record.id, first + (at + i) * LIST_STEP, value));
    sql.run(`INSERT INTO list_items (key_id, pos, value) VALUES ${batch.map(() => "(?, ?, ?)").join(", ")}`, ...params);
  }
  keys.updateCount(record, values.length);
}

// ---- key positions ---------------------------------------------------------------------

/** sortGetKeys: the sorted key, and the last STORE's argument (skipping LIMIT/GET/BY arguments). */
function sortKeys(argv: readonly Uint8Array[]): number[] {
  const keys = [1];
  let store = -1;
  for (let i = 2; i < argv.length; i++) {
    const opt = cOption(argv[i]);
    if (opt === "limit") i += 2;
    else if (opt === "get" || opt === "by") i += 1;
    else if (opt === "store" && i + 1 < argv.length) store = i + 1;
  }
  if (store > 0) keys.push(store);
  return keys;
}

export const sortCommands: HandlerTable = {
  sort: { handler: (call) => sortGeneric(call, false), getKeys: sortKeys },
  sort_ro: { handler: (call) => sortGeneric(call, true), getKeys: () => [1] },
};

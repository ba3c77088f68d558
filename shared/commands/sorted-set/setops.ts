/**
 * ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD
 * (t_zset.c zunionInterDiffGenericCommand). Inputs may be sorted sets or
 * plain sets (every member of a set scores 1).
 *
 * Nothing loads an input whole: each input is read in member order, a page
 * at a time. A union merges the inputs by member; an intersection walks the
 * smallest input and looks each member up in the others (one primary-key
 * probe each); a difference walks the first input and probes the rest.
 * Stores stream the result into SQL (writer.ts); replies are sorted by
 * (score, member) as Redis's result skiplist orders them.
 *
 * Arithmetic follows Redis exactly, including the order in which scores are
 * combined (inputs sorted by size, stable), weight * score = NaN counting as
 * 0, and SUM of inf and -inf giving 0.
 */
import { integer, type Reply } from "../../resp/reply.ts";
import type { CommandCall } from "../../engine/call.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { KeyType, type KeyRecord } from "../../engine/keyspace.ts";
import { blob, num, type Sql } from "../../store/sql.ts";
import { compareBytes } from "../../util/bytes.ts";
import { parseLong, parsePositiveLong, parseScore } from "./parse.ts";
import { EntryReplies, nestedPairs } from "./replies.ts";
import { getScore, memberPage, PAGE_ROWS, type Entry } from "./store.ts";
import { ZsetWriter } from "./writer.ts";

type Op = "union" | "inter" | "diff";
type Aggregate = "sum" | "min" | "max";

const ERR_WEIGHT = "ERR weight value is not a float";
const ERR_LIMIT_NEGATIVE = "ERR LIMIT can't be negative";

interface Source {
  readonly key: Uint8Array;
  readonly record: KeyRecord | null;
  weight: number;
}

const sizeOf = (source: Source): number => source.record?.count ?? 0;

/** zunionInterAggregate. */
function aggregate(target: number, value: number, how: Aggregate): number {
  if (how === "sum") {
    const sum = target + value;
    return Number.isNaN(sum) ? 0 : sum; // inf + -inf
  }
  if (how === "min") return value < target ? value : target;
  return value > target ? value : target;
}

/** The members of an input in member order, with their scores (1 for a plain set). */
function* readSource(sql: Sql, source: Source): Generator<Entry> {
  const record = source.record;
  if (record === null) return;
  let after: Uint8Array | null = null;
  for (;;) {
    let page: Entry[];
    if (record.type === KeyType.zset) {
      page = memberPage(sql, record.id, after, 0, PAGE_ROWS);
    } else {
      const rows = after === null
        ? sql.all<{ member: ArrayBuffer }>(
          `SELECT member FROM set_members WHERE key_id = ? ORDER BY member LIMIT ?`, record.id, PAGE_ROWS,
        )
        : sql.all<{ member: ArrayBuffer }>(
          `SELECT member FROM set_members WHERE key_id = ? AND member > ? ORDER BY member LIMIT ?`,
          record.id, after, PAGE_ROWS,
        );
      page = rows.map((row) => ({ member: blob(row.member), score: 1 }));
    }
    yield* page;
    if (page.length < PAGE_ROWS) return;
    after = page[page.length - 1].member;
  }
}

/** The score of `member` in an input, or null when absent. */
function probe(sql: Sql, source: Source, member: Uint8Array): number | null {
  const record = source.record;
  if (record === null) return null;
  if (record.type === KeyType.zset) return getScore(sql, record.id, member);
  const row = sql.one<{ x: number }>(`SELECT 1 AS x FROM set_members WHERE key_id = ? AND member = ?`, record.id, member);
  return row ? num(row.x) : null;
}

/** A union: the inputs merged by member; scores combined in input order. */
function* union(sql: Sql, sources: Source[], how: Aggregate): Generator<Entry> {
  const readers = sources.map((source) => readSource(sql, source));
  const heads: (Entry | null)[] = readers.map((reader) => reader.next().value ?? null);
  for (;;) {
    let least: Uint8Array | null = null;
    for (const head of heads) if (head && (least === null || compareBytes(head.member, least) < 0)) least = head.member;
    if (least === null) return;
    let score = 0;
    let seen = false;
    for (let i = 0; i < sources.length; i++) {
      const head = heads[i];
      if (!head || compareBytes(head.member, least) !== 0) continue;
      let value = sources[i].weight * head.score;
      if (Number.isNaN(value)) value = 0;
      score = seen ? aggregate(score, value, how) : value;
      seen = true;
      heads[i] = readers[i].next().value ?? null;
    }
    yield { member: least, score };
  }
}

/** An intersection: the smallest input walked, every member probed in the others. */
function* inter(sql: Sql, sources: Source[], how: Aggregate): Generator<Entry> {
  if (sizeOf(sources[0]) === 0) return;
  outer: for (const entry of readSource(sql, sources[0])) {
    let score = sources[0].weight * entry.score;
    if (Number.isNaN(score)) score = 0;
    for (let j = 1; j < sources.length; j++) {
      const found = probe(sql, sources[j], entry.member);
      if (found === null) continue outer;
      score = aggregate(score, found * sources[j].weight, how);
    }
    yield { member: entry.member, score };
  }
}

/** A difference: members of the first input found in no other, with their own scores. */
function* diff(sql: Sql, sources: Source[]): Generator<Entry> {
  if (sizeOf(sources[0]) === 0) return;
  outer: for (const entry of readSource(sql, sources[0])) {
    for (let j = 1; j < sources.length; j++) {
      if (probe(sql, sources[j], entry.member) !== null) continue outer;
    }
    yield entry;
  }
}

/**
 * zunionInterDiffGenericCommand. `numkeysIdx` locates numkeys; `dest` is set
 * for the STORE forms; `cardinalityOnly` for ZINTERCARD.
 */
export function setOperation(
  call: CommandCall, op: Op, numkeysIdx: number, dest: Uint8Array | null, cardinalityOnly = false,
): Reply {
  const argv = call.argv;
  const setnum = parseLong(argv[numkeysIdx]);
  if (setnum < 1) fail(`ERR at least 1 input key is needed for '${call.command.fullName}' command`);
  if (setnum > argv.length - (numkeysIdx + 1)) fail(Errors.syntax);

  const sources: Source[] = [];
  let j = numkeysIdx + 1;
  for (let i = 0; i < setnum; i++, j++) {
    const record = call.keys.read(call.db, argv[j]);
    if (record !== null && record.type !== KeyType.zset && record.type !== KeyType.set) fail(Errors.wrongType);
    sources.push({ key: argv[j], record, weight: 1 });
  }

  let how: Aggregate = "sum";
  let withScores = false;
  let limit = 0;
  while (j < argv.length) {
    const remaining = argv.length - j;
    const option = call.option(j);
    if (op !== "diff" && !cardinalityOnly && remaining >= setnum + 1 && option === "weights") {
      j++;
      for (let i = 0; i < setnum; i++, j++) sources[i].weight = parseScore(argv[j], ERR_WEIGHT);
    } else if (op !== "diff" && !cardinalityOnly && remaining >= 2 && option === "aggregate") {
      const value = call.option(j + 1);
      if (value !== "sum" && value !== "min" && value !== "max") fail(Errors.syntax);
      how = value;
      j += 2;
    } else if (dest === null && !cardinalityOnly && option === "withscores") {
      withScores = true;
      j++;
    } else if (cardinalityOnly && remaining >= 2 && option === "limit") {
      limit = parsePositiveLong(argv[j + 1], ERR_LIMIT_NEGATIVE);
      j += 2;
    } else {
      fail(Errors.syntax);
    }
  }

  // Smallest input first (glibc's qsort is a stable merge sort here).
  if (op !== "diff") sources.sort((a, b) => sizeOf(a) - sizeOf(b));

  const sql = call.server.sql;
  const result = op === "union" ? union(sql, sources, how) : op === "inter" ? inter(sql, sources, how) : diff(sql, sources);

  if (cardinalityOnly) {
    let n = 0;
    for (const _ of result) {
      n++;
      if (limit > 0 && n >= limit) break;
    }
    return integer(n);
  }
  if (dest !== null) {
    const writer = new ZsetWriter(call, dest, sources.map((s) => s.key));
    for (const entry of result) writer.add(entry);
    return integer(writer.finish());
  }
  const entries = [...result];
  entries.sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : compareBytes(a.member, b.member)));
  const out = new EntryReplies(withScores, nestedPairs(call.client.protocol));
  for (const entry of entries) out.add(entry);
  return out.reply();
}

/**
 * Single-member sorted-set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY,
 * ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK (t_zset.c zaddGenericCommand
 * and friends). Each member is one primary-key statement; ZRANK is a COUNT
 * over the score index below the member, O(rank) in SQL.
 */
import { array, double, integer, NULL, ZERO, type Reply } from "../../resp/reply.ts";
import type { CommandCall } from "../../engine/call.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { KeyType, type KeyRecord } from "../../engine/keyspace.ts";
import { formatDouble } from "../../util/numbers.ts";
import { parseScore } from "./parse.ts";
import { checkMemberSize, deleteMember, getScore, insertMember, rankOf, updateScore } from "./store.ts";

const ERR_XX_NX = "ERR XX and NX options at the same time are not compatible";
const ERR_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible";
const ERR_INCR_PAIRS = "ERR INCR option supports a single increment-element pair";
const ERR_NAN_RESULT = "ERR resulting score is not a number (NaN)";

const ZADD_NAME = new TextEncoder().encode("ZADD");

/** ZADD, and ZINCRBY (`incr` preset): Redis's zaddGenericCommand, option parsing included. */
export function zaddGeneric(call: CommandCall, incrCommand: boolean): Reply {
  const argv = call.argv;
  let nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrCommand;
  let scoreIdx = 2;
  for (; scoreIdx < argv.length; scoreIdx++) {
    const option = call.option(scoreIdx);
    if (option === "nx") nx = true;
    else if (option === "xx") xx = true;
    else if (option === "ch") ch = true;
    else if (option === "incr") incr = true;
    else if (option === "gt") gt = true;
    else if (option === "lt") lt = true;
    else break;
  }
  const pairs = argv.length - scoreIdx;
  if (pairs % 2 !== 0 || pairs === 0) fail(Errors.syntax);
  const elements = pairs / 2;
  if (nx && xx) fail(ERR_XX_NX);
  if ((gt && nx) || (lt && nx) || (gt && lt)) fail(ERR_GT_LT_NX);
  if (incr && elements > 1) fail(ERR_INCR_PAIRS);

  const scores: number[] = [];
  const members: Uint8Array[] = [];
  for (let j = 0; j < elements; j++) {
    scores.push(parseScore(argv[scoreIdx + 2 * j]));
    members.push(argv[scoreIdx + 2 * j + 1]);
  }

  const key = argv[1];
  let record: KeyRecord | null = call.keys.lookupType(call.db, key, KeyType.zset);
  checkMemberSize(members);
  if (record === null && xx) return incr ? NULL : ZERO;

  const sql = call.server.sql;
  let added = 0, updated = 0, processed = 0;
  let result = 0;
  for (let j = 0; j < elements; j++) {
    let score = scores[j];
    const member = members[j];
    const current = record === null ? null : getScore(sql, record.id, member);
    if (current !== null) {
      if (nx) continue;
      if (incr) {
        score += current;
        if (Number.isNaN(score)) fail(ERR_NAN_RESULT);
      }
      if ((lt && score >= current) || (gt && score <= current)) continue;
      result = score;
      processed++;
      if (score !== current) {
        updateScore(sql, record!.id, member, current, score);
        updated++;
      }
    } else if (!xx) {
      record ??= call.keys.createCollection(call.db, key, KeyType.zset);
      insertMember(sql, record.id, member, score);
      result = score;
      added++;
      processed++;
    }
  }
  if (record !== null && (added > 0 || updated > 0)) {
    call.keys.updateCount(record, record.count + added);
    call.dirty += added + updated;
    // Replicated as the absolute result (ZADD key score member), never as an increment.
    if (incr) call.rewrite([ZADD_NAME, key, formatDouble(result), members[0]]);
  }
  if (incr) return processed > 0 ? double(result) : NULL;
  return integer(ch ? added + updated : added);
}

export function zrem(call: CommandCall): Reply {
  const argv = call.argv;
  const record = call.keys.lookupType(call.db, argv[1], KeyType.zset);
  if (!record) return ZERO;
  const sql = call.server.sql;
  let deleted = 0;
  for (let j = 2; j < argv.length && deleted < record.count; j++) {
    if (deleteMember(sql, record.id, argv[j])) deleted++;
  }
  if (deleted > 0) {
    call.keys.updateCount(record, record.count - deleted);
    call.dirty += deleted;
  }
  return integer(deleted);
}

export function zcard(call: CommandCall): Reply {
  const record = call.keys.read(call.db, call.argv[1], KeyType.zset);
  return integer(record ? record.count : 0);
}

export function zscore(call: CommandCall): Reply {
  const record = call.keys.read(call.db, call.argv[1], KeyType.zset);
  if (!record) return NULL;
  const score = getScore(call.server.sql, record.id, call.argv[2]);
  return score === null ? NULL : double(score);
}

export function zmscore(call: CommandCall): Reply {
  const record = call.keys.read(call.db, call.argv[1], KeyType.zset);
  const out: Reply[] = [];
  for (let j = 2; j < call.argv.length; j++) {
    const score = record ? getScore(call.server.sql, record.id, call.argv[j]) : null;
    out.push(score === null ? NULL : double(score));
  }
  return array(out);
}

/** ZRANK / ZREVRANK (Redis 7.0: no WITHSCORE; the arity check refuses it). */
export function zrank(call: CommandCall, reverse: boolean): Reply {
  const record = call.keys.read(call.db, call.argv[1], KeyType.zset);
  if (!record) return NULL;
  const sql = call.server.sql;
  const member = call.argv[2];
  const score = getScore(sql, record.id, member);
  if (score === null) return NULL;
  return integer(rankOf(sql, record.id, record.count, score, member, reverse));
}

/**
 * OBJECT ENCODING of a sorted set, by Redis's rules: "skiplist" once the set
 * has more than zset-max-listpack-entries members or any member longer than
 * zset-max-listpack-value bytes, else "listpack". The member-length test is
 * one SQL query that stops at the first long member, and runs only on sets
 * small enough to be listpacks.
 *
 * Redis converts a sorted set back to a listpack only in a few paths
 * (ZRANGESTORE, Z*STORE); tidekv derives the encoding from the current
 * contents, so a set that shrank answers "listpack" where Redis may still
 * say "skiplist".
 */
import type { Config } from "../../engine/config.ts";
import type { KeyRecord } from "../../engine/keyspace.ts";
import type { Sql } from "../../store/sql.ts";
import { hasMemberLongerThan } from "./store.ts";

export function zsetEncoding(record: KeyRecord, config: Config, sql: Sql): "listpack" | "skiplist" {
  if (record.count > config.int("zset-max-listpack-entries")) return "skiplist";
  return hasMemberLongerThan(sql, record.id, config.int("zset-max-listpack-value")) ? "skiplist" : "listpack";
}

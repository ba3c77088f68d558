/**
 * Writing a computed sorted set to a destination key (ZRANGESTORE,
 * ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE), as Redis's setKey / dbDelete do:
 * a non-empty result replaces whatever the key held (any type, TTL dropped);
 * an empty result deletes the key. `dirty` moves by one when the key was
 * written or deleted, not when an empty result met no key.
 *
 * Results stream into SQL as they are computed, never whole in memory. When
 * the destination is also a source, rows go to a scratch key id first and
 * move to the new key once every source has been read.
 */
import type { CommandCall } from "../../engine/call.ts";
import { equalBytes } from "../../util/bytes.ts";
import { KeyType, type KeyRecord } from "../../engine/keyspace.ts";
import { dropCounts, moveCounts } from "./blocks.ts";
import { insertMember, SCRATCH_KEY_ID, type Entry } from "./store.ts";

export class ZsetWriter {
  private record: KeyRecord | null = null;
  private count = 0;
  private readonly scratch: boolean;

  constructor(
    private readonly call: CommandCall,
    private readonly dest: Uint8Array,
    sources: readonly Uint8Array[],
  ) {
    this.scratch = sources.some((key) => equalBytes(key, dest));
    if (this.scratch) {
      call.server.sql.run(`DELETE FROM zset_members WHERE key_id = ?`, SCRATCH_KEY_ID);
      dropCounts(call.server.sql, SCRATCH_KEY_ID);
    }
  }

  add(entry: Entry): void {
    const { call } = this;
    if (this.scratch) {
      insertMember(call.server.sql, SCRATCH_KEY_ID, entry.member, entry.score);
    } else {
      if (this.record === null) {
        call.keys.delete(call.db, this.dest);
        this.record = call.keys.createCollection(call.db, this.dest, KeyType.zset);
      }
      insertMember(call.server.sql, this.record.id, entry.member, entry.score);
    }
    this.count++;
  }

  /** Installs the result; returns its size (the command's reply). */
  finish(): number {
    const { call } = this;
    if (this.count === 0) {
      if (call.keys.delete(call.db, this.dest)) call.dirty++;
      return 0;
    }
    let record = this.record;
    if (record === null) {
      call.keys.delete(call.db, this.dest);
      record = call.keys.createCollection(call.db, this.dest, KeyType.zset);
      call.server.sql.run(`UPDATE zset_members SET key_id = ? WHERE key_id = ?`, record.id, SCRATCH_KEY_ID);
      moveCounts(call.server.sql, SCRATCH_KEY_ID, record.id);
    }
    call.keys.updateCount(record, this.count);
    call.dirty++;
    return this.count;
  }
}

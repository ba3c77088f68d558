import { encodeCommand } from "../resp/encode.ts";
import type { Effect } from "../engine/server.ts";
import { concat } from "../util/bytes.ts";

/**
 * Encodes effects into replication stream bytes, as Redis's replicationFeedSlaves
 * does: a SELECT whenever the db differs from the stream's current one, then
 * each command as a RESP multibulk. Returns the bytes and the db the stream is
 * left in.
 */
export function encodeEffects(effects: readonly Effect[], streamDb: number): { bytes: Uint8Array; db: number } {
  const parts: Uint8Array[] = [];
  let total = 0;
  let db = streamDb;
  for (const effect of effects) {
    if (effect.db !== db) {
      const select = encodeCommand(["SELECT", String(effect.db)]);
      parts.push(select);
      total += select.length;
      db = effect.db;
    }
    const command = encodeCommand(effect.argv);
    parts.push(command);
    total += command.length;
  }
  return { bytes: concat(parts, total), db };
}

/**
 * The PSYNC decision of Redis's masterTryPartialResynchronization: continue
 * when the replica's history is ours (same replid, or our previous replid up
 * to the offset where we switched) and the backlog still holds the bytes it
 * needs; otherwise a full resync.
 */
export function canContinue(
  request: { replid: string; offset: number },
  master: { replid: string; replid2: string; secondOffset: number },
  backlogServes: (offset: number) => boolean,
): boolean {
  if (request.replid !== master.replid) {
    if (request.replid !== master.replid2 || request.offset > master.secondOffset) return false;
  }
  return backlogServes(request.offset);
}

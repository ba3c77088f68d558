import { array, bulk, error, integer, OK } from "../resp/reply.ts";
import { parseSafeInteger } from "../util/numbers.ts";
import type { CommandDef, HandlerTable } from "./spec.ts";

/**
 * tidekv's own commands, for the routing proxy's read-your-writes (see
 * docs/proxy.md). Redis has no metadata for them, so their CommandDefs are
 * written here by hand. Both only read replication state that INFO
 * replication already shows, so they are safe on public endpoints too.
 *
 * - `TIDEKV.OFFSET`: `[replid, offset]`: the node's replication id and the
 *   offset its stream has reached (master_repl_offset). Pipelined right after
 *   a write on a master, the offset covers that write. A master whose backlog
 *   is inactive (no replica ever attached, or it was freed) does not advance
 *   its offset on writes, so it answers offset + 1: a mark no replica has
 *   reached, which sends reads to the master until the stream moves on.
 * - `TIDEKV.READAFTER <replid> <offset>`: `+OK` when this node has applied
 *   the stream of `replid` up to `offset` (its own history, or the one it
 *   continued from after a failover: replid2 up to second_repl_offset), else
 *   `-STALE ...`: the reader should ask the master instead.
 */

const decoder = new TextDecoder();

/** The error READAFTER answers when this node has not applied the offset yet. */
export const STALE_PREFIX = "STALE";

function def(summary: string, arity: number, flags: string[], args: { name: string; type: string }[]): CommandDef {
  return {
    arity,
    flags,
    first_key: 0,
    last_key: 0,
    step: 0,
    acl_categories: ["@fast", "@connection"],
    tips: [],
    key_specs: [],
    docs: { summary, since: "0.1.0", group: "server", complexity: "O(1)", ...(args.length ? { arguments: args } : {}) },
  };
}

export const tidekvDefs: Record<string, CommandDef> = {
  "tidekv.offset": def("Returns the node's replication id and offset (tidekv read-your-writes)", 1, ["fast", "loading", "stale"], []),
  "tidekv.readafter": def(
    "Answers OK once this node has applied the replication stream up to an offset (tidekv read-your-writes)",
    3,
    ["fast", "loading", "stale"],
    [
      { name: "replid", type: "string" },
      { name: "offset", type: "integer" },
    ],
  ),
};

export const tidekvCommands: HandlerTable = {
  "tidekv.offset": (call) => {
    const replication = call.server.replication;
    if (!replication) return array([bulk("0".repeat(40)), integer(0)]);
    const offset = replication.offset;
    const tracked = replication.isReplica || replication.backlog.isActive;
    return array([bulk(replication.ids.replid), integer(tracked ? offset : offset + 1)]);
  },

  "tidekv.readafter": (call) => {
    const replid = decoder.decode(call.argv[1]);
    const wanted = parseSafeInteger(call.argv[2]);
    if (wanted === null || wanted < 0) return error("ERR value is not an integer or out of range");
    const replication = call.server.replication;
    if (!replication) return error(`${STALE_PREFIX} no replication state`);
    const ids = replication.ids;
    const applied = replication.offset;
    const sameHistory = ids.replid === replid || (ids.replid2 === replid && wanted < ids.secondOffset);
    if (!sameHistory) return error(`${STALE_PREFIX} replication history ${replid.slice(0, 40)} is not this node's`);
    if (replication.link?.isLoading) return error(`${STALE_PREFIX} full synchronization in progress`);
    if (applied < wanted) return error(`${STALE_PREFIX} applied offset ${applied} is behind ${wanted}`);
    return OK;
  },
};

/**
 * HyperLogLog commands (Redis 7.0 hyperloglog.c): PFADD, PFCOUNT, PFMERGE,
 * PFDEBUG. The value is a string in Redis's own HLL format (sparse, promoted
 * to dense past hll-sparse-max-bytes), built by shared/util/hyperloglog.ts, so
 * GET returns the bytes Redis would hold and PFCOUNT the counts Redis would
 * give. A string that is not an HLL is
 * "WRONGTYPE Key is not a valid HyperLogLog string value.".
 *
 * PFCOUNT of one key caches the cardinality in the value's header, as Redis
 * does; that is a change, so it is replicated as `PFCOUNT key` (Redis does the
 * same: a replica applying it computes and stores the same cache). A replica
 * answering a client's PFCOUNT computes without caching, so its data stays
 * exactly its master's. PFCOUNT of several keys counts their union and caches
 * nothing.
 *
 * Effects: PFADD as called when it changed a register (or created the key);
 * PFMERGE always, as called (Redis counts it as a change even when nothing
 * changed); PFDEBUG GETREG/TODENSE as called when they converted the key.
 * PFSELFTEST (a 10-million-element internal self-test) is not implemented.
 */
import { array, bulk, integer, OK, ONE, simple, ZERO, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { Errors, fail } from "../engine/errors.ts";
import { KeyType, type KeyRecord } from "../engine/keyspace.ts";
import {
  estimateRegisters, HLL_DENSE, HLL_HDR_SIZE, HLL_REGISTERS, HLL_SPARSE, HyperLogLog,
} from "../util/hyperloglog.ts";
import type { HandlerTable } from "./spec.ts";

const ERR_NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const ERR_CORRUPT = "INVALIDOBJ Corrupted HLL object detected";
const decoder = new TextDecoder();

/** isHLLObjectOrReply + load: the key's value as an HLL (the record must be a live key). */
function loadHll(call: CommandCall, record: KeyRecord): HyperLogLog {
  if (record.type !== KeyType.string) fail(Errors.wrongType);
  const keys = call.keys;
  const length = keys.stringLength(record);
  const header = keys.readStringRange(record, 0, Math.min(length, HLL_HDR_SIZE));
  if (!HyperLogLog.isValid(header, length)) fail(ERR_NOT_HLL);
  return HyperLogLog.of(keys.readString(record));
}

const sparseMaxBytes = (call: CommandCall): number => call.server.config.int("hll-sparse-max-bytes");

function store(call: CommandCall, key: Uint8Array, hll: HyperLogLog): void {
  call.keys.writeString(call.db, key, hll.bytes(), "keep");
}

function pfadd(call: CommandCall): Reply {
  const argv = call.argv;
  const key = argv[1];
  const record = call.keys.lookup(call.db, key);
  let updated = 0;
  let hll: HyperLogLog;
  if (!record) {
    hll = HyperLogLog.empty();
    updated++;
  } else {
    hll = loadHll(call, record);
  }
  const maxBytes = sparseMaxBytes(call);
  for (let j = 2; j < argv.length; j++) {
    const result = hll.add(argv[j], maxBytes);
    if (result === 1) updated++;
    else if (result === -1) fail(ERR_CORRUPT);
  }
  if (!updated) return ZERO;
  hll.invalidateCache();
  store(call, key, hll);
  call.dirty += updated;
  return ONE;
}

function pfcount(call: CommandCall): Reply {
  const argv = call.argv;
  if (argv.length > 2) {
    const max = new Uint8Array(HLL_REGISTERS);
    for (let j = 1; j < argv.length; j++) {
      const record = call.keys.read(call.db, argv[j]);
      if (!record) continue;
      if (!loadHll(call, record).mergeInto(max)) fail(ERR_CORRUPT);
    }
    return integer(estimateRegisters(max));
  }
  const record = call.keys.read(call.db, argv[1]);
  if (!record) return ZERO;
  const hll = loadHll(call, record);
  if (hll.cacheValid) return integer(hll.cachedCardinality());
  const card = hll.count();
  if (card === null) fail(ERR_CORRUPT);
  if (!call.server.isReplica || call.client.role === "master") {
    hll.setCachedCardinality(card);
    store(call, argv[1], hll);
    call.dirty++;
  }
  return integer(card);
}

function pfmerge(call: CommandCall): Reply {
  const argv = call.argv;
  const max = new Uint8Array(HLL_REGISTERS);
  let useDense = false;
  for (let j = 1; j < argv.length; j++) {
    const record = call.keys.read(call.db, argv[j]);
    if (!record) continue;
    const hll = loadHll(call, record);
    if (hll.encoding === HLL_DENSE) useDense = true;
    if (!hll.mergeInto(max)) fail(ERR_CORRUPT);
  }
  const key = argv[1];
  const record = call.keys.lookup(call.db, key);
  // The destination, if it exists, was validated as a source above.
  const hll = record ? loadHll(call, record) : HyperLogLog.empty();
  if (useDense && !hll.toDense()) fail(ERR_CORRUPT);
  const maxBytes = sparseMaxBytes(call);
  for (let i = 0; i < HLL_REGISTERS; i++) {
    if (max[i] !== 0) hll.set(i, max[i], maxBytes);
  }
  hll.invalidateCache();
  store(call, key, hll);
  call.dirty++;
  return OK;
}

function pfdebug(call: CommandCall): Reply {
  const argv = call.argv;
  const sub = decoder.decode(argv[1]);
  const key = argv[2];
  const record = call.keys.lookup(call.db, key);
  if (!record) fail("ERR The specified key does not exist");
  const hll = loadHll(call, record);
  switch (sub.toLowerCase()) {
    case "getreg": {
      if (hll.encoding === HLL_SPARSE) {
        if (!hll.toDense()) fail(ERR_CORRUPT);
        store(call, key, hll);
        call.dirty++;
      }
      return array(hll.registers().map((v) => integer(v)));
    }
    case "decode":
      if (hll.encoding !== HLL_SPARSE) fail("ERR HLL encoding is not sparse");
      return bulk(hll.decodeSparse());
    case "encoding":
      return simple(hll.encoding === HLL_DENSE ? "dense" : "sparse");
    case "todense": {
      if (hll.encoding !== HLL_SPARSE) return ZERO;
      if (!hll.toDense()) fail(ERR_CORRUPT);
      store(call, key, hll);
      call.dirty++;
      return ONE;
    }
    default:
      fail(`ERR Unknown PFDEBUG subcommand '${sub}'`);
  }
}

export const hyperloglogCommands: HandlerTable = {
  pfadd,
  pfcount,
  pfmerge,
  pfdebug,
};

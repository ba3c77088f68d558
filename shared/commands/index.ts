import { CommandTable, type CommandGroup } from "./table.ts";
import bitmapDefs from "./defs/bitmap.json" with { type: "json" };
import clusterDefs from "./defs/cluster.json" with { type: "json" };
import connectionDefs from "./defs/connection.json" with { type: "json" };
import genericDefs from "./defs/generic.json" with { type: "json" };
import hashDefs from "./defs/hash.json" with { type: "json" };
import hyperloglogDefs from "./defs/hyperloglog.json" with { type: "json" };
import listDefs from "./defs/list.json" with { type: "json" };
import scriptingDefs from "./defs/scripting.json" with { type: "json" };
import serverDefs from "./defs/server.json" with { type: "json" };
import setDefs from "./defs/set.json" with { type: "json" };
import sortedSetDefs from "./defs/sorted-set.json" with { type: "json" };
import stringDefs from "./defs/string.json" with { type: "json" };
import transactionDefs from "./defs/transactions.json" with { type: "json" };
import type { CommandDef, HandlerTable } from "./spec.ts";
import { aclCommands } from "./acl.ts";
import { bitmapCommands } from "./bitmap.ts";
import { clusterCommands } from "./cluster.ts";
import { connectionCommands } from "./connection.ts";
import { genericCommands } from "./generic.ts";
import { hashCommands } from "./hash.ts";
import { hyperloglogCommands } from "./hyperloglog.ts";
import { listCommands } from "./list.ts";
import { replicationCommands, waitCommands } from "./replication.ts";
import { scriptingCommands } from "./scripting.ts";
import { serverCommands } from "./server.ts";
import { setCommands } from "./set.ts";
import { sortCommands } from "./sort.ts";
import { sortedSetCommands } from "./sorted-set.ts";
import { stringCommands } from "./string.ts";
import { tidekvCommands, tidekvDefs } from "./tidekv.ts";
import { transactionCommands } from "./transactions.ts";

const group = (name: string, defs: unknown, handlers: HandlerTable): CommandGroup => ({
  group: name,
  defs: defs as Record<string, CommandDef>,
  handlers,
});

// One entry per command group, named as in defs/<group>.json (Redis's groups).
const groups: CommandGroup[] = [
  group("bitmap", bitmapDefs, bitmapCommands),
  group("cluster", clusterDefs, clusterCommands),
  group("connection", connectionDefs, connectionCommands),
  group("generic", genericDefs, genericCommands),
  group("hash", hashDefs, hashCommands),
  group("hyperloglog", hyperloglogDefs, hyperloglogCommands),
  group("list", listDefs, listCommands),
  group("scripting", scriptingDefs, scriptingCommands),
  group("server", serverDefs, serverCommands),
  group("server", serverDefs, aclCommands),
  group("server", serverDefs, replicationCommands),
  group("generic", genericDefs, waitCommands),
  group("generic", genericDefs, sortCommands),
  group("set", setDefs, setCommands),
  group("sorted-set", sortedSetDefs, sortedSetCommands),
  group("string", stringDefs, stringCommands),
  group("transactions", transactionDefs, transactionCommands),
  // tidekv's own commands (read-your-writes through the proxy); hand-written metadata.
  group("server", tidekvDefs, tidekvCommands),
];

/** Every command this build of tidekv implements. */
export const commandTable = new CommandTable(groups);

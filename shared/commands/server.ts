import { array, bulk, bulkArray, error, integer, map, NULL, OK, set, simple, verbatim, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import {
  commandDocsReply,
  commandHasKeys,
  commandInfoReply,
  getKeysWithFlags,
  helpReply,
  lookupCommandByArgv,
  lookupCommandByName,
  subcommandsOf,
} from "../engine/command-docs.ts";
import { CommandError, Errors } from "../engine/errors.ts";
import { buildInfo } from "../engine/info.ts";
import { globMatch } from "../util/glob.ts";
import { parseInt64 } from "../util/numbers.ts";
import type { Command, HandlerTable } from "./spec.ts";

const encoder = new TextEncoder();
const INT_MIN = -2147483648n;
const INT_MAX = 2147483647n;

/** FLUSHDB/FLUSHALL [ASYNC|SYNC] (getFlushCommandFlags). Both forms run synchronously here. */
function checkFlushOption(call: CommandCall): void {
  if (call.argv.length === 1) return;
  const option = call.argv.length === 2 ? call.option(1) : "";
  if (option !== "sync" && option !== "async") throw new CommandError(Errors.syntax);
}

/**
 * Redis replicates FLUSHDB/FLUSHALL even when there was nothing to delete
 * (forceCommandPropagation), exactly as the client sent it.
 */
function propagateAsCalled(call: CommandCall): void {
  call.noPropagate();
  call.alsoPropagate(call.db, call.argv);
}

/** Redis's getIntFromObjectOrReply with a custom message: a 32-bit integer, or the message. */
function int32(call: CommandCall, i: number, message: string): number {
  const n = parseInt64(call.argv[i]);
  if (n === null || n < INT_MIN || n > INT_MAX) throw new CommandError(message);
  return Number(n);
}

// ---- CONFIG -----------------------------------------------------------------------

const CONFIG_HELP = [
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
  "REWRITE",
  "    Rewrite the configuration file.",
];

// ---- COMMAND ----------------------------------------------------------------------

const COMMAND_HELP = [
  "(no subcommand)",
  "    Return details about all Redis commands.",
  "COUNT",
  "    Return the total number of commands in this Redis server.",
  "LIST",
  "    Return a list of all commands in this Redis server.",
  "INFO [<command-name> ...]",
  "    Return details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "DOCS [<command-name> ...]",
  "    Return documentation details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "GETKEYS <full-command>",
  "    Return the keys from a full Redis command.",
  "GETKEYSANDFLAGS <full-command>",
  "    Return the keys and the access flags from a full Redis command.",
];

function allCommandsInfo(call: CommandCall): Reply {
  return array([...call.server.commands.all()].map(commandInfoReply));
}

/** COMMAND GETKEYS / GETKEYSANDFLAGS (getKeysSubcommandImpl). */
function getKeys(call: CommandCall, withFlags: boolean): Reply {
  const argv = call.argv.slice(2);
  const command = lookupCommandByArgv(call.server.commands, argv);
  if (!command) return error("ERR Invalid command specified");
  if (!commandHasKeys(command)) return error("ERR The command has no key arguments");
  const arity = command.arity;
  if ((arity > 0 && arity !== argv.length) || argv.length < -arity) {
    return error("ERR Invalid number of arguments specified for command");
  }
  const keys = getKeysWithFlags(command, argv);
  if (keys.length === 0 && !command.flags.has("no_mandatory_keys")) {
    return error("ERR Invalid arguments specified for command");
  }
  return array(keys.map(({ pos, flags }) => (withFlags ? array([bulk(argv[pos]), set(flags.map(simple))]) : bulk(argv[pos]))));
}

/** Every command and subcommand, in table order (Redis: its dictionary's order). */
function* everyCommand(commands: Iterable<Command>): Generator<Command> {
  for (const command of commands) {
    yield command;
    yield* everyCommand(subcommandsOf(command));
  }
}

function commandList(call: CommandCall): Reply {
  let filter: ((command: Command) => boolean) | null = null;
  for (let i = 2; i < call.argv.length; i++) {
    const more = call.argv.length - 1 - i;
    if (call.option(i) === "filterby" && more === 2) {
      const type = call.option(i + 1);
      const arg = call.argv[i + 2];
      if (type === "module") {
        filter = () => false; // tidekv loads no modules
      } else if (type === "aclcat") {
        const category = `@${call.str(i + 2).toLowerCase()}`;
        filter = (command) => command.def.acl_categories.some((c) => c.toLowerCase() === category);
      } else if (type === "pattern") {
        filter = (command) => globMatch(arg, encoder.encode(command.fullName), true);
      } else {
        return error(Errors.syntax);
      }
      i += 2;
    } else {
      return error(Errors.syntax);
    }
  }
  const names: string[] = [];
  for (const command of everyCommand(call.server.commands.all())) {
    if (!filter || filter(command)) names.push(command.fullName);
  }
  return bulkArray(names);
}

// ---- the table --------------------------------------------------------------------

/** INFO, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE, SAVE, BGSAVE, CONFIG, COMMAND. */
export const serverCommands: HandlerTable = {
  info: (call) => {
    const args: string[] = [];
    for (let i = 1; i < call.argv.length; i++) args.push(call.str(i));
    return verbatim(buildInfo(call.server, args));
  },

  dbsize: (call) => integer(call.keys.dbSize(call.db)),

  flushdb: (call) => {
    checkFlushOption(call);
    const removed = call.keys.dbSize(call.db);
    call.server.touchWatchedKeysInDb(call.db);
    call.keys.flush(call.db);
    call.dirty += removed;
    propagateAsCalled(call);
    return OK;
  },

  flushall: (call) => {
    checkFlushOption(call);
    let removed = 0;
    for (const size of call.keys.dbSizes().values()) removed += size.keys;
    const watchedDbs = new Set<number>();
    for (const client of call.server.clients.values()) for (const watched of client.watched.values()) watchedDbs.add(watched.db);
    for (const db of watchedDbs) call.server.touchWatchedKeysInDb(db);
    call.keys.flush(null);
    call.dirty += removed;
    propagateAsCalled(call);
    return OK;
  },

  swapdb: (call) => {
    if (call.server.config.bool("cluster-enabled")) return error("ERR SWAPDB is not allowed in cluster mode");
    const a = int32(call, 1, "ERR invalid first DB index");
    const b = int32(call, 2, "ERR invalid second DB index");
    const databases = call.server.config.int("databases");
    if (a < 0 || a >= databases || b < 0 || b >= databases) return error(Errors.dbIndexOutOfRange);
    if (a !== b) {
      call.server.touchWatchedKeysInDb(a, b);
      call.server.touchWatchedKeysInDb(b, a);
      call.keys.swap(a, b);
    }
    call.dirty++;
    return OK;
  },

  time: (call) => {
    const ms = call.now;
    return array([bulk(String(Math.floor(ms / 1000))), bulk(String(Math.floor(ms % 1000) * 1000))]);
  },

  lastsave: (call) => integer(call.server.stats.lastSaveTime ?? Math.floor(call.server.startedAt / 1000)),

  // tidekv is always durable: every acknowledged write is already committed to
  // SQLite, so there is no snapshot to take. SAVE and BGSAVE answer as Redis
  // does after a successful save and move LASTSAVE / rdb_* markers, nothing more.
  save: (call) => {
    call.server.stats.markSaved(call.now);
    return OK;
  },

  bgsave: (call) => {
    if (call.argv.length > 1 && !(call.argv.length === 2 && call.option(1) === "schedule")) return error(Errors.syntax);
    call.server.stats.markSaved(call.now);
    return simple("Background saving started");
  },

  config: {
    subcommands: {
      get: (call) => {
        const pairs = call.server.config.match(call.argv.slice(2));
        return map(pairs.map(([name, value]) => [bulk(name), bulk(value)] as const));
      },
      set: (call) => {
        if (call.argv.length % 2 === 1) return error(Errors.syntax);
        const pairs: [string, string][] = [];
        for (let i = 2; i < call.argv.length; i += 2) pairs.push([call.str(i), call.str(i + 1)]);
        const failure = call.server.config.set(pairs);
        return failure === null ? OK : error(failure);
      },
      resetstat: (call) => {
        call.server.stats.reset();
        call.keys.hits = 0;
        call.keys.misses = 0;
        return OK;
      },
      // A node has no config file; CONFIG SET values already persist in SQL.
      rewrite: () => error("ERR The server is running without a config file"),
      help: () => helpReply("config", CONFIG_HELP),
    },
  },

  command: {
    handler: allCommandsInfo,
    subcommands: {
      count: (call) => integer(call.server.commands.size),
      list: commandList,
      info: (call) => {
        if (call.argv.length === 2) return allCommandsInfo(call);
        const out: Reply[] = [];
        for (let i = 2; i < call.argv.length; i++) {
          const command = lookupCommandByName(call.server.commands, call.str(i));
          out.push(command ? commandInfoReply(command) : NULL);
        }
        return array(out);
      },
      docs: (call) => {
        const commands: Command[] = [];
        if (call.argv.length === 2) {
          commands.push(...call.server.commands.all());
        } else {
          for (let i = 2; i < call.argv.length; i++) {
            const command = lookupCommandByName(call.server.commands, call.str(i));
            if (command) commands.push(command);
          }
        }
        return map(commands.map((command) => [bulk(command.fullName), commandDocsReply(command)] as const));
      },
      getkeys: (call) => getKeys(call, false),
      getkeysandflags: (call) => getKeys(call, true),
      help: () => helpReply("command", COMMAND_HELP),
    },
  },
};

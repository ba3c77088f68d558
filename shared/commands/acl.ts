import { array, bulk, bulkArray, error, integer, map, NULL, OK, set, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { ACL_CATEGORIES, aclOf, type AclUser } from "../engine/acl.ts";
import { DEFAULT_USER, READONLY_USER } from "../engine/auth.ts";
import { helpReply } from "../engine/command-docs.ts";
import { closeClientConnection } from "../engine/connection.ts";
import { Errors } from "../engine/errors.ts";
import { parseInt64 } from "../util/numbers.ts";
import type { Command, HandlerTable } from "./spec.ts";
import type { CommandTable } from "./table.ts";

const ACL_HELP = [
  "CAT [<category>]",
  "    List all commands that belong to <category>, or all command categories",
  "    when no category is specified.",
  "DELUSER <username> [<username> ...]",
  "    Delete a list of users.",
  "DRYRUN <username> <command> [<arg> ...]",
  "    Returns whether the user can execute the given command without executing the command.",
  "GETUSER <username>",
  "    Get the user's details.",
  "GENPASS [<bits>]",
  "    Generate a secure 256-bit user password. The optional `bits` argument can",
  "    be used to specify a different size.",
  "LIST",
  "    Show users details in config file format.",
  "LOAD",
  "    Reload users from the ACL file.",
  "LOG [<count> | RESET]",
  "    Show the ACL log entries.",
  "SAVE",
  "    Save the current config to the ACL file.",
  "SETUSER <username> <attribute> [<attribute> ...]",
  "    Create or modify a user with the specified attributes.",
  "USERS",
  "    List all the registered usernames.",
  "WHOAMI",
  "    Return the current connection username.",
];

const NO_ACL_FILE =
  "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/** Whether `name` ("get", "config|get") names a command of the table, for +cmd/-cmd rules. */
function commandLookup(table: CommandTable): (name: string) => "ok" | "unknown" {
  return (name) => {
    const bar = name.indexOf("|");
    if (bar === -1) return table.get(name) ? "ok" : "unknown";
    const parent = table.get(name.slice(0, bar));
    return parent?.subcommands?.has(name.slice(bar + 1)) ? "ok" : "unknown";
  };
}

/** Every runnable command name of the table (containers with a handler of their own, and subcommands). */
function* runnable(table: CommandTable): Generator<Command> {
  for (const command of table.all()) {
    if (!command.subcommands || command.handler) yield command;
    if (command.subcommands) yield* command.subcommands.values();
  }
}

function getUser(user: AclUser): Reply {
  return map([
    [bulk("flags"), set(user.flags().map((f) => bulk(f)))],
    [bulk("passwords"), bulkArray(user.passwords)],
    [bulk("commands"), bulk(user.describeCommands())],
    [bulk("keys"), bulk(user.describeKeys())],
    [bulk("channels"), bulk(user.channelPatterns())],
    [bulk("selectors"), array([])],
  ]);
}

/** ACL DRYRUN: the command's permission check without running it. */
function dryRun(call: CommandCall): Reply {
  const acl = aclOf(call.server);
  const name = call.str(2);
  const user = acl.get(name);
  if (!user) return error(`ERR User '${name}' not found`);
  const argv = call.argv.slice(3);
  const resolved = call.server.commands.resolve(argv);
  if ("type" in resolved) {
    if (!call.server.commands.get(call.option(3))) return error(`ERR Command '${call.str(3)}' not found`);
    return resolved;
  }
  if (!user.canRun(resolved)) return bulk(`This user has no permissions to run the '${resolved.fullName}' command`);
  const denied = user.deniedKey(resolved, argv);
  if (denied !== -1) return bulk(`This user has no permissions to access the '${new TextDecoder().decode(argv[denied])}' key`);
  return OK;
}

/** ACL SETUSER, DELUSER, GETUSER, LIST, USERS, WHOAMI, CAT, DRYRUN, GENPASS, LOG, SAVE, LOAD. */
export const aclCommands: HandlerTable = {
  acl: {
    subcommands: {
      setuser: (call) => {
        const name = call.str(2);
        for (const byte of call.argv[2]) {
          if (byte === 0x20 || byte === 0) return error("ERR Usernames can't contain spaces or null characters");
        }
        const ops: string[] = [];
        for (let i = 3; i < call.argv.length; i++) ops.push(call.str(i));
        const failure = aclOf(call.server).setUser(name, ops, commandLookup(call.server.commands));
        return failure === null ? OK : error(failure);
      },
      deluser: (call) => {
        const acl = aclOf(call.server);
        const names: string[] = [];
        for (let i = 2; i < call.argv.length; i++) names.push(call.str(i));
        for (const name of names) {
          if (name === DEFAULT_USER || (name === READONLY_USER && acl.get(name))) {
            return error(`ERR The '${name}' user cannot be removed`);
          }
        }
        const removed = acl.delUsers(names);
        // Redis disconnects the clients of a deleted user.
        const gone = new Set(names.filter((n) => !acl.get(n)));
        for (const client of [...call.server.clients.values()]) {
          if (!gone.has(client.user)) continue;
          if (client === call.client) call.client.closeAfterReply = true;
          else closeClientConnection(call.server, client);
        }
        return integer(removed);
      },
      getuser: (call) => {
        const user = aclOf(call.server).get(call.str(2));
        return user ? getUser(user) : NULL;
      },
      list: (call) => bulkArray(aclOf(call.server).all().map((u) => `user ${u.name} ${u.describe()}`)),
      users: (call) => bulkArray(aclOf(call.server).all().map((u) => u.name)),
      whoami: (call) => bulk(call.client.user),
      cat: (call) => {
        if (call.argv.length > 3) return error(`ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.`);
        if (call.argv.length === 2) return bulkArray([...ACL_CATEGORIES]);
        const category = call.option(2);
        if (!(ACL_CATEGORIES as readonly string[]).includes(category)) return error(`ERR Unknown category '${call.str(2)}'`);
        const names: string[] = [];
        for (const command of runnable(call.server.commands)) {
          if (command.def.acl_categories.some((c) => c.toLowerCase() === `@${category}`)) names.push(command.fullName);
        }
        return bulkArray(names);
      },
      dryrun: dryRun,
      genpass: (call) => {
        let bits = 256;
        if (call.argv.length > 2) {
          const n = parseInt64(call.argv[2]);
          if (n === null) return error(Errors.notInteger);
          if (n <= 0n || n > 4096n) {
            return error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");
          }
          bits = Number(n);
        }
        const chars = Math.ceil(bits / 4);
        const bytes = new Uint8Array(Math.ceil(chars / 2));
        crypto.getRandomValues(bytes);
        let hex = "";
        for (const b of bytes) hex += b.toString(16).padStart(2, "0");
        return bulk(hex.slice(0, chars));
      },
      // tidekv keeps no ACL log: denied commands are counted in INFO only.
      log: (call) => {
        if (call.argv.length > 3) return error(`ERR unknown subcommand or wrong number of arguments for 'log'. Try ACL HELP.`);
        if (call.argv.length === 3) {
          if (call.option(2) === "reset") return OK;
          const n = parseInt64(call.argv[2]);
          if (n === null || n < 0n) return error(Errors.notInteger);
        }
        return array([]);
      },
      // Users persist in the node's SQL by themselves; there is no ACL file.
      save: () => error(NO_ACL_FILE),
      load: () => error(NO_ACL_FILE),
      help: () => helpReply("acl", ACL_HELP),
    },
  },
};

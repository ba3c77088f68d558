import { array, bulk, bulkOrNull, error, integer, map, OK, PONG, set, simple, verbatim, type Reply } from "../resp/reply.ts";
import { authenticate, defaultUserHasPassword, DEFAULT_USER, startsAuthenticated, userExists, WRONGPASS } from "../engine/auth.ts";
import type { CommandCall } from "../engine/call.ts";
import type { Client } from "../engine/client.ts";
import { helpReply, subcommandSyntaxError } from "../engine/command-docs.ts";
import { closeClientConnection } from "../engine/connection.ts";
import { CommandError, Errors } from "../engine/errors.ts";
import { clientInfoLine, REDIS_VERSION } from "../engine/info.ts";
import { parseInt64 } from "../util/numbers.ts";
import type { HandlerTable } from "./spec.ts";

const INT_MIN = -2147483648n;
const INT_MAX = 2147483647n;
const LONG_MAX = 9223372036854775807n;

const BAD_CLIENT_NAME = "ERR Client names cannot contain spaces, newlines or special characters.";

/**
 * CLIENT SETNAME / HELLO SETNAME (clientSetName): printable ASCII without
 * spaces, so CLIENT LIST stays splittable; an empty name removes the name.
 */
function setClientName(client: Client, name: Uint8Array): boolean {
  for (const byte of name) if (byte < 0x21 || byte > 0x7e) return false;
  client.name = name.length === 0 ? null : new TextDecoder().decode(name);
  return true;
}

/** Redis's client types (getClientTypeByName); every tidekv client connection is "normal" for now. */
const CLIENT_TYPES = new Set(["normal", "slave", "replica", "pubsub", "master"]);
/** CLIENT LIST/KILL TYPE: a replica attached here is "slave", this node's link to its master "master". */
function clientType(client: Client): string {
  return client.role === "replica" ? "slave" : client.role === "master" ? "master" : "normal";
}
function typeMatches(client: Client, type: string): boolean {
  const wanted = type === "replica" ? "slave" : type;
  return clientType(client) === wanted;
}

function clientInfo(call: CommandCall, client: Client): string {
  return clientInfoLine(call.server, client, { client: call.client, command: call.command.fullName, argv: call.argv });
}

const CLIENT_HELP = [
  "CACHING (YES|NO)",
  "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
  "GETREDIR",
  "    Return the client ID we are redirecting to when tracking is enabled.",
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "KILL <ip:port>",
  "    Kill connection made from <ip:port>.",
  "KILL <option> <value> [<option> <value> [...]]",
  "    Kill connections. Options are:",
  "    * ADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made from the specified address",
  "    * LADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made to specified local address",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Kill connections by type.",
  "    * USER <username>",
  "      Kill connections authenticated by <username>.",
  "    * SKIPME (YES|NO)",
  "      Skip killing current connection (default: yes).",
  "LIST [options ...]",
  "    Return information about client connections. Options:",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Return clients of specified type.",
  "UNPAUSE",
  "    Stop the current client pause, resuming traffic.",
  "PAUSE <timeout> [WRITE|ALL]",
  "    Suspend all, or just write, clients for <timeout> milliseconds.",
  "REPLY (ON|OFF|SKIP)",
  "    Control the replies sent to the current connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "UNBLOCK <clientid> [TIMEOUT|ERROR]",
  "    Unblock the specified blocked client.",
  "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
  "         [OPTIN] [OPTOUT] [NOLOOP]",
  "    Control server assisted client side caching.",
  "TRACKINGINFO",
  "    Report tracking status for the current connection.",
  "NO-EVICT (ON|OFF)",
  "    Protect current client connection from eviction.",
];

/** CLIENT KILL, both forms (clientCommand in src/networking.c). */
function clientKill(call: CommandCall): Reply {
  const argc = call.argv.length;
  let addr: string | null = null;
  let laddr: string | null = null;
  let user: string | null = null;
  let type: string | null = null;
  let id: bigint | null = null;
  let skipme = true;
  if (argc === 3) {
    addr = call.str(2); // old form: CLIENT KILL addr, which may kill the caller
    skipme = false;
  } else {
    for (let i = 2; i < argc; i += 2) {
      const option = call.option(i);
      const more = argc > i + 1;
      if (option === "id" && more) {
        const n = parseInt64(call.argv[i + 1]);
        if (n === null || n < 1n || n > LONG_MAX) return error("ERR client-id should be greater than 0");
        id = n;
      } else if (option === "type" && more) {
        const name = call.option(i + 1);
        if (!CLIENT_TYPES.has(name)) return error(`ERR Unknown client type '${call.str(i + 1)}'`);
        type = name;
      } else if (option === "addr" && more) {
        addr = call.str(i + 1);
      } else if (option === "laddr" && more) {
        laddr = call.str(i + 1);
      } else if (option === "user" && more) {
        user = call.str(i + 1);
        if (!userExists(call.server, user)) return error(`ERR No such user '${user}'`);
      } else if (option === "skipme" && more) {
        const value = call.option(i + 1);
        if (value === "yes") skipme = true;
        else if (value === "no") skipme = false;
        else return error(Errors.syntax);
      } else {
        return error(Errors.syntax);
      }
    }
  }

  let killed = 0;
  let closeSelf = false;
  for (const client of [...call.server.clients.values()]) {
    if (addr !== null && client.addr !== addr) continue;
    if (laddr !== null && client.laddr !== laddr) continue;
    if (type !== null && !typeMatches(client, type)) continue;
    if (id !== null && BigInt(client.id) !== id) continue;
    if (user !== null && client.user !== user) continue;
    if (client === call.client && skipme) continue;
    if (client === call.client) closeSelf = true;
    else closeClientConnection(call.server, client);
    killed++;
  }
  // The caller is closed only after its reply is written.
  if (closeSelf) call.client.closeAfterReply = true;
  if (argc === 3) return killed === 0 ? error("ERR No such client") : OK;
  return integer(killed);
}

function clientList(call: CommandCall): Reply {
  const argc = call.argv.length;
  let lines: string[];
  if (argc === 4 && call.option(2) === "type") {
    const type = call.option(3);
    if (!CLIENT_TYPES.has(type)) return error(`ERR Unknown client type '${call.str(3)}'`);
    lines = [...call.server.clients.values()].filter((c) => typeMatches(c, type)).map((c) => clientInfo(call, c));
  } else if (argc > 3 && call.option(2) === "id") {
    lines = [];
    for (let i = 3; i < argc; i++) {
      const id = parseInt64(call.argv[i]);
      if (id === null) return error("ERR Invalid client ID");
      const client = id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER) ? call.server.clients.get(Number(id)) : undefined;
      if (client) lines.push(clientInfo(call, client));
    }
  } else if (argc !== 2) {
    return error(Errors.syntax);
  } else {
    lines = [...call.server.clients.values()].map((c) => clientInfo(call, c));
  }
  return verbatim(lines.map((line) => `${line}\n`).join(""));
}

/** PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH, CLIENT ... */
export const connectionCommands: HandlerTable = {
  ping: (call): Reply => {
    if (call.argv.length > 2) return error("ERR wrong number of arguments for 'ping' command");
    return call.argv.length === 2 ? bulk(call.argv[1]) : PONG;
  },
  echo: (call) => bulk(call.argv[1]),
  select: (call) => {
    const n = parseInt64(call.argv[1]);
    if (n === null) return error(Errors.notInteger);
    if (n < INT_MIN || n > INT_MAX) return error("ERR value is out of range, value must between -2147483648 and 2147483647");
    const db = Number(n);
    if (db !== 0 && call.server.config.bool("cluster-enabled")) return error("ERR SELECT is not allowed in cluster mode");
    if (db < 0 || db >= call.server.config.int("databases")) return error(Errors.dbIndexOutOfRange);
    call.client.db = db;
    return OK;
  },
  quit: (call) => {
    call.client.closeAfterReply = true;
    return OK;
  },
  reset: (call) => {
    const { client, server } = call;
    client.multi = null;
    server.unwatchAll(client);
    client.db = 0;
    client.protocol = 2;
    client.name = null;
    client.user = DEFAULT_USER;
    client.authenticated = startsAuthenticated(server);
    client.asking = false;
    client.readonlyMode = false;
    client.noEvict = false;
    client.noTouch = false;
    return simple("RESET");
  },

  /**
   * HELLO [protover [AUTH user pass] [SETNAME name]]. The reply says "redis"
   * and Redis's version, not tidekv's: clients (redis-py, ioredis, Lettuce,
   * go-redis) read `version` to decide which commands and reply shapes they
   * can use, and some reject unknown servers or extra fields. tidekv identifies
   * itself in INFO server (tidekv_version, runtime) instead.
   */
  hello: (call) => {
    const { client, server, argv } = call;
    let version = 0;
    let next = 1;
    if (argv.length >= 2) {
      const n = parseInt64(argv[1]);
      if (n === null) return error("ERR Protocol version is not an integer or out of range");
      if (n < 2n || n > 3n) return error("NOPROTO unsupported protocol version");
      version = Number(n);
      next = 2;
    }
    for (let j = next; j < argv.length; j++) {
      const more = argv.length - 1 - j;
      const option = call.option(j);
      if (option === "auth" && more >= 2) {
        const user = authenticate(server, call.str(j + 1), argv[j + 2]);
        if (user === null) return error(WRONGPASS);
        client.user = user;
        client.authenticated = true;
        j += 2;
      } else if (option === "setname" && more >= 1) {
        // Applied at once, as Redis does: a later bad option does not undo it.
        if (!setClientName(client, argv[j + 1])) return error(BAD_CLIENT_NAME);
        j++;
      } else {
        return error(`ERR Syntax error in HELLO option '${call.str(j)}'`);
      }
    }
    if (!client.authenticated) {
      return error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
      );
    }
    if (version) client.protocol = version as 2 | 3;
    return map([
      [bulk("server"), bulk("redis")],
      [bulk("version"), bulk(REDIS_VERSION)],
      [bulk("proto"), integer(client.protocol)],
      [bulk("id"), integer(client.id)],
      [bulk("mode"), bulk(server.config.bool("cluster-enabled") ? "cluster" : "standalone")],
      [bulk("role"), bulk(server.isReplica ? "replica" : "master")],
      [bulk("modules"), array([])],
    ]);
  },

  auth: (call) => {
    const { argv, server, client } = call;
    if (argv.length > 3) return error(Errors.syntax);
    let user = DEFAULT_USER;
    let password = argv[1];
    if (argv.length === 2) {
      if (!defaultUserHasPassword(server)) {
        return error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
      }
    } else {
      user = call.str(1);
      password = argv[2];
    }
    const loggedIn = authenticate(server, user, password);
    if (loggedIn === null) return error(WRONGPASS);
    client.user = loggedIn;
    client.authenticated = true;
    return OK;
  },

  client: {
    subcommands: {
      id: (call) => integer(call.client.id),
      info: (call) => verbatim(`${clientInfo(call, call.client)}\n`),
      list: clientList,
      kill: clientKill,
      setname: (call) => (setClientName(call.client, call.argv[2]) ? OK : error(BAD_CLIENT_NAME)),
      getname: (call) => bulkOrNull(call.client.name),
      "no-evict": (call) => {
        const value = call.option(2);
        if (value === "on") call.client.noEvict = true;
        else if (value === "off") call.client.noEvict = false;
        else return error(Errors.syntax);
        return OK;
      },
      // CLIENT PAUSE is accepted and validated but pauses nothing yet: a
      // paused node would have to hold replies back, and handlers answer
      // synchronously. UNPAUSE is therefore a no-op too.
      pause: (call) => {
        if (call.argv.length > 4) return subcommandSyntaxError(call.argv);
        if (call.argv.length === 4) {
          const mode = call.option(3);
          if (mode !== "write" && mode !== "all") return error("ERR CLIENT PAUSE mode must be WRITE or ALL");
        }
        const timeout = parseInt64(call.argv[2]);
        if (timeout === null) return error("ERR timeout is not an integer or out of range");
        if (timeout < 0n) return error("ERR timeout is negative");
        if (timeout > 0n && timeout > LONG_MAX - BigInt(Math.floor(call.now))) return error("ERR timeout is out of range");
        return OK;
      },
      unpause: () => OK,
      // No blocking commands yet: no client is ever blocked.
      unblock: (call) => {
        if (call.argv.length > 4) return subcommandSyntaxError(call.argv);
        if (call.argv.length === 4) {
          const reason = call.option(3);
          if (reason !== "timeout" && reason !== "error") return error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
        if (parseInt64(call.argv[2]) === null) throw new CommandError(Errors.notInteger);
        return integer(0);
      },
      // Client-side caching is not implemented: tracking is always off.
      getredir: () => integer(-1),
      trackinginfo: () =>
        map([
          [bulk("flags"), set([bulk("off")])],
          [bulk("redirect"), integer(-1)],
          [bulk("prefixes"), array([])],
        ]),
      help: () => helpReply("client", CLIENT_HELP),
    },
  },
};

/**
 * ACL users and token authentication inside workerd (real Durable Object
 * SQLite and WebSockets): ACL SETUSER / GETUSER / LIST / USERS / WHOAMI / CAT /
 * DELUSER / DRYRUN / GENPASS with Redis 7.0's replies and error texts, command
 * and key permissions (NOPERM), AUTH for ACL users, persistence, and the
 * deployment tokens (NOAUTH, WRONGPASS, read-only token).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { configureTokens, userForToken } from "../../shared/engine/auth.ts";
import { constantTimeEqual, passwordHash } from "../../shared/engine/acl.ts";

const stub = (name: string) => (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
const NOAUTH = "NOAUTH Authentication required.";
const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";
const noperm = (command: string) => ({ error: `NOPERM this user has no permissions to run the '${command}' command` });
const NOPERM_KEY = { error: "NOPERM this user has no permissions to access one of the keys used as arguments" };
const modifierError = (op: string, reason: string) => ({ error: `ERR Error in ACL SETUSER modifier '${op}': ${reason}` });

async function node(prefix = "acl") {
  const name = uniqueNode(prefix);
  const admin = await NodeClient.node(name);
  return { name, admin, connect: () => NodeClient.node(name) };
}

/** Gives a node deployment tokens, as the Durable Object shell does from its environment. */
async function withTokens(name: string, token: string | null, readonlyToken: string | null): Promise<void> {
  await runInDurableObject(stub(name), (instance: unknown) => {
    const server = (instance as { node: { server: Parameters<typeof configureTokens>[0] } }).node.server;
    configureTokens(server, { token, readonlyToken });
  });
}

describe("ACL SETUSER / GETUSER / LIST / USERS", () => {
  it("creates a user and describes it as Redis 7.0 does", async () => {
    const { admin } = await node();
    expect(plain(await admin.call("ACL", "SETUSER", "alice", "on", ">p1", "~app:*", "+@read"))).toBe("OK");
    const hash = passwordHash("p1");
    expect(hash).toBe("f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a");
    expect(plain(await admin.call("ACL", "LIST"))).toEqual([
      `user alice on #${hash} ~app:* resetchannels -@all +@read`,
      "user default on nopass ~* &* +@all",
    ]);
    expect(plain(await admin.call("ACL", "USERS"))).toEqual(["alice", "default"]);
    expect(plain(await admin.call("ACL", "GETUSER", "alice"))).toEqual([
      "flags", ["on"], "passwords", [hash], "commands", "-@all +@read", "keys", "~app:*", "channels", "", "selectors", [],
    ]);
    expect(plain(await admin.call("ACL", "GETUSER", "nobody"))).toBeNull();
    // RESP3: a map, flags as a set.
    await admin.call("HELLO", "3");
    const reply = await admin.call("ACL", "GETUSER", "default");
    expect(reply.type).toBe("map");
    if (reply.type === "map") {
      expect(reply.value[0][1].type).toBe("set");
      expect(plain(reply)).toEqual([
        ["flags", ["on", "nopass"]], ["passwords", []], ["commands", "+@all"], ["keys", "~*"], ["channels", "&*"], ["selectors", []],
      ]);
    }
  });

  it("a new user is off with no permissions; rules apply in order", async () => {
    const { admin } = await node();
    await admin.call("ACL", "SETUSER", "bob");
    expect(plain(await admin.call("ACL", "LIST"))).toContain("user bob off resetchannels -@all");
    await admin.call("ACL", "SETUSER", "bob", "allcommands", "allkeys", "-get", "+@string", "-@string");
    expect(plain(await admin.call("ACL", "GETUSER", "bob"))).toEqual(expect.arrayContaining(["+@all -get -@string", "~*"]));
    expect(plain(await admin.call("ACL", "SETUSER", "bob", "%R~r:*"))).toEqual(
      modifierError(
        "%R~r:*",
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
      ),
    );
    expect(plain(await admin.call("ACL", "SETUSER", "bob", "nocommands", "+config|get", "resetkeys", "%R~r:*", "%W~w:*", "~b:*", "&ch:*"))).toBe("OK");
    expect(plain(await admin.call("ACL", "LIST"))).toContain("user bob off %R~r:* %W~w:* ~b:* resetchannels &ch:* -@all +config|get");
    await admin.call("ACL", "SETUSER", "bob", "reset");
    expect(plain(await admin.call("ACL", "LIST"))).toContain("user bob off sanitize-payload resetchannels -@all");
  });

  it("passwords: >, <, #, !, nopass, resetpass", async () => {
    const { admin } = await node();
    await admin.call("ACL", "SETUSER", "p", "nopass", ">x");
    expect(plain(await admin.call("ACL", "LIST"))).toContain(`user p off #${passwordHash("x")} resetchannels -@all`);
    await admin.call("ACL", "SETUSER", "p", `#${passwordHash("y")}`, "<x");
    expect(plain(await admin.call("ACL", "GETUSER", "p"))).toEqual(expect.arrayContaining([[passwordHash("y")]]));
    await admin.call("ACL", "SETUSER", "p", `!${passwordHash("y")}`, "nopass");
    expect(plain(await admin.call("ACL", "GETUSER", "p"))).toEqual(expect.arrayContaining([["off", "nopass"]]));
    await admin.call("ACL", "SETUSER", "p", "resetpass");
    expect(plain(await admin.call("ACL", "LIST"))).toContain("user p off resetchannels -@all");
  });

  it("refuses bad modifiers with Redis's texts and changes nothing", async () => {
    const { admin } = await node();
    await admin.call("ACL", "SETUSER", "x", "on", "~a");
    expect(plain(await admin.call("ACL", "SETUSER", "x", "off", "foo"))).toEqual(modifierError("foo", "Syntax error"));
    expect(plain(await admin.call("ACL", "SETUSER", "x", "+nosuch"))).toEqual(modifierError("+nosuch", "Unknown command or category name in ACL"));
    expect(plain(await admin.call("ACL", "SETUSER", "x", "+@nosuch"))).toEqual(modifierError("+@nosuch", "Unknown command or category name in ACL"));
    expect(plain(await admin.call("ACL", "SETUSER", "x", "+config|nosuch"))).toEqual(
      modifierError("+config|nosuch", "Unknown command or category name in ACL"),
    );
    expect(plain(await admin.call("ACL", "SETUSER", "x", "<nopw"))).toEqual(
      modifierError("<nopw", "The password you are trying to remove from the user does not exist"),
    );
    expect(plain(await admin.call("ACL", "SETUSER", "x", "#abc"))).toEqual(
      modifierError("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    );
    expect(plain(await admin.call("ACL", "SETUSER", "x", "allkeys", "~b"))).toEqual(
      modifierError(
        "~b",
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
      ),
    );
    expect(plain(await admin.call("ACL", "SETUSER", "x", "%X~a"))).toEqual(modifierError("%X~a", "Syntax error"));
    expect(plain(await admin.call("ACL", "SETUSER", "a b"))).toEqual({ error: "ERR Usernames can't contain spaces or null characters" });
    expect(plain(await admin.call("ACL", "SETUSER"))).toEqual({ error: "ERR wrong number of arguments for 'acl|setuser' command" });
    // The refused calls left x as it was (the first modifier of each was not kept either).
    expect(plain(await admin.call("ACL", "LIST"))).toContain("user x on ~a resetchannels -@all");
  });

  it("DELUSER counts removed users, refuses the default user and closes the user's connections", async () => {
    const { admin, connect } = await node();
    await admin.call("ACL", "SETUSER", "gone", "on", "nopass", "+@all", "~*");
    const c = await connect();
    expect(plain(await c.call("AUTH", "gone", "anything"))).toBe("OK");
    expect(plain(await admin.call("ACL", "DELUSER", "default"))).toEqual({ error: "ERR The 'default' user cannot be removed" });
    expect(plain(await admin.call("ACL", "DELUSER", "gone", "nobody"))).toBe(1);
    expect((await c.closed).code).toBe(1000);
    expect(plain(await admin.call("ACL", "DELUSER", "gone"))).toBe(0);
    expect(plain(await admin.call("ACL", "USERS"))).toEqual(["default"]);
  });

  it("users persist in the node's SQL", async () => {
    const { name, admin } = await node();
    await admin.call("ACL", "SETUSER", "kept", "on", ">pw", "~k:*", "+get");
    const row = await runInDurableObject(stub(name), (_instance, state) =>
      state.storage.sql.exec("SELECT value FROM meta WHERE name = 'acl:user:kept'").toArray(),
    );
    expect(row).toHaveLength(1);
    const stored = JSON.parse(String(row[0].value));
    expect(stored).toMatchObject({ enabled: true, passwords: [passwordHash("pw")], rules: ["+get"], allCommands: false });
  });
});

describe("ACL CAT, WHOAMI, DRYRUN, GENPASS, LOG, SAVE", () => {
  it("lists the 21 categories and the commands of one", async () => {
    const { admin } = await node();
    const cats = plain(await admin.call("ACL", "CAT")) as string[];
    expect(cats).toHaveLength(21);
    expect(cats.slice(0, 3)).toEqual(["keyspace", "read", "write"]);
    const strings = plain(await admin.call("ACL", "CAT", "string")) as string[];
    expect(strings).toEqual(expect.arrayContaining(["get", "set", "incrbyfloat"]));
    expect(strings).not.toContain("hget");
    const connection = plain(await admin.call("ACL", "CAT", "CONNECTION")) as string[];
    expect(connection).toEqual(expect.arrayContaining(["client|id", "auth", "hello", "command", "command|info"]));
    expect(connection).not.toContain("client");
    expect(plain(await admin.call("ACL", "CAT", "nosuch"))).toEqual({ error: "ERR Unknown category 'nosuch'" });
  });

  it("WHOAMI, DRYRUN, GENPASS, LOG, SAVE", async () => {
    const { admin } = await node();
    expect(plain(await admin.call("ACL", "WHOAMI"))).toBe("default");
    await admin.call("ACL", "SETUSER", "dry", "on", "~app:*", "+@read");
    expect(plain(await admin.call("ACL", "DRYRUN", "dry", "get", "app:1"))).toBe("OK");
    expect(plain(await admin.call("ACL", "DRYRUN", "dry", "set", "app:1", "x"))).toBe("This user has no permissions to run the 'set' command");
    expect(plain(await admin.call("ACL", "DRYRUN", "dry", "get", "z"))).toBe("This user has no permissions to access the 'z' key");
    expect(plain(await admin.call("ACL", "DRYRUN", "nouser", "get", "z"))).toEqual({ error: "ERR User 'nouser' not found" });
    expect(plain(await admin.call("ACL", "DRYRUN", "dry", "nocmd"))).toEqual({ error: "ERR Command 'nocmd' not found" });
    expect(String(plain(await admin.call("ACL", "GENPASS")))).toMatch(/^[0-9a-f]{64}$/);
    expect(String(plain(await admin.call("ACL", "GENPASS", "5")))).toMatch(/^[0-9a-f]{2}$/);
    expect(plain(await admin.call("ACL", "GENPASS", "0"))).toEqual({
      error: "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
    });
    expect(plain(await admin.call("ACL", "LOG"))).toEqual([]);
    expect(plain(await admin.call("ACL", "LOG", "RESET"))).toBe("OK");
    expect(plain(await admin.call("ACL", "SAVE"))).toEqual({ error: expect.stringMatching(/^ERR This Redis instance is not configured to use an ACL file/) });
  });
});

describe("permissions", () => {
  it("AUTH as an ACL user: commands by category and name, keys by pattern", async () => {
    const { admin, connect } = await node();
    await admin.call("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read", "-hgetall", "+config|get");
    await admin.call("SET", "app:1", "one");
    await admin.call("SET", "other", "two");
    const c = await connect();
    expect(plain(await c.call("AUTH", "app", "wrong"))).toEqual({ error: WRONGPASS });
    expect(plain(await c.call("AUTH", "nobody", "pw"))).toEqual({ error: WRONGPASS });
    expect(plain(await c.call("AUTH", "app", "pw"))).toBe("OK");
    expect(plain(await c.call("GET", "app:1"))).toBe("one");
    expect(plain(await c.call("GET", "other"))).toEqual(NOPERM_KEY);
    expect(plain(await c.call("MGET", "app:1", "other"))).toEqual(NOPERM_KEY);
    expect(plain(await c.call("SET", "app:1", "x"))).toEqual(noperm("set"));
    expect(plain(await c.call("HGETALL", "app:h"))).toEqual(noperm("hgetall"));
    expect(plain(await c.call("PING"))).toEqual(noperm("ping"));
    expect(plain(await c.call("CONFIG", "GET", "maxmemory"))).toEqual(["maxmemory", "0"]);
    expect(plain(await c.call("CONFIG", "SET", "maxmemory", "1"))).toEqual(noperm("config|set"));
    expect(plain(await c.call("MULTI"))).toEqual(noperm("multi"));
    expect(plain(await c.call("EXEC"))).toEqual({ error: "EXECABORT Transaction discarded because of: NOPERM this user has no permissions to run the 'exec' command" });
    // HELLO and AUTH need no permission.
    expect((await c.call("HELLO", "3")).type).toBe("map");
  });

  it("read (%R~) and write (%W~) key patterns follow the key specs' access", async () => {
    const { admin, connect } = await node();
    await admin.call("ACL", "SETUSER", "rw", "on", "nopass", "+@all", "%R~r:*", "%W~w:*");
    await admin.call("SET", "r:1", "a");
    const c = await connect();
    await c.call("AUTH", "rw", "x");
    expect(plain(await c.call("GET", "r:1"))).toBe("a");
    expect(plain(await c.call("SET", "r:1", "b"))).toEqual(NOPERM_KEY);
    // SET reads its key only with GET (Redis's variable key-spec flags).
    expect(plain(await c.call("SET", "w:1", "b"))).toBe("OK");
    expect(plain(await c.call("SET", "w:1", "b", "GET"))).toEqual(NOPERM_KEY);
    expect(plain(await c.call("GET", "w:1"))).toEqual(NOPERM_KEY);
    // COPY reads its source and writes its destination.
    expect(plain(await c.call("COPY", "r:1", "w:2"))).toBe(1);
    expect(plain(await c.call("COPY", "w:1", "w:3"))).toEqual(NOPERM_KEY);
    // As in Redis 7.0: APPEND, LPUSH, DEL only write; INCR, GETDEL, RENAME also read.
    expect(plain(await c.call("APPEND", "w:1", "x"))).toBe(2);
    expect(plain(await c.call("LPUSH", "w:l", "a"))).toBe(1);
    expect(plain(await c.call("INCR", "w:n"))).toEqual(NOPERM_KEY);
    expect(plain(await c.call("GETDEL", "w:1"))).toEqual(NOPERM_KEY);
    expect(plain(await c.call("RENAME", "w:1", "w:9"))).toEqual(NOPERM_KEY);
    expect(plain(await c.call("DEL", "w:1"))).toBe(1);
  });

  it("a disabled user cannot log in; switching users with AUTH", async () => {
    const { admin, connect } = await node();
    await admin.call("ACL", "SETUSER", "u", "off", ">pw", "+@all", "~*");
    const c = await connect();
    expect(plain(await c.call("AUTH", "u", "pw"))).toEqual({ error: WRONGPASS });
    await admin.call("ACL", "SETUSER", "u", "on");
    expect(plain(await c.call("AUTH", "u", "pw"))).toBe("OK");
    expect(plain(await c.call("ACL", "WHOAMI"))).toBe("u");
    expect(plain(await c.call("AUTH", "default", "anything"))).toBe("OK");
    expect(plain(await c.call("ACL", "WHOAMI"))).toBe("default");
  });
});

describe("deployment tokens", () => {
  it("with a token, new connections need AUTH; wrong tokens get WRONGPASS", async () => {
    const { name, admin, connect } = await node("tok");
    await withTokens(name, "full-secret", "ro-secret");
    // A connection opened before the tokens were configured stays authenticated.
    expect(plain(await admin.call("PING"))).toBe("PONG");
    const c = await connect();
    expect(plain(await c.call("PING"))).toEqual({ error: NOAUTH });
    expect(plain(await c.call("GET", "k"))).toEqual({ error: NOAUTH });
    expect(plain(await c.call("AUTH", "wrong"))).toEqual({ error: WRONGPASS });
    expect(plain(await c.call("AUTH", "default", "wrong"))).toEqual({ error: WRONGPASS });
    expect(plain(await c.call("HELLO", "3", "AUTH", "default", "full-secret"))).toEqual(expect.arrayContaining([["proto", 3]]));
    expect(plain(await c.call("SET", "k", "v"))).toBe("OK");
    const d = await connect();
    expect(plain(await d.call("AUTH", "full-secret"))).toBe("OK");
    expect(plain(await d.call("GET", "k"))).toBe("v");
    expect(plain(await d.call("RESET"))).toBe("RESET");
    expect(plain(await d.call("GET", "k"))).toEqual({ error: NOAUTH });
    expect(plain(await d.call("QUIT"))).toBe("OK");
  });

  it("the read-only token logs in as default_ro: reads only, no KEYS or SCAN", async () => {
    const { name, admin, connect } = await node("ro");
    await withTokens(name, "full-secret", "ro-secret");
    await admin.call("SET", "k", "v");
    const c = await connect();
    expect(plain(await c.call("AUTH", "ro-secret"))).toBe("OK");
    expect(plain(await c.call("ACL", "WHOAMI"))).toBe("default_ro");
    expect(plain(await c.call("GET", "k"))).toBe("v");
    expect(plain(await c.call("SET", "k", "x"))).toEqual(noperm("set"));
    expect(plain(await c.call("KEYS", "*"))).toEqual(noperm("keys"));
    expect(plain(await c.call("SCAN", "0"))).toEqual(noperm("scan"));
    expect(plain(await c.call("PING"))).toBe("PONG");
    expect(plain(await c.call("ACL", "SETUSER", "x"))).toEqual(noperm("acl|setuser"));
    expect(plain(await admin.call("ACL", "USERS"))).toEqual(["default", "default_ro"]);
    expect(plain(await admin.call("ACL", "SETUSER", "default_ro", "+@all"))).toEqual({
      error: "ERR The 'default_ro' user is managed by the deployment's tokens (TIDEKV_TOKEN, TIDEKV_READONLY_TOKEN) and cannot be changed",
    });
    expect(plain(await admin.call("ACL", "LIST"))).toEqual([
      `user default on #${passwordHash("full-secret")} ~* &* +@all`,
      `user default_ro on #${passwordHash("ro-secret")} ~* &* -@all +@read +@connection +@transaction -@dangerous -scan +acl|whoami`,
    ]);
  });

  it("a read-only token alone disables the default user", async () => {
    const { name, connect } = await node("roonly");
    await withTokens(name, null, "ro-secret");
    const c = await connect();
    expect(plain(await c.call("PING"))).toEqual({ error: NOAUTH });
    expect(plain(await c.call("AUTH", "default", "anything"))).toEqual({ error: WRONGPASS });
    expect(plain(await c.call("AUTH", "default", "ro-secret"))).toBe("OK");
    expect(plain(await c.call("ACL", "WHOAMI"))).toBe("default_ro");
  });

  it("userForToken and constant-time comparison", () => {
    expect(userForToken({ token: null, readonlyToken: null }, null)).toBe("default");
    expect(userForToken({ token: "a", readonlyToken: "b" }, "a")).toBe("default");
    expect(userForToken({ token: "a", readonlyToken: "b" }, "b")).toBe("default_ro");
    expect(userForToken({ token: "a", readonlyToken: "b" }, "ab")).toBeNull();
    expect(userForToken({ token: "a", readonlyToken: null }, "")).toBeNull();
    expect(userForToken({ token: "a", readonlyToken: null }, null)).toBeNull();
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(constantTimeEqual(enc("secret"), enc("secret"))).toBe(true);
    expect(constantTimeEqual(enc("secret"), enc("secreT"))).toBe(false);
    expect(constantTimeEqual(enc("secret"), enc("secret1"))).toBe(false);
    expect(constantTimeEqual(enc(""), enc("x"))).toBe(false);
    expect(constantTimeEqual(enc(""), enc(""))).toBe(true);
  });
});

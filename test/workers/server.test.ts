/**
 * Server commands inside workerd: INFO's structure, DBSIZE, FLUSHDB,
 * FLUSHALL, SWAPDB (data, WATCH and replication effects), SAVE/LASTSAVE,
 * CONFIG persistence, COMMAND and FUNCTION FLUSH.
 */
import { describe, expect, it } from "vitest";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, withServer } from "./effects.ts";

async function open(prefix: string) {
  const name = uniqueNode(prefix);
  const c = await NodeClient.node(name);
  return { name, c };
}

/** INFO text -> sections (title -> field -> value), checking the layout on the way. */
function parseInfo(text: string): Map<string, Map<string, string>> {
  expect(text.endsWith("\r\n")).toBe(true);
  expect(text.includes("\n") && !/[^\r]\n/.test(text)).toBe(true); // every line ends with \r\n
  const sections = new Map<string, Map<string, string>>();
  const blocks = text.slice(0, -2).split("\r\n\r\n");
  for (const block of blocks) {
    const [header, ...rows] = block.split("\r\n");
    expect(header).toMatch(/^# [A-Za-z]+$/);
    const section = new Map<string, string>();
    for (const row of rows) {
      const colon = row.indexOf(":");
      expect(colon, `line "${row}" of ${header}`).toBeGreaterThan(0);
      section.set(row.slice(0, colon), row.slice(colon + 1));
    }
    sections.set(header.slice(2), section);
  }
  return sections;
}

async function info(c: NodeClient, ...sections: string[]) {
  return parseInfo(String(plain(await c.call("INFO", ...sections))));
}

describe("INFO", () => {
  it("has Redis's default sections, in order, with their fields", async () => {
    const { c } = await open("info");
    const sections = await info(c);
    expect([...sections.keys()]).toEqual(["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"]);
    const server = sections.get("Server")!;
    expect([...server.keys()].slice(0, 3)).toEqual(["redis_version", "redis_git_sha1", "redis_git_dirty"]);
    expect(server.get("redis_version")).toBe("7.0.15");
    expect(server.get("redis_mode")).toBe("standalone");
    expect(server.get("run_id")).toMatch(/^[0-9a-f]{40}$/);
    expect([...server.keys()].slice(-2)).toEqual(["tidekv_version", "runtime"]);
    expect(server.get("runtime")).toBe("workerd");
    const clients = sections.get("Clients")!;
    expect(clients.get("connected_clients")).toBe("1");
    expect(clients.get("blocked_clients")).toBe("0");
    expect(sections.get("Memory")!.get("maxmemory_policy")).toBe("noeviction");
    expect(sections.get("Persistence")!.has("rdb_changes_since_last_save")).toBe(true);
    for (const field of ["total_connections_received", "total_commands_processed", "keyspace_hits", "keyspace_misses", "expired_keys", "total_error_replies"]) {
      expect(sections.get("Stats")!.has(field), field).toBe(true);
    }
    const replication = sections.get("Replication")!;
    expect(replication.get("role")).toBe("master");
    expect(replication.get("master_replid")).toMatch(/^[0-9a-f]{40}$/);
    expect(replication.get("master_replid2")).toBe("0".repeat(40));
    expect(sections.get("Cluster")!.get("cluster_enabled")).toBe("0");
    expect(sections.get("Keyspace")!.size).toBe(0);
  });

  it("reports keyspace lines, hits and misses after writes", async () => {
    const { c } = await open("info");
    await c.call("SET", "a", "1");
    await c.call("SET", "b", "2", "EX", "1000");
    await c.call("SELECT", "3");
    await c.call("SET", "c", "3");
    await c.call("GET", "c");
    await c.call("GET", "nope");
    const keyspace = (await info(c, "keyspace")).get("Keyspace")!;
    expect([...keyspace.keys()]).toEqual(["db0", "db3"]);
    expect(keyspace.get("db3")).toBe("keys=1,expires=0,avg_ttl=0");
    const db0 = /^keys=2,expires=1,avg_ttl=(\d+)$/.exec(keyspace.get("db0")!);
    expect(db0).not.toBeNull();
    expect(Number(db0![1])).toBeGreaterThan(900_000);
    expect(Number(db0![1])).toBeLessThanOrEqual(1_000_000);
    const stats = (await info(c, "stats")).get("Stats")!;
    expect(stats.get("keyspace_hits")).toBe("1");
    expect(stats.get("keyspace_misses")).toBe("1");
  });

  it("selects sections case-insensitively, once each, in Redis's order; all/everything add commandstats", async () => {
    const { c } = await open("info");
    expect([...(await info(c, "KEYSPACE", "cluster", "Cluster")).keys()]).toEqual(["Cluster", "Keyspace"]);
    expect(plain(await c.call("INFO", "nosuchsection"))).toBe("");
    expect(plain(await c.call("INFO", "cluster"))).toBe("# Cluster\r\ncluster_enabled:0\r\n");
    expect(plain(await c.call("INFO", "modules"))).toBe("# Modules\r\n");
    await c.call("SET", "k", "v");
    await c.call("GET", "k", "extra"); // rejected: wrong arity
    await c.call("HELLO", "9"); // failed: NOPROTO
    const all = await info(c, "all");
    expect([...all.keys()]).toEqual([
      "Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace",
    ]);
    expect(all.get("Commandstats")!.get("cmdstat_set")).toMatch(/^calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0$/);
    expect(all.get("Commandstats")!.get("cmdstat_hello")).toMatch(/,failed_calls=1$/);
    expect(all.get("Errorstats")!.get("errorstat_ERR")).toBe("count=1");
    expect(all.get("Errorstats")!.get("errorstat_NOPROTO")).toBe("count=1");
    expect([...(await info(c, "everything")).keys()]).toEqual([...all.keys()]);
    expect([...(await info(c, "default", "commandstats")).keys()]).toContain("Commandstats");
  });

  it("is a bulk string in RESP2 and a verbatim string in RESP3", async () => {
    const { c } = await open("info");
    expect((await c.call("INFO", "cluster")).type).toBe("bulk");
    await c.call("HELLO", "3");
    const reply = await c.call("INFO", "cluster");
    expect(reply.type).toBe("verbatim");
    expect(reply.type === "verbatim" && reply.format).toBe("txt");
  });

  it("keeps master_replid across calls and stores it", async () => {
    const { name, c } = await open("info");
    const first = (await info(c, "replication")).get("Replication")!.get("master_replid");
    const second = (await info(c, "replication")).get("Replication")!.get("master_replid");
    expect(second).toBe(first);
    const stored = await withServer(name, (server) => server.sql.one<{ value: string }>(`SELECT value FROM meta WHERE name = 'repl:replid'`)?.value);
    expect(stored).toBe(first);
  });

  it("CONFIG RESETSTAT clears the counters", async () => {
    const { c } = await open("info");
    await c.call("GET", "x");
    await c.call("NOSUCHCOMMAND");
    expect(plain(await c.call("CONFIG", "RESETSTAT"))).toBe("OK");
    const sections = await info(c, "stats", "commandstats", "errorstats");
    expect(sections.get("Stats")!.get("keyspace_misses")).toBe("0");
    expect(sections.get("Stats")!.get("total_error_replies")).toBe("0");
    expect(sections.get("Errorstats")!.size).toBe(0);
    // Only RESETSTAT itself, counted once it returned (as Redis does).
    expect([...sections.get("Commandstats")!.keys()]).toEqual(["cmdstat_config|resetstat"]);
  });
});

describe("DBSIZE, FLUSHDB, FLUSHALL, SWAPDB", () => {
  it("FLUSHDB empties the selected db only; FLUSHALL empties all dbs", async () => {
    const { c } = await open("flush");
    await c.call("SET", "a", "1");
    await c.call("HSET", "h", "f", "v");
    await c.call("SELECT", "1");
    await c.call("SET", "b", "1");
    await c.call("SELECT", "7");
    await c.call("SET", "c", "1", "EX", "100");
    expect(plain(await c.call("DBSIZE"))).toBe(1);
    expect(plain(await c.call("FLUSHDB"))).toBe("OK");
    expect(plain(await c.call("DBSIZE"))).toBe(0);
    await c.call("SELECT", "0");
    expect(plain(await c.call("DBSIZE"))).toBe(2);
    expect(plain(await c.call("FLUSHDB", "x"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await c.call("FLUSHALL", "ASYNC", "x"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await c.call("FLUSHALL", "ASYNC"))).toBe("OK");
    for (const db of ["0", "1", "7"]) {
      await c.call("SELECT", db);
      expect(plain(await c.call("DBSIZE"))).toBe(0);
    }
    expect(plain(await c.call("HGET", "h", "f"))).toBeNull();
    expect(plain(await c.call("INFO", "keyspace"))).toBe("# Keyspace\r\n");
  });

  it("SWAPDB swaps two dbs for every client", async () => {
    const name = uniqueNode("swap");
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    await a.call("SET", "k", "in-0");
    await a.call("SELECT", "1");
    await a.call("SET", "k", "in-1");
    await a.call("SET", "only-1", "x");
    expect(plain(await b.call("SWAPDB", "0", "1"))).toBe("OK");
    expect(plain(await b.call("GET", "k"))).toBe("in-1");
    expect(plain(await b.call("DBSIZE"))).toBe(2);
    expect(plain(await a.call("GET", "k"))).toBe("in-0");
    expect(plain(await a.call("DBSIZE"))).toBe(1);
    expect(plain(await b.call("SWAPDB", "3", "3"))).toBe("OK");
    expect(plain(await b.call("SWAPDB", "a", "1"))).toEqual({ error: "ERR invalid first DB index" });
    expect(plain(await b.call("SWAPDB", "1", "a"))).toEqual({ error: "ERR invalid second DB index" });
    expect(plain(await b.call("SWAPDB", "0", "16"))).toEqual({ error: "ERR DB index is out of range" });
    expect(plain(await b.call("SWAPDB", "-1", "0"))).toEqual({ error: "ERR DB index is out of range" });
    expect(plain(await b.call("SWAPDB", "99999999999", "0"))).toEqual({ error: "ERR invalid first DB index" });
  });

  it("WATCH + FLUSHDB from another client aborts EXEC; a flush of another db does not", async () => {
    const name = uniqueNode("watch");
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    await a.call("SET", "w", "1");
    await a.call("WATCH", "w");
    await b.call("SELECT", "5");
    await b.call("FLUSHDB"); // db 5: not the watched db
    await a.call("MULTI");
    await a.call("SET", "w", "2");
    expect(plain(await a.call("EXEC"))).toEqual(["OK"]);

    await a.call("WATCH", "w");
    await b.call("SELECT", "0");
    expect(plain(await b.call("FLUSHDB"))).toBe("OK");
    await a.call("MULTI");
    await a.call("SET", "w", "3");
    expect(plain(await a.call("EXEC"))).toBeNull();
    expect(plain(await a.call("GET", "w"))).toBeNull();
  });

  it("WATCH + FLUSHALL / SWAPDB abort EXEC; watching a missing key survives FLUSHALL", async () => {
    const name = uniqueNode("watch");
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    await a.call("SELECT", "2");
    await a.call("SET", "w", "1");
    await a.call("WATCH", "w");
    await b.call("FLUSHALL");
    await a.call("MULTI");
    await a.call("PING");
    expect(plain(await a.call("EXEC"))).toBeNull();

    await a.call("WATCH", "missing");
    await b.call("FLUSHALL");
    await a.call("MULTI");
    await a.call("PING");
    expect(plain(await a.call("EXEC"))).toEqual(["PONG"]);

    // SWAPDB: the watched key exists in the db that comes in.
    await b.call("SELECT", "4");
    await b.call("SET", "w", "from-4");
    await a.call("WATCH", "w"); // db 2, where w does not exist
    await b.call("SWAPDB", "2", "4");
    await a.call("MULTI");
    await a.call("GET", "w");
    expect(plain(await a.call("EXEC"))).toBeNull();
    expect(plain(await a.call("GET", "w"))).toBe("from-4");
  });

  it("replicates FLUSHDB, FLUSHALL and SWAPDB as called, even with nothing to delete", async () => {
    const { name, c } = await open("flushfx");
    const fx = await captureEffects(name);
    await c.call("SELECT", "3");
    await c.call("FLUSHDB");
    await c.call("FLUSHALL", "async");
    await c.call("SET", "k", "v");
    await c.call("FLUSHDB", "SYNC");
    await c.call("SWAPDB", "0", "1");
    await c.call("FUNCTION", "FLUSH");
    await c.call("DBSIZE");
    await c.call("FLUSHDB", "bogus");
    const effects = fx.takeRaw().map((e) => [e.db, ...e.argv.map((a) => new TextDecoder().decode(a))]);
    expect(effects).toEqual([
      [3, "FLUSHDB"],
      [3, "FLUSHALL", "async"],
      [3, "SET", "k", "v"],
      [3, "FLUSHDB", "SYNC"],
      [3, "SWAPDB", "0", "1"],
      [3, "FUNCTION", "FLUSH"],
    ]);
  });
});

describe("TIME, SAVE, BGSAVE, LASTSAVE", () => {
  it("TIME is [seconds, microseconds]", async () => {
    const { c } = await open("time");
    const [sec, usec] = plain(await c.call("TIME")) as string[];
    expect(sec).toMatch(/^\d+$/);
    expect(usec).toMatch(/^\d+$/);
    expect(Number(usec)).toBeLessThan(1_000_000);
    expect(Math.abs(Number(sec) - Date.now() / 1000)).toBeLessThan(3600);
  });

  it("SAVE and BGSAVE reset rdb_changes_since_last_save and count saves", async () => {
    const { c } = await open("save");
    const before = plain(await c.call("LASTSAVE")) as number;
    expect(typeof before).toBe("number");
    await c.call("SET", "a", "1");
    await c.call("SET", "b", "1");
    let persistence = (await info(c, "persistence")).get("Persistence")!;
    expect(persistence.get("rdb_changes_since_last_save")).toBe("2");
    expect(persistence.get("rdb_saves")).toBe("0");
    expect(plain(await c.call("SAVE"))).toBe("OK");
    persistence = (await info(c, "persistence")).get("Persistence")!;
    expect(persistence.get("rdb_changes_since_last_save")).toBe("0");
    expect(persistence.get("rdb_saves")).toBe("1");
    expect(Number(persistence.get("rdb_last_save_time"))).toBe(plain(await c.call("LASTSAVE")));
    await c.call("SET", "c", "1");
    expect(plain(await c.call("BGSAVE"))).toBe("Background saving started");
    expect(plain(await c.call("BGSAVE", "SCHEDULE"))).toBe("Background saving started");
    expect(plain(await c.call("BGSAVE", "foo"))).toEqual({ error: "ERR syntax error" });
    persistence = (await info(c, "persistence")).get("Persistence")!;
    expect(persistence.get("rdb_changes_since_last_save")).toBe("0");
    expect(persistence.get("rdb_saves")).toBe("3");
    await c.call("MULTI");
    expect(plain(await c.call("SAVE"))).toEqual({ error: "ERR Command not allowed inside a transaction" });
    await c.call("DISCARD");
  });
});

describe("CONFIG", () => {
  it("SET values persist in the node's SQL and read back", async () => {
    const { name, c } = await open("config");
    expect(plain(await c.call("CONFIG", "SET", "maxmemory", "10mb", "hz", "1000000", "notify-keyspace-events", "KEA"))).toBe("OK");
    expect(plain(await c.call("CONFIG", "GET", "maxmemory"))).toEqual(["maxmemory", "10485760"]);
    expect(plain(await c.call("CONFIG", "GET", "hz"))).toEqual(["hz", "500"]);
    expect(plain(await c.call("CONFIG", "GET", "notify-keyspace-events"))).toEqual(["notify-keyspace-events", "AKE"]);
    const stored = await withServer(name, (server) =>
      server.sql.all<{ name: string; value: string }>(`SELECT name, value FROM meta WHERE name LIKE 'config:%' ORDER BY name`).map((r) => [r.name, r.value]),
    );
    expect(stored).toEqual([
      ["config:hz", "500"],
      ["config:maxmemory", "10485760"],
      ["config:notify-keyspace-events", "AKE"],
    ]);
    // A failed SET changes nothing.
    expect(plain(await c.call("CONFIG", "SET", "maxmemory", "1mb", "hz", "x"))).toEqual({
      error: "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer",
    });
    expect(plain(await c.call("CONFIG", "GET", "maxmemory"))).toEqual(["maxmemory", "10485760"]);
    await c.call("HELLO", "3");
    expect((await c.call("CONFIG", "GET", "maxmemory")).type).toBe("map");
    expect(plain(await c.call("CONFIG", "REWRITE"))).toEqual({ error: "ERR The server is running without a config file" });
  });
});

describe("COMMAND", () => {
  it("COUNT, the full listing, LIST and INFO agree with the command table", async () => {
    const { name, c } = await open("command");
    const count = plain(await c.call("COMMAND", "COUNT")) as number;
    expect(count).toBe(await withServer(name, (server) => server.commands.size));
    const all = plain(await c.call("COMMAND")) as unknown[][];
    expect(all).toHaveLength(count);
    expect(plain(await c.call("COMMAND", "INFO"))).toHaveLength(count);
    const names = all.map((entry) => entry[0]);
    expect(names).toContain("get");
    expect(names).toContain("config");
    expect(names).toContain("function");
    const list = plain(await c.call("COMMAND", "LIST")) as string[];
    expect(list).toContain("config|get");
    expect(list).toContain("client|kill");
    expect(list.filter((n) => !n.includes("|")).sort()).toEqual((names as string[]).sort());
    expect((plain(await c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|*")) as string[]).sort()).toEqual(
      ["config|get", "config|help", "config|resetstat", "config|rewrite", "config|set"],
    );
    expect(plain(await c.call("COMMAND", "INFO", "get", "nosuch", "config|get", "get|x"))).toEqual([
      ["get", 2, ["readonly", "fast"], 1, 1, 1, ["@read", "@string", "@fast"], [], [expect.anything()], []],
      null,
      ["config|get", -3, ["admin", "noscript", "loading", "stale"], 0, 0, 0, ["@admin", "@slow", "@dangerous"], [], [], []],
      null,
    ]);
    expect(plain(await c.call("COMMAND", "DOCS", "nosuch"))).toEqual([]);
    expect(plain(await c.call("COMMAND", "GETKEYS", "SET", "k", "v"))).toEqual(["k"]);
    expect(plain(await c.call("COMMAND", "GETKEYS", "NOSUCH", "k"))).toEqual({ error: "ERR Invalid command specified" });
    expect(plain(await c.call("COMMAND", "GETKEYS", "PING", "k"))).toEqual({ error: "ERR The command has no key arguments" });
    expect(plain(await c.call("COMMAND", "GETKEYS", "GET", "a", "b"))).toEqual({ error: "ERR Invalid number of arguments specified for command" });
  });
});

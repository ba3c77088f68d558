import type { Client } from "./client.ts";
import type { Server } from "./server.ts";
import { randomHex } from "./server.ts";

/**
 * The text of INFO: Redis 7.0's sections, field names and field order
 * (genRedisInfoString in src/server.c). Values are real where tidekv has
 * them (clients, commands, keyspace, hits/misses, expiry, errors, config);
 * where a field describes something tidekv does not have (a process, a
 * fork, an allocator, jemalloc fragmentation) it carries a plausible constant
 * so that tools that parse INFO keep working.
 */

/** What this build of tidekv reports as its own version (INFO server, tidekv_version). */
export const TIDEKV_VERSION = "0.1.0";

/**
 * The Redis version tidekv reports (INFO redis_version, HELLO version): the
 * version whose behaviour it reproduces. Clients gate features on it, so it
 * must be a real Redis version, not tidekv's own.
 */
export const REDIS_VERSION = "7.0.15";

/** The node's replication ID (INFO master_replid), owned by the replication module. */
export function masterReplId(server: Server): string {
  return server.replication!.ids.replid;
}

/** Redis's default INFO sections (genInfoSectionDict). */
const DEFAULT_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "module_list", "errorstats", "cluster", "keyspace"];

type Lines = (string | null)[];

/**
 * Builds the INFO reply text for the given arguments (section names,
 * `default`, `all`, `everything`; case-insensitive), exactly as Redis lays it
 * out: `# Section` headers, `field:value\r\n` lines, an empty line between
 * sections, the sections always in Redis's order.
 */
export function buildInfo(server: Server, args: readonly string[]): string {
  let all = false;
  const wanted = new Set<string>();
  if (args.length === 0) {
    for (const s of DEFAULT_SECTIONS) wanted.add(s);
  } else {
    for (const arg of args) {
      const name = arg.toLowerCase();
      if (name === "default") for (const s of DEFAULT_SECTIONS) wanted.add(s);
      else if (name === "all" || name === "everything") all = true;
      else wanted.add(name);
    }
  }
  const want = (...names: string[]) => all || names.some((n) => wanted.has(n));

  const now = server.host.now();
  const sections: string[] = [];
  const section = (title: string, lines: Lines) => {
    let text = `# ${title}\r\n`;
    for (const line of lines) if (line !== null) text += `${line}\r\n`;
    sections.push(text);
  };

  if (want("server")) section("Server", serverSection(server, now));
  if (want("clients")) section("Clients", clientsSection(server));
  if (want("memory")) section("Memory", memorySection(server));
  if (want("persistence")) section("Persistence", persistenceSection(server, now));
  if (want("stats")) section("Stats", statsSection(server));
  if (want("replication")) section("Replication", replicationSection(server));
  if (want("cpu")) section("CPU", cpuSection(server));
  if (want("module_list", "modules")) section("Modules", []);
  if (want("commandstats")) section("Commandstats", commandStatsSection(server));
  if (want("errorstats")) section("Errorstats", errorStatsSection(server));
  // Redis fills this from per-command latency histograms; tidekv keeps none,
  // so the section is empty, as in Redis with latency-tracking off.
  if (want("latencystats")) section("Latencystats", []);
  if (want("cluster")) section("Cluster", [`cluster_enabled:${server.config.bool("cluster-enabled") ? 1 : 0}`]);
  if (want("keyspace")) section("Keyspace", keyspaceSection(server, now));
  return sections.join("\r\n");
}

function serverSection(server: Server, now: number): Lines {
  const uptime = Math.max(0, Math.floor((now - server.startedAt) / 1000));
  const hz = server.config.get("hz");
  return [
    `redis_version:${REDIS_VERSION}`,
    `redis_git_sha1:00000000`,
    `redis_git_dirty:0`,
    `redis_build_id:0000000000000000`,
    `redis_mode:${server.config.bool("cluster-enabled") ? "cluster" : "standalone"}`,
    `os:${server.host.runtime}`,
    `arch_bits:64`,
    `monotonic_clock:performance.now`,
    `multiplexing_api:websocket`,
    `atomicvar_api:none`,
    `gcc_version:0.0.0`,
    `process_id:0`,
    `process_supervised:no`,
    `run_id:${server.runId}`,
    `tcp_port:${server.config.get("port")}`,
    `server_time_usec:${Math.floor(now) * 1000}`,
    `uptime_in_seconds:${uptime}`,
    `uptime_in_days:${Math.floor(uptime / 86400)}`,
    `hz:${hz}`,
    `configured_hz:${hz}`,
    `lru_clock:${Math.floor(now / 1000) & 0xffffff}`,
    `executable:`,
    `config_file:`,
    `io_threads_active:0`,
    // tidekv's own fields, after Redis's.
    `tidekv_version:${TIDEKV_VERSION}`,
    `runtime:${server.host.runtime}`,
  ];
}

function clientsSection(server: Server): Lines {
  return [
    `connected_clients:${server.clients.size}`,
    `cluster_connections:0`,
    `maxclients:${server.config.get("maxclients")}`,
    `client_recent_max_input_buffer:0`,
    `client_recent_max_output_buffer:0`,
    `blocked_clients:${server.blockedClientCount}`,
    `tracking_clients:0`,
    `clients_in_timeout_table:0`,
  ];
}

/** A Durable Object has 128 MB of memory: what INFO reports as the machine's. */
const SYSTEM_MEMORY = 128 * 1024 * 1024;
/** Rough, constant estimates: the engine does not see the isolate's heap. */
const STARTUP_MEMORY = 864 * 1024;
const PER_CLIENT_MEMORY = 20 * 1024;
const peaks = new WeakMap<Server, number>();

function memorySection(server: Server): Lines {
  const clientsMemory = server.clients.size * PER_CLIENT_MEMORY;
  const used = STARTUP_MEMORY + clientsMemory + server.watchedKeys * 64;
  const peak = Math.max(peaks.get(server) ?? 0, used);
  peaks.set(server, peak);
  const overhead = STARTUP_MEMORY + clientsMemory;
  const dataset = used - overhead;
  const datasetPerc = used > STARTUP_MEMORY ? (dataset * 100) / (used - STARTUP_MEMORY) : 0;
  const maxmemory = Number(server.config.get("maxmemory"));
  return [
    `used_memory:${used}`,
    `used_memory_human:${bytesToHuman(used)}`,
    `used_memory_rss:${used}`,
    `used_memory_rss_human:${bytesToHuman(used)}`,
    `used_memory_peak:${peak}`,
    `used_memory_peak_human:${bytesToHuman(peak)}`,
    `used_memory_peak_perc:${((used * 100) / peak).toFixed(2)}%`,
    `used_memory_overhead:${overhead}`,
    `used_memory_startup:${STARTUP_MEMORY}`,
    `used_memory_dataset:${dataset}`,
    `used_memory_dataset_perc:${datasetPerc.toFixed(2)}%`,
    `allocator_allocated:${used}`,
    `allocator_active:${used}`,
    `allocator_resident:${used}`,
    `total_system_memory:${SYSTEM_MEMORY}`,
    `total_system_memory_human:${bytesToHuman(SYSTEM_MEMORY)}`,
    `used_memory_lua:0`,
    `used_memory_vm_eval:0`,
    `used_memory_lua_human:0B`,
    `used_memory_scripts_eval:0`,
    `number_of_cached_scripts:0`,
    `number_of_functions:0`,
    `number_of_libraries:0`,
    `used_memory_vm_functions:0`,
    `used_memory_vm_total:0`,
    `used_memory_vm_total_human:0B`,
    `used_memory_functions:0`,
    `used_memory_scripts:0`,
    `used_memory_scripts_human:0B`,
    `maxmemory:${maxmemory}`,
    `maxmemory_human:${bytesToHuman(maxmemory)}`,
    `maxmemory_policy:${server.config.get("maxmemory-policy")}`,
    `allocator_frag_ratio:1.00`,
    `allocator_frag_bytes:0`,
    `allocator_rss_ratio:1.00`,
    `allocator_rss_bytes:0`,
    `rss_overhead_ratio:1.00`,
    `rss_overhead_bytes:0`,
    `mem_fragmentation_ratio:1.00`,
    `mem_fragmentation_bytes:0`,
    `mem_not_counted_for_evict:0`,
    `mem_replication_backlog:${server.replication?.backlog.historyLength ?? 0}`,
    `mem_total_replication_buffers:0`,
    `mem_clients_slaves:0`,
    `mem_clients_normal:${clientsMemory}`,
    `mem_cluster_links:0`,
    `mem_aof_buffer:0`,
    `mem_allocator:${server.host.runtime}`,
    `active_defrag_running:0`,
    `lazyfree_pending_objects:0`,
    `lazyfreed_objects:0`,
  ];
}

function persistenceSection(server: Server, now: number): Lines {
  // tidekv commits every write to SQLite before acknowledging it: there is no
  // snapshot or AOF to write, and SAVE/BGSAVE only move these markers.
  const stats = server.stats;
  const lastSave = stats.lastSaveTime ?? Math.floor(server.startedAt / 1000);
  const aof = server.config.bool("appendonly");
  void now;
  return [
    `loading:0`,
    `async_loading:0`,
    `current_cow_peak:0`,
    `current_cow_size:0`,
    `current_cow_size_age:0`,
    `current_fork_perc:0.00`,
    `current_save_keys_processed:0`,
    `current_save_keys_total:0`,
    `rdb_changes_since_last_save:${Math.max(0, stats.dirty - stats.dirtyAtLastSave)}`,
    `rdb_bgsave_in_progress:0`,
    `rdb_last_save_time:${lastSave}`,
    `rdb_last_bgsave_status:ok`,
    `rdb_last_bgsave_time_sec:${stats.rdbSaves > 0 ? 0 : -1}`,
    `rdb_current_bgsave_time_sec:-1`,
    `rdb_saves:${stats.rdbSaves}`,
    `rdb_last_cow_size:0`,
    `rdb_last_load_keys_expired:0`,
    `rdb_last_load_keys_loaded:0`,
    `aof_enabled:${aof ? 1 : 0}`,
    `aof_rewrite_in_progress:0`,
    `aof_rewrite_scheduled:0`,
    `aof_last_rewrite_time_sec:-1`,
    `aof_current_rewrite_time_sec:-1`,
    `aof_last_bgrewrite_status:ok`,
    `aof_rewrites:0`,
    `aof_rewrites_consecutive_failures:0`,
    `aof_last_write_status:ok`,
    `aof_last_cow_size:0`,
    `module_fork_in_progress:0`,
    `module_fork_last_cow_size:0`,
    ...(aof
      ? [
          `aof_current_size:0`,
          `aof_base_size:0`,
          `aof_pending_rewrite:0`,
          `aof_buffer_length:0`,
          `aof_pending_bio_fsync:0`,
          `aof_delayed_fsync:0`,
        ]
      : []),
  ];
}

function statsSection(server: Server): Lines {
  const stats = server.stats;
  return [
    `total_connections_received:${stats.totalConnections}`,
    `total_commands_processed:${stats.totalCommands}`,
    `instantaneous_ops_per_sec:0`,
    `total_net_input_bytes:${stats.netInputBytes}`,
    `total_net_output_bytes:${stats.netOutputBytes}`,
    `total_net_repl_input_bytes:0`,
    `total_net_repl_output_bytes:0`,
    `instantaneous_input_kbps:0.00`,
    `instantaneous_output_kbps:0.00`,
    `instantaneous_input_repl_kbps:0.00`,
    `instantaneous_output_repl_kbps:0.00`,
    `rejected_connections:0`,
    `sync_full:${server.replication?.master.syncFull ?? 0}`,
    `sync_partial_ok:${server.replication?.master.syncPartialOk ?? 0}`,
    `sync_partial_err:${server.replication?.master.syncPartialErr ?? 0}`,
    `expired_keys:${stats.expiredKeys}`,
    `expired_stale_perc:0.00`,
    `expired_time_cap_reached_count:0`,
    `expire_cycle_cpu_milliseconds:0`,
    `evicted_keys:0`,
    `evicted_clients:0`,
    `total_eviction_exceeded_time:0`,
    `current_eviction_exceeded_time:0`,
    `keyspace_hits:${server.keyspace.hits}`,
    `keyspace_misses:${server.keyspace.misses}`,
    `pubsub_channels:0`,
    `pubsub_patterns:0`,
    `pubsubshard_channels:0`,
    `latest_fork_usec:0`,
    `total_forks:0`,
    `migrate_cached_sockets:0`,
    `slave_expires_tracked_keys:0`,
    `active_defrag_hits:0`,
    `active_defrag_misses:0`,
    `active_defrag_key_hits:0`,
    `active_defrag_key_misses:0`,
    `total_active_defrag_time:0`,
    `current_active_defrag_time:0`,
    `tracking_total_keys:0`,
    `tracking_total_items:0`,
    `tracking_total_prefixes:0`,
    `unexpected_error_replies:0`,
    `total_error_replies:${stats.totalErrorReplies}`,
    `dump_payload_sanitizations:0`,
    `total_reads_processed:${stats.totalCommands}`,
    `total_writes_processed:${stats.totalCommands}`,
    `io_threaded_reads_processed:0`,
    `io_threaded_writes_processed:0`,
    `reply_buffer_shrinks:0`,
    `reply_buffer_expands:0`,
  ];
}

/** INFO replication: the replication module knows every field. */
function replicationSection(server: Server): Lines {
  return server.replication!.infoLines(server.host.now());
}

/** CPU time is not observable from inside an isolate; the time spent in commands stands in for it. */
function cpuSection(server: Server): Lines {
  let usec = 0;
  for (const stat of server.stats.commands.values()) usec += stat.usec;
  const user = (usec / 1e6).toFixed(6);
  return [
    `used_cpu_sys:0.000000`,
    `used_cpu_user:${user}`,
    `used_cpu_sys_children:0.000000`,
    `used_cpu_user_children:0.000000`,
    `used_cpu_sys_main_thread:0.000000`,
    `used_cpu_user_main_thread:${user}`,
  ];
}

function commandStatsSection(server: Server): Lines {
  const lines: Lines = [];
  for (const [name, stat] of server.stats.commands) {
    if (!stat.calls && !stat.failedCalls && !stat.rejectedCalls) continue;
    // Redis divides in C float precision and prints with %.2f.
    const perCall = stat.calls === 0 ? 0 : Math.fround(Math.fround(stat.usec) / Math.fround(stat.calls));
    lines.push(
      `cmdstat_${safeInfoString(name)}:calls=${stat.calls},usec=${stat.usec},usec_per_call=${perCall.toFixed(2)}` +
        `,rejected_calls=${stat.rejectedCalls},failed_calls=${stat.failedCalls}`,
    );
  }
  return lines;
}

function errorStatsSection(server: Server): Lines {
  // Redis keeps error prefixes in a radix tree: byte order.
  const names = [...server.stats.errors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => `errorstat_${safeInfoString(name)}:count=${server.stats.errors.get(name)}`);
}

/** How many keys with a TTL INFO samples per db for avg_ttl (Redis estimates it by sampling too). */
const AVG_TTL_SAMPLE = 1000;

function keyspaceSection(server: Server, now: number): Lines {
  const lines: Lines = [];
  for (const [db, size] of server.keyspace.dbSizes()) {
    let avgTtl = 0;
    if (size.expires > 0) {
      const row = server.sql.one<{ avg: number | null }>(
        `SELECT AVG(expires_at) AS avg FROM (SELECT expires_at FROM keyspace WHERE db = ? AND expires_at > ? LIMIT ?)`,
        db, now, AVG_TTL_SAMPLE,
      );
      if (row && row.avg !== null) avgTtl = Math.max(0, Math.floor(Number(row.avg) - now));
    }
    lines.push(`db${db}:keys=${size.keys},expires=${size.expires},avg_ttl=${avgTtl}`);
  }
  return lines;
}

/** Redis's getSafeInfoString: '#', ':', '\n', '\r' become '_'. */
function safeInfoString(s: string): string {
  return s.replace(/[#:\n\r]/g, "_");
}

/** Redis's bytesToHuman: 100B, 1016.78K, 11.74M, ... */
export function bytesToHuman(n: number): string {
  if (n < 1024) return `${n}B`;
  let size = 1024;
  for (const unit of ["K", "M", "G", "T", "P"]) {
    if (n < size * 1024) return `${(n / size).toFixed(2)}${unit}`;
    size *= 1024;
  }
  return `${n}B`;
}

/** The client list line of one client (CLIENT LIST / CLIENT INFO), Redis 7.0's format. */
export function clientInfoLine(server: Server, client: Client, current: { client: Client; command: string; argv: readonly Uint8Array[] }): string {
  const now = server.host.now();
  const self = client === current.client;
  // Redis's flag letters, in its order: S replica, M master, x multi, ...
  let flags = client.role === "replica" ? "S" : client.role === "master" ? "M" : "";
  if (client.multi) flags += "x";
  if (client.dirtyCas) flags += "d";
  if (client.closeAfterReply) flags += "c";
  if (client.readonlyMode) flags += "r";
  if (client.noEvict) flags += "e";
  if (flags === "") flags = "N";
  // The query buffer holds the command being executed (Redis shows it for the caller).
  let qbuf = 0;
  let argvMem = 0;
  if (self) {
    qbuf = `*${current.argv.length}\r\n`.length;
    for (const arg of current.argv) {
      qbuf += `$${arg.length}\r\n`.length + arg.length + 2;
      argvMem += arg.length;
    }
  }
  let multiMem = 0;
  if (client.multi) for (const queued of client.multi.queue) for (const arg of queued) multiMem += arg.length + 8;
  const qbufFree = self ? 20474 - qbuf : 0;
  const totMem = 22272 + argvMem + multiMem + qbuf;
  return (
    `id=${client.id} addr=${client.addr} laddr=${client.laddr} fd=${client.id + 7} name=${client.name ?? ""}` +
    ` age=${Math.max(0, Math.floor((now - client.createdAt) / 1000))} idle=${self ? 0 : Math.max(0, Math.floor((now - client.lastInteraction) / 1000))}` +
    ` flags=${flags} db=${client.db} sub=0 psub=0 ssub=0 multi=${client.multi ? client.multi.queue.length : -1}` +
    ` qbuf=${qbuf} qbuf-free=${qbufFree} argv-mem=${argvMem} multi-mem=${multiMem} rbs=1024 rbp=0 obl=0 oll=0 omem=0` +
    ` tot-mem=${totMem} events=r cmd=${self ? current.command : client.lastCommand} user=${client.user} redir=-1 resp=${client.protocol}`
  );
}

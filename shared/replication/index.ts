import type { Client } from "../engine/client.ts";
import type { Effect, EffectSink, Server } from "../engine/server.ts";
import { randomHex } from "../engine/server.ts";
import { array, bulk, integer, type Reply } from "../resp/reply.ts";
import { Backlog } from "./backlog.ts";
import { MasterSide } from "./master.ts";
import { MasterLink } from "./replica.ts";
import { clearSnapshots } from "./snapshot.ts";
import { ReplicationState } from "./state.ts";
import { encodeEffects } from "./stream.ts";

export { NULL_REPLID } from "./state.ts";

/**
 * A node's replication: its identity (replid, offsets), the backlog, the
 * replicas attached to it and, when it is a replica, its link to its master.
 * It receives every top-level call's effects (EffectSink) inside the call's
 * transaction, so a write and its backlog record commit together.
 */
export class Replication implements EffectSink {
  readonly ids: ReplicationState;
  readonly backlog: Backlog;
  readonly master: MasterSide;
  link: MasterLink | null = null;
  /** Asks the host to run cron() soon (a link to open, a replica to ping). */
  wake: () => void = () => {};

  constructor(private readonly server: Server) {
    const sql = server.sql;
    this.ids = new ReplicationState(sql, () => randomHex(40));
    this.backlog = new Backlog(sql);
    clearSnapshots(sql);
    this.master = new MasterSide(server, this.ids, this.backlog);
    this.master.onReplicaAttached = () => this.wake();
    server.effectSink = this;
    const target = this.ids.get("master");
    if (target) this.follow(target, Number(this.ids.get("master_port") ?? 0));
  }

  get isReplica(): boolean {
    return this.link !== null;
  }

  // ---- EffectSink ---------------------------------------------------------------

  feed(effects: readonly Effect[]): void {
    // A replica's own writes (replica-read-only no) stay local, as in Redis.
    if (this.link || !this.backlog.isActive) return;
    const { bytes, db } = encodeEffects(effects, this.ids.streamDb);
    this.ids.streamDb = db;
    this.master.append(bytes);
  }

  /** The master offset right after the current call's effects (for WAIT). */
  get offset(): number {
    return this.backlog.masterOffset;
  }

  // ---- role changes ---------------------------------------------------------------

  /** REPLICAOF host port: follow a node (by name or ws:// URL). */
  follow(target: string, port: number): void {
    this.link?.stop();
    this.server.isReplica = true;
    this.ids.put("master", target);
    this.ids.put("master_port", String(port));
    this.link = new MasterLink(this.server, this.ids, this.backlog, target, port, {
      relay: (bytes) => this.master.append(bytes),
      historyReplaced: () => this.master.disconnectAll("master history changed"),
      nodeName: this.server.host.nodeName,
    });
    // Our replicas must follow the new history from its start.
    this.master.disconnectAll("node became a replica");
    this.wake();
  }

  /**
   * REPLICAOF NO ONE: become a master. The replication id shifts (replid2 =
   * old id, valid up to the current offset) so replicas that follow this node
   * next can continue with a partial resync, as in Redis/Valkey.
   */
  promote(): void {
    if (!this.link) return;
    this.link.stop();
    this.link = null;
    this.server.isReplica = false;
    this.ids.put("master", null);
    this.ids.put("master_port", null);
    this.ids.replid2 = this.ids.replid;
    this.ids.secondOffset = this.backlog.masterOffset + 1;
    this.ids.replid = randomHex(40);
    this.ids.streamDb = -1;
    this.backlog.activate();
    this.master.disconnectAll("master promoted");
  }

  /** Names of the replicas attached right now. */
  replicaNames(): string[] {
    return this.master.replicas.map((r) => r.name);
  }

  /** Once a second: the link's and the replicas' timers. Returns whether to run again. */
  cron(now: number): boolean {
    this.link?.cron(now);
    const busy = this.master.cron(now);
    return this.link !== null || busy;
  }

  clientClosed(client: Client): void {
    this.master.clientClosed(client);
  }

  // ---- introspection -----------------------------------------------------------------

  /** ROLE, exactly as Redis replies it. */
  role(): Reply {
    if (this.link) {
      const link = this.link;
      const state = link.state === "sync" ? "sync" : link.state === "connected" ? "connected" : link.state === "connecting" || link.state === "handshake" ? "connecting" : "connect";
      return array([bulk("slave"), bulk(link.target), integer(link.port), bulk(state), integer(link.isUp ? this.backlog.masterOffset : -1)]);
    }
    return array([
      bulk("master"),
      integer(this.backlog.masterOffset),
      array(
        this.master.replicas
          .filter((r) => r.state === "online")
          .map((r) => array([bulk(r.name), bulk(String(r.listeningPort)), bulk(String(r.ackOffset))])),
      ),
    ]);
  }

  /** The lines of INFO replication, in Redis 7.0's order. */
  infoLines(now: number): string[] {
    const lines: string[] = [];
    const link = this.link;
    if (link) {
      lines.push(
        "role:slave",
        `master_host:${link.target}`,
        `master_port:${link.port}`,
        `master_link_status:${link.isUp ? "up" : "down"}`,
        `master_last_io_seconds_ago:${link.lastIoAt ? Math.floor((now - link.lastIoAt) / 1000) : -1}`,
        `master_sync_in_progress:${link.isLoading ? 1 : 0}`,
        `slave_read_repl_offset:${this.backlog.masterOffset}`,
        `slave_repl_offset:${this.backlog.masterOffset}`,
      );
      if (link.isLoading) {
        lines.push(
          "master_sync_total_bytes:-1",
          `master_sync_read_bytes:${link.syncBytes}`,
          "master_sync_left_bytes:-1",
          "master_sync_perc:-0.00",
          `master_sync_last_io_seconds_ago:${Math.floor((now - link.lastIoAt) / 1000)}`,
        );
      }
      if (!link.isUp) lines.push(`master_link_down_since_seconds:${Math.floor((now - link.downSince) / 1000)}`);
      lines.push(
        `slave_priority:${this.server.config.int("replica-priority")}`,
        `slave_read_only:${this.server.config.bool("replica-read-only") ? 1 : 0}`,
        "replica_announced:1",
      );
    } else {
      lines.push("role:master");
    }
    const online = this.master.replicas;
    lines.push(`connected_slaves:${online.length}`);
    online.forEach((r, i) => {
      const state = r.state === "online" ? "online" : r.state;
      const lag = Math.floor((now - r.lastAckAt) / 1000);
      lines.push(`slave${i}:ip=${r.name},port=${r.listeningPort},state=${state},offset=${r.ackOffset},lag=${lag}`);
    });
    lines.push(
      "master_failover_state:no-failover",
      `master_replid:${this.ids.replid}`,
      `master_replid2:${this.ids.replid2}`,
      `master_repl_offset:${this.backlog.masterOffset}`,
      `second_repl_offset:${this.ids.secondOffset}`,
      `repl_backlog_active:${this.backlog.isActive ? 1 : 0}`,
      `repl_backlog_size:${this.server.config.int("repl-backlog-size")}`,
      `repl_backlog_first_byte_offset:${this.backlog.firstByteOffset}`,
      `repl_backlog_histlen:${this.backlog.historyLength}`,
    );
    return lines;
  }
}

import { commandTable } from "../commands/index.ts";
import { migrate } from "../store/schema.ts";
import type { Sql } from "../store/sql.ts";
import type { Client } from "./client.ts";
import { Connection, type Transport } from "./connection.ts";
import type { NodeHost } from "./host.ts";
import { Server } from "./server.ts";
import { Replication } from "../replication/index.ts";
import { replicationGuard } from "../replication/guards.ts";
import { ClusterState } from "../cluster/node-state.ts";
import { clusterGuard } from "../cluster/guard.ts";
import { authGuard, startsAuthenticated } from "./auth.ts";

/** The per-connection state that must outlive an engine instance (Durable Object hibernation). */
export interface SavedClient {
  id: number;
  addr: string;
  laddr: string;
  db: number;
  protocol: 2 | 3;
  name: string | null;
  libName: string | null;
  libVersion: string | null;
  user: string;
  authenticated: boolean;
  createdAt: number;
  /** Cluster READONLY (absent in attachments saved by older builds). */
  readonlyMode?: boolean;
}

/** Most expired keys one wake-up removes before yielding to clients again. */
const EXPIRE_BUDGET = 500;

/**
 * A tidekv node, independent of its host: SQL, the engine and its
 * connections. The Durable Object shell and the Deno host forward their
 * events here (open, message, close, alarm) and provide a NodeHost.
 */
export class Node {
  readonly server: Server;
  readonly replication: Replication;
  /** The node's cluster topology and redirections (standalone while it holds none). */
  readonly cluster: ClusterState;
  private readonly connections = new Set<Connection>();
  private scheduledWakeup: number | null = null;

  constructor(
    readonly sql: Sql,
    readonly host: NodeHost,
  ) {
    migrate(sql);
    this.server = new Server(sql, host, commandTable);
    this.server.keyspace.onExpirySet = (at) => this.wantWakeup(at);
    this.server.onBlockTimeout = (at) => this.wantWakeup(at);
    this.replication = new Replication(this.server);
    this.server.replication = this.replication;
    this.replication.wake = () => queueMicrotask(() => this.replicationTick());
    // NOAUTH/NOPERM come first, as in Redis's processCommand.
    this.server.guards.unshift(authGuard(this.server));
    this.cluster = new ClusterState(this.server, this.replication);
    // Cluster redirection comes first, as in Redis's processCommand (a write on a
    // replica gets MOVED to its master, not READONLY).
    this.server.guards.push(clusterGuard(this.cluster));
    this.server.guards.push(replicationGuard(this.server));
    // Replication runs a once-a-second cron (pings, acks, reconnects) while it has anything to do.
    this.replicationTick();
    this.wantWakeup(this.server.keyspace.nextExpiry());
  }

  /** A new client connection. */
  open(transport: Transport, addr = "127.0.0.1:0", laddr = "127.0.0.1:0"): Connection {
    const client = this.server.createClient(addr, laddr);
    client.authenticated = startsAuthenticated(this.server);
    return this.track(new Connection(this.server, client, transport));
  }

  /** A connection that outlived the previous engine instance, with its saved state. */
  resume(transport: Transport, saved: SavedClient): Connection {
    const client = this.server.adoptClient(saved.id, saved.addr, saved.laddr);
    Object.assign(client, {
      db: saved.db,
      protocol: saved.protocol,
      name: saved.name,
      libName: saved.libName,
      libVersion: saved.libVersion,
      user: saved.user,
      authenticated: saved.authenticated,
      readonlyMode: saved.readonlyMode ?? false,
    });
    (client as { createdAt: number }).createdAt = saved.createdAt;
    return this.track(new Connection(this.server, client, transport));
  }

  static save(client: Client): SavedClient {
    return {
      id: client.id,
      addr: client.addr,
      laddr: client.laddr,
      db: client.db,
      protocol: client.protocol,
      name: client.name,
      libName: client.libName,
      libVersion: client.libVersion,
      user: client.user,
      authenticated: client.authenticated,
      createdAt: client.createdAt,
      readonlyMode: client.readonlyMode,
    };
  }

  /** Whether `client` still matches what was saved (cheap: compared field by field). */
  static sameSavedState(saved: SavedClient, client: Client): boolean {
    return (
      saved.db === client.db &&
      saved.protocol === client.protocol &&
      saved.name === client.name &&
      saved.libName === client.libName &&
      saved.libVersion === client.libVersion &&
      saved.user === client.user &&
      saved.authenticated === client.authenticated &&
      (saved.readonlyMode ?? false) === client.readonlyMode
    );
  }

  message(connection: Connection, data: Uint8Array | string): void {
    connection.receive(typeof data === "string" ? new TextEncoder().encode(data) : data);
    if (connection.isClosed) this.connections.delete(connection);
  }

  closed(connection: Connection): void {
    connection.dispose();
    this.connections.delete(connection);
  }

  /**
   * True while some connection holds state that lives only in memory (an open
   * MULTI, WATCHed keys, half a request): the host must not let the node be
   * evicted or hibernated then.
   */
  get hasTransientState(): boolean {
    for (const connection of this.connections) {
      const client = connection.client;
      if (client.multi || client.blocked || client.watched.size > 0 || connection.pendingInput > 0) return true;
    }
    return false;
  }

  /** The host's timer fired: run the due background work and ask for the next wake-up. */
  alarm(): void {
    this.scheduledWakeup = null;
    this.wantWakeup(this.server.expireCycle(EXPIRE_BUDGET));
    this.wantWakeup(this.server.expireBlockedClients());
    this.server.serveReadyKeys();
    this.replicationTick();
  }

  private replicationTick(): void {
    const now = this.host.now();
    if (this.replication.cron(now)) this.wantWakeup(now + 1000);
  }

  private wantWakeup(at: number | null): void {
    if (at === null) return;
    if (this.scheduledWakeup !== null && this.scheduledWakeup <= at) return;
    this.scheduledWakeup = at;
    this.host.setWakeup(at);
  }

  private track(connection: Connection): Connection {
    this.connections.add(connection);
    return connection;
  }
}

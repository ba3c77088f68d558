import { RequestParser, ProtocolError, ReplyWriter } from "../resp/index.ts";
import { error, type Reply } from "../resp/reply.ts";
import { Blocked, NO_REPLY } from "./blocking.ts";
import type { Client } from "./client.ts";
import type { Server } from "./server.ts";

/** Where a connection's reply bytes go: a WebSocket, a TCP socket, a test. */
export interface Transport {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** Redis refuses a multibulk longer than this; so do we (DESIGN.md invariant 7). */
export const MAX_MULTIBULK_LENGTH = 1024 * 1024;

/** WebSocket close codes tidekv uses. */
export const CloseCode = { normal: 1000, protocolError: 1002, tooBig: 1009 } as const;

/** Each client's connection, so a command can close another client's connection (CLIENT KILL). */
const connections = new WeakMap<Client, Connection>();

/** Closes `client`'s connection now (CLIENT KILL); a client without one is just forgotten. */
export function closeClientConnection(server: Server, client: Client): void {
  const connection = connections.get(client);
  if (connection) connection.close(CloseCode.normal, "client killed");
  else server.removeClient(client);
}

/**
 * One client connection: bytes in, commands out to the server in order,
 * replies back in one frame per incoming frame (pipelining for free).
 */
export class Connection {
  private readonly parser: RequestParser;
  private readonly writer = new ReplyWriter();
  private closed = false;

  constructor(
    private readonly server: Server,
    readonly client: Client,
    private readonly transport: Transport,
  ) {
    connections.set(client, this);
    // Raw bytes (the replication stream) go through the same writer as
    // replies, so they can never overtake a reply sent before them.
    client.output = {
      send: (bytes) => {
        this.writer.writeRaw(bytes);
        this.flush();
      },
      close: (reason) => this.close(CloseCode.normal, reason),
    };
    const config = server.config;
    this.parser = new RequestParser({
      get maxBulkLength() {
        return config.int("proto-max-bulk-len");
      },
      maxMultibulkLength: MAX_MULTIBULK_LENGTH,
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes of a request still waiting for the rest of it. */
  get pendingInput(): number {
    return this.parser.buffered;
  }

  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    this.server.stats.netInputBytes += bytes.length;
    this.parser.feed(bytes);
    this.serve();
  }

  /**
   * Runs the complete commands waiting in the parser, in order, until the input
   * runs dry or a command blocks (the rest then waits for it, as in Redis).
   */
  private serve(): void {
    // One transaction around the whole batch: each command still commits or
    // rolls back on its own (a savepoint), but the batch reaches storage as one
    // commit instead of one per command.
    const closeReason = this.server.sql.transaction(() => this.serveBatch());
    // A client that keeps sending an unfinished request is cut off, as Redis
    // does when the query buffer passes client-query-buffer-limit.
    const reason = closeReason ?? (this.parser.buffered > this.server.config.int("client-query-buffer-limit") ? "query buffer limit" : null);
    this.flush();
    if (reason !== null) this.close(reason === "client quit" ? CloseCode.normal : CloseCode.protocolError, reason);
  }

  private serveBatch(): string | null {
    const { server, client } = this;
    let closeReason: string | null = null;
    while (!client.blocked) {
      const argv = this.parser.next();
      if (argv === null) break;
      if (argv instanceof ProtocolError) {
        server.stats.recordError(argv.message);
        this.writer.write(error(argv.message), client.protocol);
        closeReason = "protocol error";
        break;
      }
      const reply = server.execute(client, argv);
      if (reply instanceof Blocked) {
        server.block(client, argv, reply, (final) => this.resume(final));
      } else if (reply !== NO_REPLY) {
        this.writer.write(reply, client.protocol);
      }
      server.serveReadyKeys();
      if (client.closeAfterReply) {
        closeReason = "client quit";
        break;
      }
    }
    return closeReason;
  }

  /** A blocked command finished: send its reply, then serve what the client sent meanwhile. */
  private resume(reply: Reply): void {
    if (this.closed) return;
    if (reply !== NO_REPLY) this.writer.write(reply, this.client.protocol);
    this.flush();
    // Later commands run after the code that woke us has finished its own work.
    queueMicrotask(() => {
      if (!this.closed) this.serve();
    });
  }

  /** Sends whatever replies are pending (also used by asynchronous replies). */
  flush(): void {
    if (this.writer.length === 0 || this.closed) return;
    const out = this.writer.take();
    this.server.stats.netOutputBytes += out.length;
    this.transport.send(out);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close(code, reason);
    this.server.removeClient(this.client);
  }

  /** The transport went away: forget the client. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.removeClient(this.client);
  }
}

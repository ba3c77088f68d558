/**
 * `/resp`: RESP over a WebSocket to the whole cluster (docs/proxy.md). The
 * worker accepts the client's socket itself, parses its requests and runs
 * them through a cluster Session, which sends each to the node owning its
 * keys. Replies go back in order; the replies of one incoming frame leave in
 * one outgoing frame when they are ready together.
 */
import { ProtocolError, ReplyWriter, RequestParser } from "../../shared/resp/index.ts";
import { error, type Reply } from "../../shared/resp/reply.ts";
import type { ClusterRouter, ClusterSession } from "../router/cluster.ts";
import type { SessionOptions } from "../router/types.ts";

/** Redis's proto-max-bulk-len default. */
const MAX_BULK = 512 * 1024 * 1024;
/** Redis's largest multibulk count. */
const MAX_MULTIBULK = 1024 * 1024;
/**
 * Bytes of an unfinished request the proxy holds before cutting the client
 * off (Redis: client-query-buffer-limit, 1 GB; a worker isolate has 128 MB).
 */
export const QUERY_BUFFER_LIMIT = 64 * 1024 * 1024;
/** Commands a client may have waiting for replies before it is cut off (a worker cannot pause a socket). */
export const MAX_OUTSTANDING = 100_000;

const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL = 1002;
const CLOSE_POLICY = 1008;

/** Answers a WebSocket upgrade on /resp with a proxy over `router`'s cluster. */
export function serveResp(request: Request, router: ClusterRouter, options: SessionOptions = {}): Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    return new Response("tidekv: connect to /resp with a WebSocket to speak RESP\n", { status: 426 });
  }
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  (server as unknown as { binaryType: string }).binaryType = "arraybuffer";
  server.accept();
  // Offsets are tracked only once the client opts in to replica reads (READONLY).
  const session = router.open({ trackSyncToken: false, passThrough: true, ...options });
  new RespProxy(server, session);
  return new Response(null, { status: 101, webSocket: client });
}

class RespProxy {
  private readonly parser = new RequestParser({ maxBulkLength: MAX_BULK, maxMultibulkLength: MAX_MULTIBULK });
  private readonly writer = new ReplyWriter();
  private session: ClusterSession | null = null;
  /** Commands that arrived before the session was ready. */
  private early: Uint8Array[][] = [];
  private outstanding = 0;
  private flushScheduled = false;
  /** Stop reading: QUIT, a protocol error, or a limit; close once the replies before it are out. */
  private ending: { code: number; reason: string; last: Reply | null } | null = null;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    session: Promise<ClusterSession>,
  ) {
    ws.addEventListener("message", (event) => {
      const data = event.data;
      this.receive(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer));
    });
    ws.addEventListener("close", (event) => {
      this.dispose();
      // Complete the closing handshake, so the request serving this socket ends.
      try {
        ws.close(event.code === 1005 || event.code === 1006 ? 1000 : event.code, event.reason);
      } catch {
        // already closed
      }
    });
    ws.addEventListener("error", () => this.dispose());
    session.then(
      (s) => {
        if (this.closed) {
          s.close();
          return;
        }
        this.session = s;
        // Out-of-band RESP3 pushes from nodes go straight to the client.
        s.onPush = (reply) => {
          if (this.closed) return;
          this.writer.write(reply, s.protocol);
          this.scheduleFlush();
        };
        const early = this.early;
        this.early = [];
        for (const argv of early) this.run(argv);
        s.kick();
      },
      (e: unknown) => {
        const reason = `ERR tidekv proxy: the cluster is unavailable (${(e as Error)?.message ?? e})`;
        this.outstanding -= this.early.length;
        this.early = [];
        this.end(CLOSE_POLICY, "cluster unavailable", error(reason));
      },
    );
  }

  private receive(bytes: Uint8Array): void {
    if (this.closed || this.ending) return;
    this.parser.feed(bytes);
    for (;;) {
      const argv = this.parser.next();
      if (argv === null) break;
      if (argv instanceof ProtocolError) {
        this.end(CLOSE_PROTOCOL, "protocol error", error(argv.message));
        break;
      }
      if (this.outstanding >= MAX_OUTSTANDING) {
        this.end(CLOSE_POLICY, "too many commands in flight", error("ERR tidekv proxy: too many pipelined commands waiting for replies"));
        break;
      }
      this.outstanding++;
      if (this.session) this.run(argv);
      else this.early.push(argv);
      if (isQuit(argv)) {
        this.end(CLOSE_NORMAL, "client quit", null);
        break;
      }
    }
    // The frame's commands are all queued (even those before a protocol error): let them leave now.
    this.session?.kick();
    if (!this.ending && this.parser.buffered > QUERY_BUFFER_LIMIT) this.end(CLOSE_POLICY, "query buffer limit", null);
  }

  private run(argv: Uint8Array[]): void {
    this.session!.enqueue(argv, (reply, protocol) => {
      if (this.closed) return;
      this.outstanding--;
      if (reply instanceof Uint8Array) {
        // A node's reply passed through. When it is the only one due, it is the frame.
        if (this.outstanding === 0 && !this.ending && this.writer.length === 0) {
          this.send(reply);
          return;
        }
        this.writer.writeRaw(reply);
      } else {
        this.writer.write(reply, protocol);
      }
      // The last reply due goes out at once; otherwise replies ready in the same turn share a frame.
      if (this.outstanding === 0 && !this.ending) this.flush();
      else this.scheduleFlush();
    });
  }

  /** Stops reading; after the replies still due (and `last`, if any), the socket closes. */
  private end(code: number, reason: string, last: Reply | null): void {
    this.ending = { code, reason, last };
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Replies that complete together (one node frame, or several shards' in
    // the same turn) leave in one frame.
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return;
    const ending = this.ending;
    const finished = ending !== null && this.outstanding <= 0;
    if (finished && ending.last) this.writer.write(ending.last, this.session?.protocol ?? 2);
    if (this.writer.length > 0 && !this.send(this.writer.take())) return;
    if (finished) {
      try {
        this.ws.close(ending.code, ending.reason);
      } catch {
        // already closed
      }
      this.dispose();
    }
  }

  /** False when the socket is gone (and the proxy disposed). */
  private send(frame: Uint8Array): boolean {
    try {
      this.ws.send(frame);
      return true;
    } catch {
      this.dispose();
      return false;
    }
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.session?.close();
  }
}

function isQuit(argv: Uint8Array[]): boolean {
  const name = argv[0];
  return name.length === 4 && new TextDecoder().decode(name).toLowerCase() === "quit";
}

import type { Router, Session, SessionOptions } from "../worker/router/types.ts";
import type { Node } from "../shared/engine/node.ts";
import type { Connection } from "../shared/engine/connection.ts";
import { preAuthenticate } from "../shared/engine/auth.ts";
import { encodeCommand, error, ReplyParser, type Reply } from "../shared/resp/index.ts";
import type { OutputGate } from "./gate.ts";

/**
 * The HTTP API's Router on Deno (worker/http serves it, see server.ts): every
 * session is a connection to one node of this process (the `--name` node),
 * in-process, as a WebSocket client's would be: the commands go to
 * `node.message` inside the node's output gate and the replies come back
 * through the gate, so a reply leaves only after its write committed. The
 * commands a request sends in one go (a pipeline, a MULTI/EXEC) are one
 * message, so one commit. No cluster here: reads are never stale, so there is
 * no sync token.
 */
export interface LocalNode {
  readonly node: Node;
  readonly gate: OutputGate;
}

/** NodeSet, as far as the router needs it. */
export interface LocalNodes {
  readonly closing: boolean;
  get(name: string): LocalNode;
}

export class DenoRouter implements Router {
  constructor(
    private readonly nodes: LocalNodes,
    private readonly name: string,
  ) {}

  open(options: SessionOptions = {}): Promise<Session> {
    try {
      return Promise.resolve(new LocalSession(this.nodes, this.nodes.get(this.name), options.user));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

class LocalSession implements Session {
  readonly syncToken = null;
  private readonly parser = new ReplyParser();
  private readonly waiting: ((reply: Reply) => void)[] = [];
  private queued: Uint8Array[] = [];
  private readonly connection: Connection;
  private closedWith: string | null = null;

  constructor(
    private readonly nodes: LocalNodes,
    private readonly hosted: LocalNode,
    user: string | undefined,
  ) {
    const gate = hosted.gate;
    this.connection = hosted.node.open({
      send: (bytes) => gate.out(() => this.receive(bytes)),
      close: (_code, reason) => gate.out(() => this.fail(reason || "closed by the node")),
    });
    // As a token on a WebSocket upgrade: the front end authenticated the client as `user`.
    if (user !== undefined) preAuthenticate(this.connection.client, user);
  }

  send(argv: Uint8Array[]): Promise<Reply> {
    if (this.closedWith !== null) return Promise.resolve(error(`ERR tidekv: session closed (${this.closedWith})`));
    const reply = new Promise<Reply>((resolve) => this.waiting.push(resolve));
    if (this.queued.length === 0) queueMicrotask(() => this.flush());
    this.queued.push(encodeCommand(argv));
    return reply;
  }

  close(): void {
    if (this.closedWith !== null) return;
    this.fail("session closed");
    if (this.nodes.closing) return; // the node's database is closed or closing
    const { node, gate } = this.hosted;
    try {
      gate.event(() => node.closed(this.connection));
    } catch {
      // the commit failed: the gate has reported it
    }
  }

  /** Everything sent in one go, as one message: one event, one commit. */
  private flush(): void {
    const parts = this.queued;
    this.queued = [];
    if (this.closedWith !== null || parts.length === 0) return;
    if (this.nodes.closing) return this.fail("server shutting down");
    let total = 0;
    for (const p of parts) total += p.length;
    const frame = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      frame.set(p, at);
      at += p.length;
    }
    const { node, gate } = this.hosted;
    try {
      gate.event(() => node.message(this.connection, frame));
    } catch (e) {
      this.fail(`internal error: ${(e as Error)?.message ?? e}`);
    }
  }

  private receive(bytes: Uint8Array): void {
    this.parser.feed(bytes);
    for (let reply = this.parser.next(); reply !== undefined; reply = this.parser.next()) this.waiting.shift()?.(reply);
  }

  /** No more replies will come: whoever still waits gets an error. */
  private fail(reason: string): void {
    this.closedWith ??= reason;
    for (const resolve of this.waiting.splice(0)) resolve(error(`ERR tidekv: session closed (${reason})`));
  }
}

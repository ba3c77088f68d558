import { RequestParser } from "../../shared/resp/request-parser.ts";
import type { BatchResult, BatchState } from "../../shared/engine/batch.ts";
import type { RunRequest } from "../../durable/node-do.ts";
import { DEFAULT_CLUSTER, type Topology } from "../../shared/cluster/topology.ts";
import { ClusterRouter, type NodeDialer, type NodeLink, type NodeLinkHandlers } from "./cluster.ts";
import { cachedTopologySource } from "./topology-source.ts";

/**
 * A NodeDialer whose links are Workers RPC calls (`NodeDO.run`) instead of
 * WebSockets: for sessions as short as an HTTP request. A WebSocket costs an
 * upgrade, an accept and a close on the node for every request; an RPC link
 * costs nothing to open and one call per batch.
 *
 * The link looks like a byte stream to the ClusterRouter: the RESP commands it
 * writes are cut into commands here; those written in the same microtask go
 * in one call and run back to back on the node; the encoded replies come
 * back as one message. Calls of one link run in order, carrying the client
 * state (db, protocol, user, MULTI, READONLY, ASKING) from one to the next.
 * WATCH does not survive between two calls.
 */
export interface RpcNodeNamespace {
  getByName(name: string): { run(request: RunRequest): Promise<unknown> };
}

export function rpcDialer(namespace: RpcNodeNamespace): NodeDialer {
  return async (name, handlers, options) => new RpcLink(namespace, name, handlers, options.user ?? null);
}

class RpcLink implements NodeLink {
  private readonly parser = new RequestParser({ maxBulkLength: Number.MAX_SAFE_INTEGER, maxMultibulkLength: Number.MAX_SAFE_INTEGER });
  private pending: Uint8Array[][] = [];
  private state: BatchState | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly namespace: RpcNodeNamespace,
    private readonly name: string,
    private readonly handlers: NodeLinkHandlers,
    private readonly user: string | null,
  ) {}

  send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.parser.feed(bytes);
    const first = this.pending.length === 0;
    for (let argv = this.parser.next(); argv !== null; argv = this.parser.next()) {
      if (argv instanceof Error) {
        this.fail(`bad command bytes: ${argv.message}`);
        return;
      }
      this.pending.push(argv);
    }
    if (first && this.pending.length > 0) queueMicrotask(() => this.flush());
  }

  close(): void {
    this.closed = true;
  }

  private flush(): void {
    const commands = this.pending;
    this.pending = [];
    if (commands.length === 0) return;
    this.chain = this.chain.then(() => this.call(commands));
  }

  private async call(commands: Uint8Array[][]): Promise<void> {
    if (this.closed) return;
    let result: BatchResult;
    try {
      result = (await this.namespace.getByName(this.name).run({
        commands,
        state: this.state,
        user: this.state ? null : this.user,
        node: this.name,
      })) as BatchResult;
    } catch (e) {
      this.fail(`node ${this.name} unreachable: ${(e as Error)?.message ?? e}`);
      return;
    }
    this.state = result.state;
    if (!this.closed) this.handlers.onMessage(result.replies);
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose(reason);
  }
}

/** The cluster Router of a deployment over RPC links (the HTTP API's router). */
export function createRpcClusterRouter(env: RpcClusterEnv, cluster = DEFAULT_CLUSTER): ClusterRouter {
  return new ClusterRouter({
    topology: cachedTopologySource(`cluster:${cluster}`, () => env.CLUSTER.getByName(cluster).topology() as Promise<Topology>),
    dial: rpcDialer(env.NODE),
  });
}

export interface RpcClusterEnv {
  readonly NODE: RpcNodeNamespace;
  readonly CLUSTER: { getByName(name: string): { topology(): Promise<Topology> } };
}

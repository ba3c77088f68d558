import { AUTH_HEADER, NODE_NAME_HEADER } from "../../durable/node-do.ts";
import { DEFAULT_CLUSTER, type Topology } from "../../shared/cluster/topology.ts";
import { ClusterRouter, type NodeDialer, type NodeLink } from "./cluster.ts";
import { cachedTopologySource } from "./topology-source.ts";

/** What a dialer needs of the worker's environment: the nodes' Durable Object namespace. */
export interface NodeNamespace {
  getByName(name: string): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/**
 * Opens a RESP WebSocket to a node through its Durable Object stub: internal
 * traffic that never leaves the deployment. The session's `user` is the
 * identity the worker authenticated the client as (the node then treats the
 * connection as logged in as that user); without it the connection starts as
 * a fresh one would.
 */
export function durableObjectDialer(namespace: NodeNamespace): NodeDialer {
  return async (name, handlers, options): Promise<NodeLink> => {
    const headers: Record<string, string> = { Upgrade: "websocket", [NODE_NAME_HEADER]: name };
    if (options.user) headers[AUTH_HEADER] = options.user;
    const response = await namespace.getByName(name).fetch(`https://tidekv.internal/node/${encodeURIComponent(name)}`, { headers });
    const ws = response.webSocket;
    if (!ws) throw new Error(`HTTP ${response.status}`);
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    ws.accept();
    let closed = false;
    ws.addEventListener("message", (event) => {
      const data = event.data;
      handlers.onMessage(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer));
    });
    ws.addEventListener("close", (event) => {
      if (closed) return;
      closed = true;
      handlers.onClose(`closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`);
    });
    ws.addEventListener("error", () => {
      if (closed) return;
      closed = true;
      handlers.onClose("error");
    });
    return {
      send: (bytes) => ws.send(bytes),
      close: () => {
        closed = true;
        try {
          ws.close(1000, "session closed");
        } catch {
          // already closed
        }
      },
    };
  };
}

/** The cluster Router of a deployment: topology from its ClusterDO, nodes through their stubs. */
export function createClusterRouter(env: ClusterEnv, cluster = DEFAULT_CLUSTER): ClusterRouter {
  return new ClusterRouter({
    topology: cachedTopologySource(`cluster:${cluster}`, () => env.CLUSTER.getByName(cluster).topology() as Promise<Topology>),
    dial: durableObjectDialer(env.NODE),
  });
}

/** The bindings createClusterRouter uses. */
export interface ClusterEnv {
  readonly NODE: NodeNamespace;
  readonly CLUSTER: { getByName(name: string): { topology(): Promise<Topology> } };
}

import type { Client } from "../engine/client.ts";
import type { Guard } from "../engine/server.ts";
import type { Command } from "../commands/spec.ts";
import type { ClusterState } from "./node-state.ts";

/**
 * Cluster redirection, where Redis's processCommand does it: before a command
 * runs or is queued, for every client but the node's own master link. Keyed
 * commands whose slot this node does not serve are refused with MOVED, ASK,
 * CROSSSLOT, TRYAGAIN or CLUSTERDOWN (ClusterState.route); inside MULTI the
 * refusal flags the transaction (EXECABORT), and a refused EXEC discards it
 * and answers the redirection itself (the Server does both; `redirects`), as
 * Redis does. ASKING lasts for one command, or for the whole of a MULTI it
 * preceded (Redis clears CLIENT_ASKING in resetClient outside MULTI).
 */
export function clusterGuard(state: ClusterState): Guard {
  const guard = (client: Client, command: Command, argv: readonly Uint8Array[]): string | null => {
    if (!state.enabled) return null;
    const name = (command.parent ?? command).name;
    const asking = client.asking;
    const inMultiAfter = client.multi ? name !== "exec" && name !== "discard" && name !== "reset" : name === "multi";
    if (name !== "asking" && !inMultiAfter) client.asking = false;

    return state.route(client, command, argv, asking);
  };
  return Object.assign(guard, { redirects: true });
}

import { error, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { clusterStateOf, type ClusterState } from "../cluster/node-state.ts";
import type { Handler } from "./spec.ts";

const DISABLED = "ERR This instance has cluster support disabled";

/** A handler that runs only in cluster mode (Redis answers every CLUSTER subcommand so otherwise). */
export function inCluster(fn: (call: CommandCall, state: ClusterState) => Reply): Handler {
  return (call) => {
    const state = clusterStateOf(call.server);
    if (!state || !state.enabled) return error(DISABLED);
    return fn(call, state);
  };
}

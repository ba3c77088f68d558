import type { Guard, Server } from "../engine/server.ts";

/**
 * The replication checks of Redis's processCommand, in its order: NOREPLICAS
 * (min-replicas-to-write), READONLY (replica-read-only), MASTERDOWN
 * (replica-serve-stale-data no) and LOADING (a replica with no data yet).
 */
export function replicationGuard(server: Server): Guard {
  return (client, command) => {
    const replication = server.replication;
    if (!replication) return null;
    const config = server.config;
    const link = replication.link;
    if (!link) {
      const needed = config.int("min-replicas-to-write");
      if (needed > 0 && command.isWrite && replication.master.goodReplicas(server.host.now()) < needed) {
        return "NOREPLICAS Not enough good replicas to write.";
      }
      return null;
    }
    if (command.isWrite && client.role !== "master" && config.bool("replica-read-only")) {
      return "READONLY You can't write against a read only replica.";
    }
    if (!link.isUp && !config.bool("replica-serve-stale-data") && !command.flags.has("stale")) {
      return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    }
    if (link.isLoading && replication.ids.get("synced") !== "1" && !command.flags.has("loading")) {
      return "LOADING Redis is loading the dataset in memory";
    }
    return null;
  };
}

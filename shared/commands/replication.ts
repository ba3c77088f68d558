import { error, integer, OK, simple, type Reply } from "../resp/reply.ts";
import { ACK_EVENT, NO_REPLY, type Blocked } from "../engine/blocking.ts";
import type { CommandCall } from "../engine/call.ts";
import type { Replication } from "../replication/index.ts";
import type { HandlerTable } from "./spec.ts";
import { datasetDigest } from "../replication/digest.ts";

function replicationOf(call: CommandCall): Replication {
  const replication = call.server.replication;
  if (!replication) throw new Error("replication is not set up on this node");
  return replication;
}

/** REPLICAOF / SLAVEOF host port | NO ONE. `host` is a node name of this deployment or a ws:// URL. */
function replicaof(call: CommandCall): Reply {
  const replication = replicationOf(call);
  if (call.server.config.bool("cluster-enabled")) return error("ERR REPLICAOF not allowed in cluster mode.");
  const host = call.str(1);
  if (host.toLowerCase() === "no" && call.option(2) === "one") {
    replication.promote();
    return OK;
  }
  const port = call.int(2);
  if (host === call.server.host.nodeName) return error("ERR Can't replicate myself");
  const link = replication.link;
  if (link && link.target === host && link.port === port) return simple("OK Already connected to specified master");
  if (replication.replicaNames().includes(host)) {
    return error(`ERR Replication loop: '${host}' is a replica of this node`);
  }
  replication.follow(host, port);
  return OK;
}

function replconf(call: CommandCall): Reply {
  const replication = replicationOf(call);
  // tidekv's own snapshot flow control: one piece applied, send the next (no reply).
  if (call.argv.length === 2 && call.option(1) === "snapshot-ack") {
    replication.master.snapshotAck(call.client);
    return NO_REPLY;
  }
  if (call.argv.length % 2 === 0) return error("ERR syntax error");
  for (let i = 1; i < call.argv.length; i += 2) {
    const option = call.option(i);
    const value = call.str(i + 1);
    switch (option) {
      case "listening-port": {
        const port = Number(value);
        if (!Number.isInteger(port)) return error("ERR value is not an integer or out of range");
        replication.master.handshakes.set(call.client, { ...replication.master.handshakes.get(call.client), listeningPort: port });
        break;
      }
      case "ip-address": {
        // A node announcing itself by name. Following our own master would be a loop.
        if (replication.link && replication.link.target === value) {
          return error(`ERR Replication loop: '${value}' is this node's master`);
        }
        replication.master.handshakes.set(call.client, { ...replication.master.handshakes.get(call.client), name: value });
        break;
      }
      case "capa":
      case "rdb-only":
      case "rdb-filter-only":
        break;
      case "ack": {
        const offset = Number(value);
        if (Number.isInteger(offset)) replication.master.ack(call.client, offset);
        return NO_REPLY;
      }
      case "getack":
        // Only meaningful on a replica's link, where MasterLink answers it.
        return NO_REPLY;
      default:
        return error(`ERR Unrecognized REPLCONF option: ${call.str(i)}`);
    }
  }
  return OK;
}

function psync(call: CommandCall): Reply {
  const replication = replicationOf(call);
  if (call.client.multi) return error("ERR Command not allowed inside a transaction");
  if (replication.link && !replication.link.isUp) return error("NOMASTERLINK Can't SYNC while not connected with my master");
  const replid = call.str(1);
  const offset = call.argv.length > 2 ? Number(call.str(2)) : -1;
  replication.master.psync(call.client, replid, Number.isInteger(offset) ? offset : -1);
  return NO_REPLY;
}

/** WAIT numreplicas timeout: how many replicas acknowledged this client's last write. */
function wait(call: CommandCall): Reply | Blocked {
  const replication = replicationOf(call);
  if (replication.isReplica) {
    return error(
      "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
    );
  }
  const wanted = call.int(1);
  const timeout = call.int(2, "ERR timeout is not an integer or out of range");
  if (timeout < 0) return error("ERR timeout is negative");
  const offset = call.client.lastWriteOffset;
  const acknowledged = () => integer(replication.master.acknowledged(offset));
  const count = replication.master.acknowledged(offset);
  if (count >= wanted || call.server.inTransaction) return integer(count);
  // Ask the replicas once; every acknowledgement then retries this command
  // (keeping the original deadline) until enough replicas are there.
  if (!call.isRetry) replication.master.getAck();
  return call.block([], timeout, acknowledged, [ACK_EVENT]);
}

/** DEBUG DIGEST (a digest of the whole dataset, to compare a master and its replicas). */
function debug(call: CommandCall): Reply {
  const sub = call.option(1);
  if (sub === "digest" && call.argv.length === 2) return simple(datasetDigest(call.server.sql, call.keys));
  return error(`ERR Unknown subcommand or wrong number of arguments for '${call.str(1)}'. Try DEBUG HELP.`);
}

export const replicationCommands: HandlerTable = {
  debug,
  replicaof,
  slaveof: replicaof,
  role: (call) => replicationOf(call).role(),
  replconf,
  psync,
};

export const waitCommands: HandlerTable = { wait };

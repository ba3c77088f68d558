/**
 * Address rewriting for `tidekv bridge --cluster`: cluster replies name nodes
 * (CLUSTER SLOTS/SHARDS/NODES/REPLICAS, MOVED/ASK), and a stock Redis client
 * must be sent to the bridge's local port for that node instead.
 *
 * `ReplyRewriter` follows one TCP connection: it reads the client's requests
 * (to know which reply answers CLUSTER SLOTS, SHARDS, ...) and the server's
 * replies, and rewrites only what names nodes. Everything else passes through
 * as the same bytes (replies are decoded and re-encoded in the protocol they
 * came in).
 */
import {
  ReplyParser,
  ReplyWriter,
  RequestParser,
  ProtocolError,
  array,
  bulk,
  integer,
  map,
  type Reply,
} from "../../shared/resp/index.ts";
import { nodeName, parseNodeAddress, parseRedirect } from "../src/cluster-protocol.ts";
import { replyItems, replyText } from "../src/values.ts";

/**
 * The local port for a node (allocating one if needed). Entries of cluster
 * replies come with the node's name and the address it announces; a MOVED or
 * ASK only with the address (the bridge knows the name from earlier replies).
 */
export type PortOf = (node: { name?: string; endpoint: string; port: number }) => number;

const decoder = new TextDecoder();

/** `MOVED 3999 node-b:8787` -> `MOVED 3999 127.0.0.1:7002`; other errors unchanged. */
export function rewriteRedirect(message: string, portOf: PortOf, host: string): string {
  const r = parseRedirect(message);
  if (!r) return message;
  return `${r.kind} ${r.slot} ${host}:${portOf({ endpoint: r.endpoint, port: r.port })}`;
}

/** Metadata without `hostname` (a RESP3 map or a RESP2 flat array). */
function dropHostname(meta: Reply): Reply {
  if (meta.type === "map") return map(meta.value.filter(([k]) => replyText(k) !== "hostname"));
  if (meta.type === "array") {
    const out: Reply[] = [];
    for (let i = 0; i + 1 < meta.value.length; i += 2) {
      if (replyText(meta.value[i]) !== "hostname") out.push(meta.value[i], meta.value[i + 1]);
    }
    return array(out);
  }
  return meta;
}

function hostnameOf(meta: Reply | undefined): string | undefined {
  if (!meta) return undefined;
  if (meta.type === "map") {
    for (const [k, v] of meta.value) if (replyText(k) === "hostname") return replyText(v) || undefined;
  } else if (meta.type === "array") {
    for (let i = 0; i + 1 < meta.value.length; i += 2) {
      if (replyText(meta.value[i]) === "hostname") return replyText(meta.value[i + 1]) || undefined;
    }
  }
  return undefined;
}

/** CLUSTER SLOTS with every node entry pointing at the bridge. */
export function rewriteSlots(reply: Reply, portOf: PortOf, host: string): Reply {
  if (reply.type !== "array") return reply;
  return array(
    reply.value.map((range) => {
      if (range.type !== "array") return range;
      return array(
        range.value.map((item, i) => {
          if (i < 2 || item.type !== "array" || item.value.length < 2) return item;
          const [endpoint, announcedPort, ...rest] = item.value;
          const text = replyText(endpoint) ?? "";
          const name = nodeName(text, hostnameOf(rest[1]));
          const port = portOf({ name, endpoint: text, port: announcedPort.type === "integer" ? Number(announcedPort.value) : 0 });
          return array([bulk(host), integer(port), ...rest.map((r, j) => (j === 1 ? dropHostname(r) : r))]);
        }),
      );
    }),
  );
}

/** Rewrites the fields of one record (RESP3 map or RESP2 flat array). */
function mapRecord(record: Reply, fn: (key: string, value: Reply) => Reply | null): Reply {
  if (record.type === "map") {
    const out: [Reply, Reply][] = [];
    for (const [k, v] of record.value) {
      const nv = fn(replyText(k) ?? "", v);
      if (nv !== null) out.push([k, nv]);
    }
    return map(out);
  }
  if (record.type === "array") {
    const out: Reply[] = [];
    for (let i = 0; i + 1 < record.value.length; i += 2) {
      const nv = fn(replyText(record.value[i]) ?? "", record.value[i + 1]);
      if (nv !== null) out.push(record.value[i], nv);
    }
    return array(out);
  }
  return record;
}

function recordField(record: Reply, key: string): Reply | undefined {
  let found: Reply | undefined;
  mapRecord(record, (k, v) => {
    if (k === key) found = v;
    return v;
  });
  return found;
}

/** CLUSTER SHARDS with each node's ip/endpoint/port pointing at the bridge. */
export function rewriteShards(reply: Reply, portOf: PortOf, host: string): Reply {
  const shards = replyItems(reply);
  if (!shards || reply.type !== "array") return reply;
  return array(
    shards.map((shard) =>
      mapRecord(shard, (key, value) => {
        if (key !== "nodes" || value.type !== "array") return value;
        return array(
          value.value.map((node) => {
            const endpoint = replyText(recordField(node, "endpoint")) ?? replyText(recordField(node, "ip")) ?? "";
            const name = nodeName(endpoint, replyText(recordField(node, "hostname")) || undefined);
            const announced = recordField(node, "port");
            const port = portOf({ name, endpoint, port: announced?.type === "integer" ? Number(announced.value) : 0 });
            return mapRecord(node, (k, v) => {
              if (k === "ip" || k === "endpoint") return bulk(host);
              if (k === "port") return integer(port);
              if (k === "hostname" || k === "tls-port") return null;
              return v;
            });
          }),
        );
      }),
    ),
  );
}

/** CLUSTER NODES text: the address field of every line becomes host:port@bus. */
export function rewriteNodesText(text: string, portOf: PortOf, host: string): string {
  return text
    .split("\n")
    .map((line) => {
      const fields = line.split(" ");
      if (fields.length < 8) return line;
      const addr = parseNodeAddress(fields[1]);
      const port = portOf({ name: nodeName(addr.endpoint, addr.hostname), endpoint: addr.endpoint, port: addr.port });
      fields[1] = `${host}:${port}@${port + 10000}`;
      return fields.join(" ");
    })
    .join("\n");
}

function rewriteNodesReply(reply: Reply, portOf: PortOf, host: string): Reply {
  if (reply.type === "bulk") return bulk(rewriteNodesText(decoder.decode(reply.value), portOf, host));
  if (reply.type === "verbatim") {
    return { type: "verbatim", format: reply.format, value: new TextEncoder().encode(rewriteNodesText(decoder.decode(reply.value), portOf, host)) };
  }
  if (reply.type === "array") return array(reply.value.map((r) => rewriteNodesReply(r, portOf, host)));
  return reply;
}

type Kind =
  | { type: "slots" | "shards" | "nodes" | "other" | "reset" | "multi" | "exec" | "discard" }
  | { type: "hello"; protocol?: 2 | 3 };

/** Commands after which replies no longer answer requests one to one. */
const UNTRACKABLE = new Set(["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor", "sync", "psync"]);

const RESP3_ONLY = new Set(["map", "set", "double", "boolean", "bignum", "verbatim", "push"]);

function hasResp3Types(r: Reply): boolean {
  if (RESP3_ONLY.has(r.type)) return true;
  if (r.type === "array") return r.value.some(hasResp3Types);
  return false;
}

export class ReplyRewriter {
  private readonly requests = new RequestParser({
    maxBulkLength: 512 * 1024 * 1024,
    maxMultibulkLength: 1 << 20,
    maxInlineLength: 64 * 1024,
  });
  private readonly replies = new ReplyParser();
  private readonly writer = new ReplyWriter();
  private readonly kinds: Kind[] = [];
  private tracking = true;
  private protocol: 2 | 3 = 2;
  private inMulti = false;
  private queued: Kind[] = [];

  constructor(
    private readonly portOf: PortOf,
    private readonly host = "127.0.0.1",
  ) {}

  /** Bytes the client sent (forwarded unchanged by the caller). */
  request(chunk: Uint8Array): void {
    if (!this.tracking) return;
    this.requests.feed(chunk);
    for (;;) {
      const argv = this.requests.next();
      if (argv === null) return;
      if (argv instanceof ProtocolError) {
        this.tracking = false; // the server will answer with its error and close
        return;
      }
      this.kinds.push(this.classify(argv));
      if (!this.tracking) return;
    }
  }

  private classify(argv: Uint8Array[]): Kind {
    const name = decoder.decode(argv[0]).toLowerCase();
    const sub = argv.length > 1 ? decoder.decode(argv[1]).toLowerCase() : "";
    if (UNTRACKABLE.has(name) || (name === "client" && sub === "reply")) this.tracking = false;
    switch (name) {
      case "cluster":
        if (argv.length === 2 && sub === "slots") return { type: "slots" };
        if (argv.length === 2 && sub === "shards") return { type: "shards" };
        if (argv.length === 2 && sub === "nodes") return { type: "nodes" };
        if (argv.length === 3 && (sub === "replicas" || sub === "slaves")) return { type: "nodes" };
        return { type: "other" };
      case "hello":
        return { type: "hello", protocol: sub === "3" ? 3 : sub === "2" ? 2 : undefined };
      case "reset":
      case "multi":
      case "exec":
      case "discard":
        return { type: name };
      default:
        return { type: "other" };
    }
  }

  /** Bytes the server sent; returns the bytes to give the client. */
  reply(chunk: Uint8Array): Uint8Array {
    this.replies.feed(chunk);
    for (let r = this.replies.next(); r !== undefined; r = this.replies.next()) {
      let kind: Kind | undefined;
      if (r.type !== "push" && this.tracking) {
        kind = this.kinds.shift();
        if (kind === undefined) this.tracking = false;
      }
      const out = this.apply(kind, r);
      if (hasResp3Types(out)) this.protocol = 3;
      this.writer.write(out, this.protocol);
    }
    return this.writer.take();
  }

  private apply(kind: Kind | undefined, r: Reply): Reply {
    if (r.type === "error") {
      if (kind?.type === "exec" || kind?.type === "discard") {
        this.inMulti = false;
        this.queued = [];
      }
      const message = rewriteRedirect(r.value, this.portOf, this.host);
      return message === r.value ? r : { type: "error", value: message };
    }
    if (kind === undefined) return r;
    if (this.inMulti && kind.type !== "exec" && kind.type !== "discard" && kind.type !== "multi" && kind.type !== "reset") {
      if (r.type === "simple" && r.value === "QUEUED") this.queued.push(kind);
      return r;
    }
    switch (kind.type) {
      case "multi":
        this.inMulti = true;
        this.queued = [];
        return r;
      case "exec": {
        const queued = this.queued;
        this.inMulti = false;
        this.queued = [];
        if (r.type !== "array") return r;
        return array(r.value.map((item, i) => (queued[i] ? this.apply(queued[i], item) : item)));
      }
      case "discard":
        this.inMulti = false;
        this.queued = [];
        return r;
      case "reset":
        this.inMulti = false;
        this.queued = [];
        this.protocol = 2;
        return r;
      case "hello":
        if (kind.protocol) this.protocol = kind.protocol;
        return r;
      case "slots":
        return rewriteSlots(r, this.portOf, this.host);
      case "shards":
        return rewriteShards(r, this.portOf, this.host);
      case "nodes":
        return rewriteNodesReply(r, this.portOf, this.host);
      default:
        return r;
    }
  }
}

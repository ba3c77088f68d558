/**
 * The Redis Cluster protocol as clients see it: CLUSTER SLOTS, CLUSTER SHARDS,
 * CLUSTER NODES and CLUSTER INFO replies, and MOVED/ASK redirections, parsed
 * from the reply model (RESP2 and RESP3 forms alike).
 *
 * tidekv addresses nodes by name (`<base>/node/<name>`), so a node's *name*
 * is what a cluster client needs from these replies: the `hostname` a node
 * announces when there is one, otherwise its endpoint (the first field of a
 * CLUSTER SLOTS node entry, the host of `MOVED <slot> <host>:<port>`).
 */
import type { Reply } from "../../shared/resp/index.ts";
import { replyItems, replyNumber, replyPairs, replyText } from "./values.ts";

export const SLOT_COUNT = 16384;

export interface NodeAddress {
  /** The preferred endpoint as announced (an IP, a hostname, or "?" when unknown). */
  readonly endpoint: string;
  readonly port: number;
  readonly id: string;
  readonly hostname?: string;
  /** The node's name for tidekv: hostname, else endpoint. */
  readonly name: string;
}

export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly master: NodeAddress;
  readonly replicas: readonly NodeAddress[];
}

/** The name tidekv routes to for an announced endpoint and optional hostname. */
export function nodeName(endpoint: string, hostname?: string): string {
  if (hostname) return hostname;
  return endpoint.startsWith("[") && endpoint.endsWith("]") ? endpoint.slice(1, -1) : endpoint;
}

function parseNodeEntry(r: Reply): NodeAddress | undefined {
  const items = replyItems(r);
  if (!items || items.length < 2) return undefined;
  const endpoint = replyText(items[0]) ?? "";
  const port = replyNumber(items[1]);
  if (port === undefined) return undefined;
  const id = replyText(items[2]) ?? "";
  let hostname: string | undefined;
  for (const [k, v] of replyPairs(items[3]) ?? []) {
    if (k === "hostname") hostname = replyText(v) || undefined;
  }
  return { endpoint, port, id, hostname, name: nodeName(endpoint, hostname) };
}

/** CLUSTER SLOTS: [[start, end, master, replica...], ...]. Throws on a reply of another shape. */
export function parseClusterSlots(reply: Reply): SlotRange[] {
  const ranges = replyItems(reply);
  if (!ranges) throw new TypeError(`CLUSTER SLOTS: expected an array, got ${reply.type}`);
  const out: SlotRange[] = [];
  for (const item of ranges) {
    const parts = replyItems(item);
    const start = replyNumber(parts?.[0]);
    const end = replyNumber(parts?.[1]);
    if (!parts || start === undefined || end === undefined || parts.length < 3) {
      throw new TypeError("CLUSTER SLOTS: malformed slot range");
    }
    const nodes = parts.slice(2).map(parseNodeEntry);
    if (nodes.some((n) => n === undefined)) throw new TypeError("CLUSTER SLOTS: malformed node entry");
    const [master, ...replicas] = nodes as NodeAddress[];
    out.push({ start, end, master, replicas });
  }
  return out;
}

export interface Redirect {
  readonly kind: "MOVED" | "ASK";
  readonly slot: number;
  readonly endpoint: string;
  readonly port: number;
  /** `<endpoint>:<port>` as sent. */
  readonly address: string;
}

/** `MOVED 3999 host:6381` / `ASK 3999 host:6381`, or undefined for any other error. */
export function parseRedirect(message: string): Redirect | undefined {
  const m = /^(MOVED|ASK) (\d+) (\S+)$/.exec(message);
  if (!m) return undefined;
  const address = m[3];
  const colon = address.lastIndexOf(":");
  const endpoint = colon < 0 ? address : address.slice(0, colon);
  const port = colon < 0 ? 0 : Number(address.slice(colon + 1));
  return { kind: m[1] as "MOVED" | "ASK", slot: Number(m[2]), endpoint, port, address };
}

export interface ShardNode {
  readonly id: string;
  readonly endpoint: string;
  readonly ip: string;
  readonly port: number;
  readonly hostname?: string;
  readonly role: string;
  readonly replicationOffset: number;
  readonly health: string;
  readonly name: string;
}

export interface Shard {
  /** Inclusive [start, end] pairs. */
  readonly slots: readonly (readonly [number, number])[];
  readonly nodes: readonly ShardNode[];
}

/** CLUSTER SHARDS (Redis 7): [{slots: [s, e, ...], nodes: [{id, port, ip, endpoint, hostname, role, replication-offset, health}]}]. */
export function parseClusterShards(reply: Reply): Shard[] {
  const shards = replyItems(reply);
  if (!shards) throw new TypeError(`CLUSTER SHARDS: expected an array, got ${reply.type}`);
  return shards.map((s) => {
    const fields = new Map(replyPairs(s) ?? []);
    const slotNumbers = (replyItems(fields.get("slots")) ?? []).map((r) => replyNumber(r) ?? -1);
    const slots: [number, number][] = [];
    for (let i = 0; i + 1 < slotNumbers.length; i += 2) slots.push([slotNumbers[i], slotNumbers[i + 1]]);
    const nodes = (replyItems(fields.get("nodes")) ?? []).map((n): ShardNode => {
      const f = new Map(replyPairs(n) ?? []);
      const endpoint = replyText(f.get("endpoint")) ?? replyText(f.get("ip")) ?? "";
      const hostname = replyText(f.get("hostname")) || undefined;
      return {
        id: replyText(f.get("id")) ?? "",
        endpoint,
        ip: replyText(f.get("ip")) ?? "",
        port: replyNumber(f.get("port")) ?? replyNumber(f.get("tls-port")) ?? 0,
        hostname,
        role: replyText(f.get("role")) ?? "",
        replicationOffset: replyNumber(f.get("replication-offset")) ?? 0,
        health: replyText(f.get("health")) ?? "",
        name: nodeName(endpoint, hostname),
      };
    });
    return { slots, nodes };
  });
}

export interface ClusterNodeLine {
  readonly id: string;
  /** The address field as sent: `ip:port@cport[,hostname]`. */
  readonly address: string;
  readonly endpoint: string;
  readonly port: number;
  readonly busPort: number;
  readonly hostname?: string;
  readonly flags: readonly string[];
  /** The master's id, or "-". */
  readonly master: string;
  readonly pingSent: number;
  readonly pongReceived: number;
  readonly configEpoch: number;
  readonly linkState: string;
  readonly slots: readonly (readonly [number, number])[];
  readonly migrating: readonly { slot: number; to: string }[];
  readonly importing: readonly { slot: number; from: string }[];
  readonly name: string;
}

/** Splits `ip:port@cport[,hostname]`. */
export function parseNodeAddress(address: string): { endpoint: string; port: number; busPort: number; hostname?: string } {
  const comma = address.indexOf(",");
  const main = comma < 0 ? address : address.slice(0, comma);
  const hostname = comma < 0 ? undefined : address.slice(comma + 1) || undefined;
  const at = main.indexOf("@");
  const hostPort = at < 0 ? main : main.slice(0, at);
  const busPort = at < 0 ? 0 : Number(main.slice(at + 1)) || 0;
  const colon = hostPort.lastIndexOf(":");
  return {
    endpoint: colon < 0 ? hostPort : hostPort.slice(0, colon),
    port: colon < 0 ? 0 : Number(hostPort.slice(colon + 1)) || 0,
    busPort,
    hostname,
  };
}

/** CLUSTER NODES text, one node per line. */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const out: ClusterNodeLine[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ").filter((f) => f !== "");
    if (fields.length < 8) continue;
    const [id, address, flags, master, pingSent, pongReceived, configEpoch, linkState, ...slotFields] = fields;
    const addr = parseNodeAddress(address);
    const slots: [number, number][] = [];
    const migrating: { slot: number; to: string }[] = [];
    const importing: { slot: number; from: string }[] = [];
    for (const s of slotFields) {
      let m = /^\[(\d+)->-(\S+)\]$/.exec(s);
      if (m) {
        migrating.push({ slot: Number(m[1]), to: m[2] });
        continue;
      }
      m = /^\[(\d+)-<-(\S+)\]$/.exec(s);
      if (m) {
        importing.push({ slot: Number(m[1]), from: m[2] });
        continue;
      }
      m = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (m) slots.push([Number(m[1]), Number(m[2] ?? m[1])]);
    }
    out.push({
      id,
      address,
      endpoint: addr.endpoint,
      port: addr.port,
      busPort: addr.busPort,
      hostname: addr.hostname,
      flags: flags.split(","),
      master,
      pingSent: Number(pingSent),
      pongReceived: Number(pongReceived),
      configEpoch: Number(configEpoch),
      linkState,
      slots,
      migrating,
      importing,
      name: nodeName(addr.endpoint, addr.hostname),
    });
  }
  return out;
}

/** CLUSTER INFO (and INFO) text as key -> value. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return out;
}

/** Slot ranges as text: "0-5460,5462" (inclusive pairs merged when adjacent). */
export function formatRanges(ranges: readonly (readonly [number, number])[]): string {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged.map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`)).join(",");
}

export function countSlots(ranges: readonly (readonly [number, number])[]): number {
  return ranges.reduce((n, [s, e]) => n + (e - s + 1), 0);
}

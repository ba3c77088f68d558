/**
 * Read-your-writes tokens (docs/proxy.md). A token names, for each shard a
 * client wrote to, the replication history (replid) and the offset its master
 * had reached right after the client's write, plus the topology epoch the
 * token was made under:
 *
 *     tk1.<epoch>.<shardId>:<replid>:<offset>[,<shardId>:<replid>:<offset>...]
 *
 * shardId and replid are 40 hex characters, epoch and offset decimal. The
 * text only uses characters that are safe in HTTP headers and URLs. A read
 * presenting the token is served by a replica of shard S only once that
 * replica has applied S's entry (TIDEKV.READAFTER), and by the master
 * otherwise; a token made under an older epoch than the proxy's topology
 * (slots may have moved, a replica may have been promoted) sends reads to
 * masters until the proxy has re-read every master's offset.
 */

export interface ShardPosition {
  readonly replid: string;
  readonly offset: number;
}

export interface SyncToken {
  /** The topology epoch the positions were taken under. */
  readonly epoch: number;
  /** shardId -> position of the client's last write there. */
  readonly shards: ReadonlyMap<string, ShardPosition>;
}

const PREFIX = "tk1.";
const HEX40 = /^[0-9a-f]{40}$/;
const DECIMAL = /^(?:0|[1-9]\d{0,15})$/;

/** The token's text, or null when it names no shard (nothing to wait for). */
export function encodeSyncToken(token: SyncToken | null): string | null {
  if (!token || token.shards.size === 0) return null;
  const entries: string[] = [];
  for (const [shardId, { replid, offset }] of [...token.shards].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    entries.push(`${shardId}:${replid}:${offset}`);
  }
  return `${PREFIX}${token.epoch}.${entries.join(",")}`;
}

/**
 * Parses a token; null for an absent, empty or malformed one. (A client that
 * sends garbage gets no read-your-writes promise it could not have earned:
 * the proxy treats it as "no token".)
 */
export function decodeSyncToken(text: string | null | undefined): SyncToken | null {
  if (!text) return null;
  const value = text.trim();
  if (!value.startsWith(PREFIX)) return null;
  const dot = value.indexOf(".", PREFIX.length);
  if (dot < 0) return null;
  const epochText = value.slice(PREFIX.length, dot);
  if (!DECIMAL.test(epochText)) return null;
  const epoch = Number(epochText);
  const shards = new Map<string, ShardPosition>();
  const body = value.slice(dot + 1);
  if (body === "") return null;
  for (const entry of body.split(",")) {
    const parts = entry.split(":");
    if (parts.length !== 3) return null;
    const [shardId, replid, offsetText] = parts;
    if (!HEX40.test(shardId) || !HEX40.test(replid) || !DECIMAL.test(offsetText)) return null;
    const offset = Number(offsetText);
    if (!Number.isSafeInteger(offset)) return null;
    const known = shards.get(shardId);
    shards.set(shardId, mergePosition(known, { replid, offset }));
  }
  return { epoch, shards };
}

/**
 * The later of two positions of one shard. Same history: the larger offset.
 * Different histories (a failover in between): the one given second, which
 * callers pass as the newer observation.
 */
export function mergePosition(older: ShardPosition | undefined, newer: ShardPosition): ShardPosition {
  if (!older) return newer;
  if (older.replid === newer.replid) return older.offset >= newer.offset ? older : newer;
  return newer;
}

/** Combines two tokens (e.g. of two HTTP requests): positions merged per shard, the older epoch kept. */
export function combineSyncTokens(a: SyncToken | null, b: SyncToken | null): SyncToken | null {
  if (!a) return b;
  if (!b) return a;
  const shards = new Map(a.shards);
  for (const [shardId, position] of b.shards) shards.set(shardId, mergePosition(shards.get(shardId), position));
  return { epoch: Math.min(a.epoch, b.epoch), shards };
}

// Sorted-set ranks through counted blocks (shared/commands/sorted-set/blocks.ts), on
// node:sqlite: tiny blocks so that small sets split and merge all the time, a
// seeded random workload checked against a model after every command, and the
// blocks table checked against the members after every command.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { Node } from "../shared/engine/node.ts";
import { KeyType } from "../shared/engine/keyspace.ts";
import { setBlockSizes } from "../shared/commands/sorted-set/blocks.ts";
import type { Sql } from "../shared/store/sql.ts";
import { DenoHost } from "./host.ts";
import { openSql } from "./sql.ts";
import { FakeClient } from "./testing.ts";

const BLOCK = 4; // blocks split above 8 entries, merge below 2
const GROUP = 3; // groups split above 6 blocks, merge below 1.5

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** Redis's order: score, then member bytes (ASCII members here, so string order is byte order). */
type Model = Map<string, number>;
function ordered(model: Model): [string, number][] {
  return [...model].sort(([ma, sa], [mb, sb]) => (sa - sb) || (ma < mb ? -1 : ma > mb ? 1 : 0));
}

const formatScore = (score: number) => (score === Infinity ? "inf" : score === -Infinity ? "-inf" : String(score));

/**
 * Every block's count equals the members it covers, every group's counts
 * equal the blocks it covers and starts at a block boundary; sizes within
 * bounds; nothing orphaned.
 */
function checkBlocks(sql: Sql, where: string): void {
  for (const table of ["zset_blocks", "zset_groups"]) {
    const orphans = sql.all(`SELECT DISTINCT key_id FROM ${table} WHERE key_id NOT IN (SELECT id FROM keyspace)`);
    assertEquals(orphans.length, 0, `${where}: ${table} of deleted keys`);
  }
  for (const key of sql.all<{ id: number; count: number }>(`SELECT id, count FROM keyspace WHERE type = ?`, KeyType.zset)) {
    const blocks = sql.all<{ score: number; member: Uint8Array; n: number }>(
      `SELECT score, member, n FROM zset_blocks WHERE key_id = ? ORDER BY score, member`, key.id,
    );
    const members = Number(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ?`, key.id)!.n);
    if (members === 0) {
      assertEquals(blocks.length, 0, `${where}: blocks for a key without members`);
      continue;
    }
    ok(blocks.length > 0, `${where}: a sorted set without blocks`);
    assertEquals([blocks[0].score, blocks[0].member.length], [-Infinity, 0], `${where}: first boundary`);
    let total = 0;
    blocks.forEach((b, i) => {
      const next = blocks[i + 1];
      const n = Number(
        next === undefined
          ? sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?)`, key.id, b.score, b.member)!.n
          : sql.one<{ n: number }>(
            `SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?) AND (score, member) < (?, ?)`,
            key.id, b.score, b.member, next.score, next.member,
          )!.n,
      );
      assertEquals(Number(b.n), n, `${where}: block ${i} of key ${key.id} counts ${b.n}, holds ${n}`);
      ok(n <= 2 * BLOCK, `${where}: block ${i} holds ${n}`);
      if (blocks.length > 1) ok(n >= BLOCK / 2, `${where}: block ${i} of ${blocks.length} holds only ${n}`);
      total += n;
    });
    assertEquals(total, members);

    const groups = sql.all<{ score: number; member: Uint8Array; n: number; blocks: number }>(
      `SELECT score, member, n, blocks FROM zset_groups WHERE key_id = ? ORDER BY score, member`, key.id,
    );
    const boundaryOf = (x: { score: number; member: Uint8Array }) => `${x.score}/${Array.from(x.member).join(",")}`;
    const starts = blocks.map(boundaryOf);
    let index = 0;
    groups.forEach((g, i) => {
      assertEquals(starts[index], boundaryOf(g), `${where}: group ${i} of key ${key.id} starts at a block boundary`);
      const end = i + 1 < groups.length ? starts.indexOf(boundaryOf(groups[i + 1])) : blocks.length;
      ok(end > index, `${where}: group ${i + 1} starts at a block boundary after group ${i}`);
      const covered = blocks.slice(index, end);
      assertEquals([Number(g.n), Number(g.blocks)], [covered.reduce((sum, b) => sum + Number(b.n), 0), covered.length], `${where}: group ${i} of key ${key.id}`);
      ok(covered.length <= 2 * GROUP, `${where}: group ${i} holds ${covered.length} blocks`);
      if (groups.length > 1) ok(covered.length >= GROUP / 2, `${where}: group ${i} of ${groups.length} holds only ${covered.length} blocks`);
      index = end;
    });
  }
}

function withTinyBlocks(fn: (c: FakeClient, sql: Sql) => void): () => void {
  return () => {
    const dir = Deno.makeTempDirSync({ prefix: "tidekv-zset-blocks-" });
    const sql = openSql(`${dir}/node.sqlite`, "normal");
    const host = new DenoHost({ nodeName: "blocks" });
    const node = new Node(sql, host);
    setBlockSizes(BLOCK, GROUP);
    try {
      fn(new FakeClient(node), sql);
    } finally {
      setBlockSizes();
      host.close();
      sql.close();
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test("counted blocks: ranks, rank ranges and removals agree with a model under a random workload", withTinyBlocks((c, sql) => {
  const random = xorshift(20261121);
  const pick = (n: number) => Math.floor(random() * n);
  const models = new Map<string, Model>([["za", new Map()], ["zb", new Map()], ["zc", new Map()]]);
  const keys = [...models.keys()];
  const member = () => `m${String(pick(300)).padStart(3, "0")}`;
  const score = () => [pick(40), pick(5), -Infinity, Infinity, pick(1000) / 7][pick(5)];

  for (let step = 0; step < 3000; step++) {
    const key = keys[pick(keys.length)];
    const model = models.get(key)!;
    const list = ordered(model);
    const n = list.length;
    const op = pick(100);
    const label = `step ${step} (op ${op} on ${key})`;
    if (op < 35) {
      const args: (string | number)[] = [];
      const batch = 1 + pick(pick(10) === 0 ? 60 : 4);
      const added = new Map<string, number>();
      for (let i = 0; i < batch; i++) {
        const m = member();
        const s = score();
        args.push(formatScore(s), m);
        added.set(m, s);
      }
      c.call("ZADD", key, ...args);
      for (const [m, s] of added) model.set(m, s);
    } else if (op < 42) {
      const m = member();
      const by = pick(7) - 3;
      const result = (model.get(m) ?? 0) + by;
      if (Number.isNaN(result)) continue;
      c.call("ZINCRBY", key, by, m);
      model.set(m, result);
    } else if (op < 52) {
      const gone = Array.from({ length: 1 + pick(6) }, member);
      const removed = c.call("ZREM", key, ...gone);
      assertEquals(removed, new Set(gone.filter((m) => model.has(m))).size, label);
      for (const m of gone) model.delete(m);
    } else if (op < 56) {
      const a = pick(n + 4) - 2, b = a + pick(12);
      const reply = c.call("ZREMRANGEBYRANK", key, a, b);
      const start = a < 0 ? Math.max(0, n + a) : a;
      const end = Math.min(n - 1, b < 0 ? n + b : b);
      const gone = start <= end ? list.slice(start, end + 1) : [];
      assertEquals(reply, gone.length, label);
      for (const [m] of gone) model.delete(m);
    } else if (op < 59) {
      const low = pick(40), high = low + pick(6);
      const reply = c.call("ZREMRANGEBYSCORE", key, low, `(${high}`);
      const gone = list.filter(([, s]) => s >= low && s < high);
      assertEquals(reply, gone.length, label);
      for (const [m] of gone) model.delete(m);
    } else if (op < 62) {
      const count = 1 + pick(12);
      const max = pick(2) === 0;
      const reply = c.call(max ? "ZPOPMAX" : "ZPOPMIN", key, count) as string[];
      const gone = (max ? [...list].reverse() : list).slice(0, count);
      assertEquals(reply.filter((_, i) => i % 2 === 0), gone.map(([m]) => m), label);
      for (const [m] of gone) model.delete(m);
    } else if (op < 65) {
      // ZRANGESTORE into itself (the scratch path) or into another key.
      const dest = keys[pick(keys.length)];
      const a = pick(n + 2), b = a + pick(40);
      c.call("ZRANGESTORE", dest, key, a, b);
      const kept = new Map(list.slice(a, b + 1));
      models.set(dest, kept);
    } else if (op < 67) {
      const other = keys.filter((k) => k !== key)[pick(2)];
      c.call("ZUNIONSTORE", key, 2, key, other);
      for (const [m, s] of models.get(other)!) model.set(m, (model.get(m) ?? 0) + s);
      for (const [m, s] of model) if (Number.isNaN(s)) model.set(m, 0); // inf + -inf: Redis stores 0
    } else if (op < 68) {
      const other = keys.filter((k) => k !== key)[pick(2)];
      c.call("COPY", key, other, "REPLACE");
      models.set(other, new Map(model));
    } else if (op < 69) {
      c.call("DEL", key);
      model.clear();
    } else {
      // Reads: ZRANK / ZREVRANK of a member, ZRANGE by rank (plain and REV), ZREMRANGEBYRANK counted above.
      const m = n > 0 && pick(4) > 0 ? list[pick(n)][0] : member();
      const rank = list.findIndex(([x]) => x === m);
      assertEquals(c.call("ZRANK", key, m), rank < 0 ? null : rank, `${label} ZRANK ${key} ${m}`);
      assertEquals(c.call("ZREVRANK", key, m), rank < 0 ? null : n - 1 - rank, `${label} ZREVRANK`);
      const a = pick(n + 2), b = a + pick(15);
      assertEquals(c.call("ZRANGE", key, a, b), list.slice(a, b + 1).map(([x]) => x), `${label} ZRANGE ${a} ${b}`);
      const reversed = [...list].reverse();
      assertEquals(c.call("ZRANGE", key, a, b, "REV"), reversed.slice(a, b + 1).map(([x]) => x), `${label} ZRANGE REV`);
      // ZCOUNT subtracts two ranks on sets larger than a couple of blocks.
      const low = pick(40), high = low + pick(20);
      assertEquals(c.call("ZCOUNT", key, low, `(${high}`), list.filter(([, s]) => s >= low && s < high).length, `${label} ZCOUNT ${low} (${high}`);
      assertEquals(c.call("ZCOUNT", key, "-inf", "+inf"), n, `${label} ZCOUNT all`);
      // Negative indexes count from the end, as Redis sanitises them.
      const from = -1 - pick(n + 2), to = from + pick(6);
      const first = Math.max(0, n + from), last = Math.min(n - 1, to < 0 ? n + to : to);
      assertEquals(c.call("ZRANGE", key, from, to), first <= last ? list.slice(first, last + 1).map(([x]) => x) : [], `${label} ZRANGE ${from} ${to}`);
    }
    // Every model entry is where the server has it (scores included), checked in full now and then.
    if (step % 50 === 0 || op < 69) {
      const reply = (c.call("ZRANGE", key, 0, -1, "WITHSCORES") as string[]).map((x, i) => (i % 2 ? Number(x.replace("inf", "Infinity")) : x));
      assertEquals(reply, ordered(models.get(key)!).flat(), `${label}: contents of ${key}`);
    }
    checkBlocks(sql, label);
  }
}));

Deno.test("counted blocks: a node from before the blocks builds them on upgrade and splits them on the next insert", () => {
  const dir = Deno.makeTempDirSync({ prefix: "tidekv-zset-upgrade-" });
  const path = `${dir}/node.sqlite`;
  const sql = openSql(path, "normal");
  const host = new DenoHost({ nodeName: "upgrade" });
  try {
    const c = new FakeClient(new Node(sql, host));
    const pairs = Array.from({ length: 40 }, (_, i) => [String(i % 5), `m${String(i).padStart(2, "0")}`]).flat();
    c.call("ZADD", "z", ...pairs);
    c.call("ZADD", "small", 1, "a");
    // The schema as it was before zset_blocks.
    sql.run(`DROP TABLE zset_blocks`);
    sql.run(`DROP TABLE zset_groups`);
    sql.run(`UPDATE schema_version SET version = 1`);

    setBlockSizes(BLOCK, GROUP);
    const upgraded = new FakeClient(new Node(sql, host));
    const blocks = () => Number(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM zset_blocks`)!.n);
    assertEquals(blocks(), 2); // one per sorted set
    const expected = pairs.reduce<[string, number][]>((out, x, i) => (i % 2 ? [...out, [x, Number(pairs[i - 1])]] : out), []);
    const order = expected.sort(([ma, sa], [mb, sb]) => sa - sb || (ma < mb ? -1 : 1)).map(([m]) => m);
    assertEquals(upgraded.call("ZRANK", "z", order[17]), 17);
    assertEquals(upgraded.call("ZRANGE", "z", 20, 22), order.slice(20, 23));
    upgraded.call("ZADD", "z", 9, "last");
    ok(blocks() > 5, "the oversized block was split");
    checkBlocks(sql, "after the upgrade");
    assertEquals(upgraded.call("ZRANK", "z", "last"), 40);
    assertEquals(upgraded.call("ZRANGE", "z", 20, 22), order.slice(20, 23));
  } finally {
    setBlockSizes();
    host.close();
    sql.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

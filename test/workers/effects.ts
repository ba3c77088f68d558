/**
 * Capturing a node's replication effects in workers tests.
 *
 *   const name = uniqueNode();
 *   const c = await NodeClient.node(name);         // creates the node
 *   const fx = await captureEffects(name);
 *   await c.call("SET", "k", "v", "EX", "10");
 *   expect(fx.take()).toEqual([["SET", "k", "v", "PXAT", expect.any(String)]]);
 *
 * Effects are what a replica applies (DESIGN.md invariant 4); `replay` sends
 * captured effects to another node as ordinary commands, the way a replica
 * link does, so a test can check that they rebuild the same data.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { Effect, Server } from "../../shared/engine/server.ts";
import type { Keyspace } from "../../shared/engine/keyspace.ts";
import { NodeClient, plain } from "./support.ts";

const decoder = new TextDecoder();

export interface EffectCapture {
  /** Every effect fed so far (MULTI/EXEC wrappers included), oldest first. */
  readonly effects: Effect[];
  /** The effects captured since the last take(), as UTF-8 strings, and forgets them. */
  take(): string[][];
  /** The effects captured since the last take(), as bytes, and forgets them. */
  takeRaw(): Effect[];
}

function stubFor(name: string) {
  return (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
}

/**
 * Installs an effect sink on node `name` (which must have been created, e.g.
 * by connecting a NodeClient to it). Replaces any sink the node had.
 */
export async function captureEffects(name: string): Promise<EffectCapture> {
  const effects: Effect[] = [];
  let taken = 0;
  await runInDurableObject(stubFor(name), (instance: unknown) => {
    const node = (instance as { node: { server: { effectSink: unknown } } | null }).node;
    if (!node) throw new Error(`node ${name} is not started yet: connect a client to it first`);
    node.server.effectSink = {
      feed(batch: readonly Effect[]) {
        for (const effect of batch) effects.push({ db: effect.db, argv: effect.argv.map((a) => a.slice()) });
      },
    };
  });
  const takeRaw = () => {
    const out = effects.slice(taken);
    taken = effects.length;
    return out;
  };
  return {
    effects,
    takeRaw,
    take: () => takeRaw().map((e) => e.argv.map((a) => decoder.decode(a))),
  };
}

/**
 * Runs `fn` synchronously inside node `name` with its Server: nothing else
 * (no client message, no alarm) runs in between, so a test can set up a state
 * and run a command on it with `server.execute(client, argv)` atomically.
 */
export async function withServer<T>(name: string, fn: (server: Server) => T): Promise<T> {
  return runInDurableObject(stubFor(name), (instance: unknown) => {
    const node = (instance as { node: { server: Server } | null }).node;
    if (!node) throw new Error(`node ${name} is not started yet: connect a client to it first`);
    return fn(node.server);
  });
}

/** Runs `fn` with node `name`'s Keyspace (for reading TTLs and values directly). */
export function withKeyspace<T>(name: string, fn: (keys: Keyspace) => T): Promise<T> {
  return withServer(name, (server) => fn(server.keyspace));
}

/**
 * Sends effects to node `name` as commands, selecting each effect's db first
 * when it changes, as a replica applies its master's stream. Throws on any
 * error reply.
 */
export async function replay(name: string, effects: readonly Effect[]): Promise<void> {
  const client = await NodeClient.node(name);
  try {
    let db = 0;
    for (const effect of effects) {
      if (effect.db !== db) {
        const selected = await client.call("SELECT", String(effect.db));
        if (selected.type === "error") throw new Error(`replay: SELECT ${effect.db}: ${selected.value}`);
        db = effect.db;
      }
      const reply = await client.call(...effect.argv);
      if (reply.type === "error") {
        throw new Error(`replay: ${effect.argv.map((a) => decoder.decode(a)).join(" ")}: ${JSON.stringify(plain(reply))}`);
      }
    }
  } finally {
    client.close();
  }
}

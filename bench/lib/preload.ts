import type { LoadConnection } from "./connection.ts";
import { frameOf } from "./data.ts";

/**
 * Sends batches of encoded commands, one write per batch, each awaited before
 * the next; throws on the first error reply. `onProgress` gets the number of
 * keys written so far (for the progress bar). Returns the number of commands.
 */
export async function preload(
  conn: LoadConnection,
  batches: Iterable<Uint8Array[]>,
  onProgress?: (keysDone: number) => void,
): Promise<number> {
  let commands = 0;
  let keys = 0;
  for (const batch of batches) {
    const replies = await conn.request(frameOf(batch), batch.length);
    for (const r of replies) if (r.type === "error") throw new Error(`preload failed: ${r.value}`);
    commands += batch.length;
    for (const c of batch) keys += keysIn(c);
    onProgress?.(keys);
  }
  return commands;
}

/** Key/value pairs in an encoded MSET (`*N\r\n...`: (N - 1) / 2), or 1 for any other command. */
function keysIn(encoded: Uint8Array): number {
  let n = 0;
  for (let i = 1; encoded[i] !== 13; i++) n = n * 10 + encoded[i] - 48;
  return n > 1 ? Math.max(1, Math.floor((n - 1) / 2)) : 1;
}

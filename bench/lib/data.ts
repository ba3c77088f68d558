/** Deterministic keys, values and randomness for the workloads. */
import { encodeCommand } from "../../shared/resp/index.ts";

/** xorshift32: fast, seeded, good enough to pick keys. Returns a function giving floats in [0, 1). */
export function rng(seed: number): () => number {
  let x = (seed | 0) || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `size` printable random bytes. */
export function randomValue(size: number, random: () => number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = ALPHABET.charCodeAt(Math.floor(random() * ALPHABET.length));
  return out;
}

export function keyName(prefix: string, i: number): string {
  return `${prefix}:${String(i).padStart(6, "0")}`;
}

/** Concatenates encoded commands into one frame. */
export function frameOf(commands: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const c of commands) len += c.length;
  const out = new Uint8Array(len);
  let at = 0;
  for (const c of commands) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Batches of encoded MSET commands writing `count` keys `prefix:NNNNNN` with
 * `valueSize`-byte random values: `keysPerCommand` keys per MSET,
 * `commandsPerBatch` MSETs per batch (one write).
 */
export function* msetBatches(
  prefix: string,
  count: number,
  valueSize: number,
  seed: number,
  keysPerCommand = 500,
  commandsPerBatch = 4,
): Generator<Uint8Array[]> {
  const random = rng(seed);
  let batch: Uint8Array[] = [];
  for (let first = 0; first < count; first += keysPerCommand) {
    const argv: (string | Uint8Array)[] = ["MSET"];
    for (let i = first; i < Math.min(count, first + keysPerCommand); i++) argv.push(keyName(prefix, i), randomValue(valueSize, random));
    batch.push(encodeCommand(argv));
    if (batch.length === commandsPerBatch) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

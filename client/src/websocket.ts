/**
 * The WebSocket the client uses: the platform's global `WebSocket` (browsers,
 * Deno, workerd, Node 22+), or the `ws` package on Node 20, imported lazily
 * and by a computed name so bundlers for browsers and workerd never pull it in.
 */
import { concat } from "../../shared/util/bytes.ts";

/** The part of the WHATWG WebSocket API the client needs (the `ws` package has it too). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const OPEN = 1;

let cached: Promise<WebSocketConstructor> | null = null;

/** The WebSocket constructor for this runtime. */
export function webSocketConstructor(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof global === "function") return Promise.resolve(global);
  cached ??= (async () => {
    const name = "ws";
    try {
      const mod = await import(/* @vite-ignore */ name);
      return (mod.WebSocket ?? mod.default) as WebSocketConstructor;
    } catch (e) {
      cached = null;
      throw new Error(`no global WebSocket in this runtime and the "ws" package could not be loaded: ${String(e)}`);
    }
  })();
  return cached;
}

/** The bytes of a message event's data (ArrayBuffer, a view such as a Node Buffer, or text). */
export function messageBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (Array.isArray(data)) {
    // ws with binaryType "fragments"
    return concat(data.map((d) => messageBytes(d) ?? new Uint8Array(0)));
  }
  return undefined;
}

/** What an error or close event says, as one line. */
export function eventReason(event: any): string {
  if (!event) return "unknown error";
  const err = event.error;
  if (err instanceof Error && err.message) return err.message;
  if (typeof event.message === "string" && event.message) return event.message;
  if (typeof event.code === "number") {
    const reason = typeof event.reason === "string" && event.reason ? `: ${event.reason}` : "";
    return `closed with code ${event.code}${reason}`;
  }
  return "WebSocket error";
}

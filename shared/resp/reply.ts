/**
 * The reply model: what a command returns, before it is encoded for a client's
 * protocol (RESP2 or RESP3). RESP2 and RESP3 differ in how nulls, maps, sets,
 * doubles and booleans travel, so handlers build these values and the encoder
 * chooses the wire form (see encode.ts).
 *
 * The same model is what the reply parser produces when a client or a replica
 * link decodes a server's bytes, so `decode(encode(x)) == x` is well defined
 * for RESP3.
 */
export type Reply =
  | SimpleReply
  | ErrorReply
  | IntegerReply
  | BulkReply
  | NullReply
  | NullArrayReply
  | ArrayReply
  | MapReply
  | SetReply
  | DoubleReply
  | BooleanReply
  | BigNumberReply
  | VerbatimReply
  | PushReply;

export interface SimpleReply { readonly type: "simple"; readonly value: string }
/** `value` is the whole error line without the leading '-', e.g. "ERR syntax error". */
export interface ErrorReply { readonly type: "error"; readonly value: string }
export interface IntegerReply { readonly type: "integer"; readonly value: number | bigint }
export interface BulkReply { readonly type: "bulk"; readonly value: Uint8Array }
/** Null bulk string: `$-1` in RESP2, `_` in RESP3. */
export interface NullReply { readonly type: "null" }
/** Null array: `*-1` in RESP2 (EXEC aborted by WATCH, BLPOP timeout), `_` in RESP3. */
export interface NullArrayReply { readonly type: "nullarray" }
export interface ArrayReply { readonly type: "array"; readonly value: readonly Reply[] }
/** RESP3 map; flattened to an array of 2N elements in RESP2. */
export interface MapReply { readonly type: "map"; readonly value: readonly (readonly [Reply, Reply])[] }
/** RESP3 set; an array in RESP2. */
export interface SetReply { readonly type: "set"; readonly value: readonly Reply[] }
/** RESP3 double; a bulk string in RESP2, formatted as Redis formats doubles. */
export interface DoubleReply { readonly type: "double"; readonly value: number }
/** RESP3 boolean; integer 1/0 in RESP2. */
export interface BooleanReply { readonly type: "boolean"; readonly value: boolean }
/** RESP3 big number (decimal digits, optional leading '-'); a bulk string in RESP2. */
export interface BigNumberReply { readonly type: "bignum"; readonly value: string }
/** RESP3 verbatim string with a three-letter format ("txt", "mkd"); a bulk string in RESP2. */
export interface VerbatimReply { readonly type: "verbatim"; readonly format: string; readonly value: Uint8Array }
/** RESP3 out-of-band push (pub/sub, invalidation); an array in RESP2. */
export interface PushReply { readonly type: "push"; readonly value: readonly Reply[] }

const textEncoder = new TextEncoder();

export const OK: SimpleReply = Object.freeze({ type: "simple", value: "OK" });
export const QUEUED: SimpleReply = Object.freeze({ type: "simple", value: "QUEUED" });
export const PONG: SimpleReply = Object.freeze({ type: "simple", value: "PONG" });
export const NULL: NullReply = Object.freeze({ type: "null" });
export const NULL_ARRAY: NullArrayReply = Object.freeze({ type: "nullarray" });
export const EMPTY_ARRAY: ArrayReply = Object.freeze({ type: "array", value: Object.freeze([]) as readonly Reply[] });
export const ZERO: IntegerReply = Object.freeze({ type: "integer", value: 0 });
export const ONE: IntegerReply = Object.freeze({ type: "integer", value: 1 });

export const simple = (value: string): SimpleReply => ({ type: "simple", value });
export const error = (value: string): ErrorReply => ({ type: "error", value });
export const integer = (value: number | bigint): IntegerReply =>
  value === 0 ? ZERO : value === 1 ? ONE : { type: "integer", value };
export const bulk = (value: Uint8Array | string): BulkReply => ({
  type: "bulk",
  value: typeof value === "string" ? textEncoder.encode(value) : value,
});
export const bulkOrNull = (value: Uint8Array | string | null | undefined): BulkReply | NullReply =>
  value == null ? NULL : bulk(value);
export const array = (value: readonly Reply[]): ArrayReply => ({ type: "array", value });
export const bulkArray = (values: readonly (Uint8Array | string)[]): ArrayReply => array(values.map(bulk));
export const map = (value: readonly (readonly [Reply, Reply])[]): MapReply => ({ type: "map", value });
export const set = (value: readonly Reply[]): SetReply => ({ type: "set", value });
export const double = (value: number): DoubleReply => ({ type: "double", value });
export const boolean = (value: boolean): BooleanReply => ({ type: "boolean", value });
export const bignum = (value: string): BigNumberReply => ({ type: "bignum", value });
export const verbatim = (value: Uint8Array | string, format = "txt"): VerbatimReply => ({
  type: "verbatim",
  format,
  value: typeof value === "string" ? textEncoder.encode(value) : value,
});
export const push = (value: readonly Reply[]): PushReply => ({ type: "push", value });

export const isError = (reply: Reply): reply is ErrorReply => reply.type === "error";

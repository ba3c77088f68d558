/**
 * Argument parsing for sorted-set commands, with Redis 7.0's grammars and
 * error texts (t_zset.c zslParseRange / zslParseLexRange, object.c
 * getLongFromObjectOrReply and friends, timeout.c getTimeoutFromObjectOrReply).
 */
import { CommandError, Errors, fail } from "../../engine/errors.ts";
import { compareBytes, latin1 } from "../../util/bytes.ts";
import { parseDouble, parseInt64, parseLongDouble } from "../../util/numbers.ts";
import { cond, type Cond } from "./store.ts";

export const ERR_MIN_MAX_NOT_FLOAT = "ERR min or max is not a float";
export const ERR_LEX_RANGE = "ERR min or max not valid string range item";
export const ERR_TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range";
export const ERR_TIMEOUT_NEGATIVE = "ERR timeout is negative";

const LONG_MAX = 2n ** 63n - 1n;

/**
 * Redis getLongFromObjectOrReply: a signed 64-bit integer (string2ll), as a
 * number (rounded past 2^53, which no index or count here can tell apart).
 * Throws `message` (or the standard text) when invalid.
 */
export function parseLong(arg: Uint8Array, message: string = Errors.notInteger): number {
  const v = parseInt64(arg);
  if (v === null) fail(message);
  return Number(v);
}

/** getRangeLongFromObjectOrReply: an integer in [min, max], with `message` for both failures when given. */
export function parseRangeLong(arg: Uint8Array, min: bigint, max: bigint, message?: string): bigint {
  const v = parseInt64(arg);
  if (v === null) fail(message ?? Errors.notInteger);
  if (v < min || v > max) fail(message ?? `ERR value is out of range, value must between ${min} and ${max}`);
  return v;
}

/** getPositiveLongFromObjectOrReply: 0..LONG_MAX. */
export function parsePositiveLong(arg: Uint8Array, message = "ERR value is out of range, must be positive"): number {
  return Number(parseRangeLong(arg, 0n, LONG_MAX, message));
}

export { LONG_MAX };

// ---- scores ---------------------------------------------------------------------------

/** getDoubleFromObjectOrReply (string2d): ZADD scores, ZINCRBY increments, WEIGHTS. */
export function parseScore(arg: Uint8Array, message: string = Errors.notFloat): number {
  const v = parseDouble(arg);
  if (v === null) fail(message);
  return v;
}

const SPACE = /^[ \t\n\v\f\r]*/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY = /^[+-]?inf(?:inity)?$/i;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;

/**
 * A score range bound as zslParseRange reads it: plain C strtod over the
 * C string (up to a NUL byte), which must consume everything, and no NaN.
 * Unlike ZADD's parser it skips leading whitespace, takes the empty string
 * as 0, and lets out-of-range literals become ±inf or 0.
 */
export function strtodBound(arg: Uint8Array): number | null {
  let end = arg.indexOf(0);
  if (end < 0) end = arg.length;
  const s = latin1(arg.subarray(0, end));
  if (s === "") return 0; // nothing converted, and the end pointer is at the NUL
  const body = s.slice(SPACE.exec(s)![0].length);
  if (body === "") return null;
  if (DECIMAL.test(body)) return Number(body);
  if (INFINITY.test(body)) return body.charCodeAt(0) === 45 ? -Infinity : Infinity;
  const parsed = parseDouble(body);
  if (parsed !== null) return parsed;
  const hex = HEX.exec(body);
  if (hex === null) return null;
  const [, sign, int = "", frac = "", exp = "0"] = hex;
  if (int.length + frac.length === 0) return null;
  // A hex literal parseDouble refused as out of range: strtod overflows to inf or underflows to 0.
  const magnitude = Number(BigInt("0x" + int + frac)) * 2 ** (Math.max(-1e4, Math.min(1e4, Number(exp))) - 4 * frac.length);
  return sign === "-" ? -magnitude : magnitude;
}

export interface ScoreRange {
  readonly min: number;
  readonly max: number;
  readonly minex: boolean;
  readonly maxex: boolean;
}

function scoreBound(arg: Uint8Array): [number, boolean] | null {
  const exclusive = arg.length > 0 && arg[0] === 0x28; // '('
  const v = strtodBound(exclusive ? arg.subarray(1) : arg);
  return v === null || Number.isNaN(v) ? null : [v, exclusive];
}

/** zslParseRange, or ERR min or max is not a float. */
export function parseScoreRange(minArg: Uint8Array, maxArg: Uint8Array): ScoreRange {
  const min = scoreBound(minArg);
  const max = scoreBound(maxArg);
  if (min === null || max === null) fail(ERR_MIN_MAX_NOT_FLOAT);
  return { min: min[0], minex: min[1], max: max[0], maxex: max[1] };
}

export function scoreConds(range: ScoreRange): Cond[] {
  return [
    cond(range.minex ? "score > ?" : "score >= ?", range.min),
    cond(range.maxex ? "score < ?" : "score <= ?", range.max),
  ];
}

// ---- lex ranges -------------------------------------------------------------------------

/** "-" (below every string), "+" (above every string), or a string with "[" or "(". */
export interface LexBound {
  readonly kind: "min" | "max" | "value";
  readonly value: Uint8Array;
  readonly exclusive: boolean;
}

export interface LexRange {
  readonly min: LexBound;
  readonly max: LexBound;
}

const EMPTY = new Uint8Array(0);

/** zslParseLexRangeItem (the item is a C string for "+" and "-": "+\0x" counts as "+"). */
function lexBound(arg: Uint8Array): LexBound | null {
  switch (arg[0]) {
    case 0x2b: // '+'
      return arg.length > 1 && arg[1] !== 0 ? null : { kind: "max", value: EMPTY, exclusive: true };
    case 0x2d: // '-'
      return arg.length > 1 && arg[1] !== 0 ? null : { kind: "min", value: EMPTY, exclusive: true };
    case 0x28: // '('
      return { kind: "value", value: arg.subarray(1), exclusive: true };
    case 0x5b: // '['
      return { kind: "value", value: arg.subarray(1), exclusive: false };
    default:
      return null;
  }
}

/** zslParseLexRange, or ERR min or max not valid string range item. */
export function parseLexRange(minArg: Uint8Array, maxArg: Uint8Array): LexRange {
  const min = lexBound(minArg);
  const max = lexBound(maxArg);
  if (min === null || max === null) fail(ERR_LEX_RANGE);
  return { min, max };
}

/** sdscmplex: "-" and "+" as the smallest and largest strings. */
function compareLex(a: LexBound | Uint8Array, b: LexBound | Uint8Array): number {
  const ka = a instanceof Uint8Array ? "value" : a.kind;
  const kb = b instanceof Uint8Array ? "value" : b.kind;
  if (ka !== "value" && ka === kb) return 0;
  if (ka === "min" || kb === "max") return -1;
  if (ka === "max" || kb === "min") return 1;
  const va = a instanceof Uint8Array ? a : a.value;
  const vb = b instanceof Uint8Array ? b : b.value;
  return compareBytes(va, vb);
}

export function lexGteMin(value: Uint8Array, range: LexRange): boolean {
  const c = compareLex(value, range.min);
  return range.min.exclusive ? c > 0 : c >= 0;
}

export function lexLteMax(value: Uint8Array, range: LexRange): boolean {
  const c = compareLex(value, range.max);
  return range.max.exclusive ? c < 0 : c <= 0;
}

/** Ranges that can never hold anything (min above max, or equal with an open end). */
export function lexRangeEmpty(range: LexRange): boolean {
  const c = compareLex(range.min, range.max);
  return c > 0 || (c === 0 && (range.min.exclusive || range.max.exclusive));
}

/** SQL for member >= min (none for "-"); only for non-empty ranges. */
export function lexMinConds(range: LexRange): Cond[] {
  const { min } = range;
  return min.kind === "value" ? [cond(min.exclusive ? "member > ?" : "member >= ?", min.value)] : [];
}

/** SQL for member <= max (none for "+"); only for non-empty ranges. */
export function lexMaxConds(range: LexRange): Cond[] {
  const { max } = range;
  return max.kind === "value" ? [cond(max.exclusive ? "member < ?" : "member <= ?", max.value)] : [];
}

// ---- blocking timeouts --------------------------------------------------------------------

/**
 * getTimeoutFromObjectOrReply in seconds: a long double (strtold grammar),
 * times 1000, rounded up, converted to long long. Returns milliseconds
 * (0 = forever). A value whose milliseconds overflow a long long converts to
 * LLONG_MIN on x86-64, so Redis calls it negative ("inf" included).
 */
const MAX_TIMEOUT_MS = 2 ** 52;

export function parseTimeoutMs(arg: Uint8Array): number {
  const value = parseLongDouble(arg);
  if (value === null) throw new CommandError(ERR_TIMEOUT_NOT_FLOAT);
  let ms: number;
  if (value.kind === "infinite") {
    ms = -Infinity;
  } else if (value.kind === "nan") {
    throw new CommandError(ERR_TIMEOUT_NOT_FLOAT);
  } else {
    const magnitude = Number(value.mantissa) * 2 ** value.exponent;
    const seconds = value.negative ? -magnitude : magnitude;
    if (seconds === 0 && value.mantissa !== 0n) ms = value.negative ? 0 : 1; // a tiny value rounds up to 1 ms, or to -0
    else ms = Math.ceil(seconds * 1000);
  }
  if (!Number.isFinite(ms) || ms >= 2 ** 63 || ms < -(2 ** 63)) ms = -1; // (long long) overflow: LLONG_MIN
  if (ms < 0) throw new CommandError(ERR_TIMEOUT_NEGATIVE);
  // Beyond any date a timer can be set for (~285,000 years): the same as waiting forever.
  if (ms > MAX_TIMEOUT_MS) return 0;
  return ms === 0 ? 0 : ms;
}

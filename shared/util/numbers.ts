/**
 * Number parsing and formatting with Redis 7.0's exact rules (util.c:
 * string2ll, string2d, string2ld, ld2string; networking.c: addReplyDouble).
 *
 * Which integer parser to use:
 * - parseInt64(b): bigint | null — the exact value, whole signed 64-bit range.
 *   For arithmetic whose result is stored or replied (INCRBY, DECRBY, HINCRBY).
 * - parseSafeInteger(b): number | null — the same grammar, but null also when
 *   the value is beyond ±(2^53-1). For counts, TTLs and options where a value
 *   that large is an error anyway.
 * - parseInt64Approx(b): number | null — any valid int64 as a (possibly
 *   rounded) number. For indices and bounds Redis takes in the full int64 range
 *   (`LRANGE k 0 9223372036854775807`) where precision beyond 2^53 cannot matter.
 *
 * Doubles: parseDouble (string2d, for ZADD/ZINCRBY/score ranges) and
 * formatDouble (%.17g, for double replies). INCRBYFLOAT and HINCRBYFLOAT compute
 * in x87 80-bit long double on Redis; see the LongDouble section at the bottom,
 * which emulates that arithmetic exactly.
 */
import { latin1 } from "./bytes.ts";

type Input = Uint8Array | string;

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const MINUS = 45;

const codeAt = (b: Input, i: number): number => (typeof b === "string" ? b.charCodeAt(i) : b[i]);

/**
 * string2ll: optional '-', then "0" alone or a digit 1-9 followed by digits;
 * no '+', no spaces, no leading zeros, "-0" rejected, fewer than 21 chars, and
 * inside int64. Returns a number when |v| <= 2^53-1, else a bigint.
 */
function scanInt64(b: Input): number | bigint | null {
  const len = b.length;
  if (len === 0 || len >= 21) return null;
  const c0 = codeAt(b, 0);
  if (len === 1 && c0 === DIGIT_0) return 0;
  const negative = c0 === MINUS;
  const start = negative ? 1 : 0;
  if (start === len) return null;
  const first = codeAt(b, start);
  if (first <= DIGIT_0 || first > DIGIT_9) return null;
  for (let i = start + 1; i < len; i++) {
    const c = codeAt(b, i);
    if (c < DIGIT_0 || c > DIGIT_9) return null;
  }
  const digits = len - start;
  if (digits <= 15) {
    // At most 15 digits: exact in a double.
    let v = 0;
    for (let i = start; i < len; i++) v = v * 10 + (codeAt(b, i) - DIGIT_0);
    return negative ? -v : v;
  }
  let big = 0n;
  for (let i = start; i < len; i++) big = big * 10n + BigInt(codeAt(b, i) - DIGIT_0);
  if (negative) big = -big;
  if (big < MIN_INT64 || big > MAX_INT64) return null;
  return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
}

/** Redis string2ll, exact, as a bigint; null when not a valid int64. */
export function parseInt64(b: Input): bigint | null {
  const v = scanInt64(b);
  return v === null ? null : BigInt(v);
}

/** Redis string2ll restricted to the JS safe-integer range; null otherwise. */
export function parseSafeInteger(b: Input): number | null {
  const v = scanInt64(b);
  return typeof v === "number" ? v : null;
}

/** Redis string2ll as a JS number, rounded beyond 2^53 (see the header comment). */
export function parseInt64Approx(b: Input): number | null {
  const v = scanInt64(b);
  return v === null ? null : Number(v);
}

// strtod's grammars, with nothing before or after: Redis rejects a leading
// space explicitly and a trailing one by checking that strtod consumed it all.
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY = /^[+-]?inf(?:inity)?$/i;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;

/**
 * Redis string2d (ZADD, ZINCRBY, ZRANGEBYSCORE bounds...): whatever glibc strtod
 * accepts in full, including hex floats ("0x1p3" is 8 on Redis 7.0), "inf" and
 * "infinity" in any case, with sign. Rejects NaN, empty input, surrounding
 * whitespace, and out-of-range literals (strtod's ERANGE: overflow to ±inf or
 * underflow to zero; a subnormal result is accepted, as on Redis).
 */
export function parseDouble(b: Input): number | null {
  const s = typeof b === "string" ? b : latin1(b);
  if (DECIMAL.test(s)) {
    const v = Number(s);
    if (!Number.isFinite(v)) return null;
    if (v === 0 && /[1-9]/.test(mantissaPart(s))) return null;
    return v;
  }
  if (INFINITY.test(s)) return s.charCodeAt(0) === MINUS ? -Infinity : Infinity;
  const hex = parseHex(s);
  if (hex === null) return null;
  const [negative, m, e] = hex;
  const [rm, re] = roundBinary(m, e, 53, -1074);
  const v = Number(rm) * 2 ** re; // exact: rounding made the result representable
  if (!Number.isFinite(v) || (v === 0 && m !== 0n)) return null;
  return negative ? -v : v;
}

function mantissaPart(s: string): string {
  const e = s.search(/[eE]/);
  return e < 0 ? s : s.slice(0, e);
}

/** A hex float as [negative, integer mantissa, binary exponent], or null. */
function parseHex(s: string): [boolean, bigint, number] | null {
  const match = HEX.exec(s);
  if (match === null) return null;
  const [, sign, int = "", frac = "", exp] = match;
  if (int.length + frac.length === 0) return null;
  const m = BigInt("0x" + int + frac);
  return [sign === "-", m, clampExponent(exp ?? "0") - 4 * frac.length];
}

/** Decimal exponent text as a number, saturated far past any finite range. */
function clampExponent(text: string): number {
  const v = Number(text);
  return Math.max(-1e9, Math.min(1e9, v));
}

const bitLength = (m: bigint): number => (m === 0n ? 0 : m.toString(2).length);

/**
 * Rounds m * 2^e (m >= 0) to `precision` significant bits, round-half-even,
 * never below a unit of 2^minExp (the subnormal step), as IEEE arithmetic does.
 * Returns [m', e'] with m' * 2^e' the rounded value (m' may reach 2^precision).
 */
function roundBinary(m: bigint, e: number, precision: number, minExp: number): [bigint, number] {
  if (m === 0n) return [0n, 0];
  const drop = Math.max(bitLength(m) - precision, minExp - e);
  if (drop <= 0) return [m, e];
  return [shiftRoundHalfEven(m, drop), e + drop];
}

/** round-half-even(m / 2^bits) for m >= 0. */
function shiftRoundHalfEven(m: bigint, bits: number): bigint {
  const n = BigInt(bits);
  const q = m >> n;
  const rem = m - (q << n);
  const half = 1n << (n - 1n);
  return rem > half || (rem === half && (q & 1n) === 1n) ? q + 1n : q;
}

/** round-half-even(m * 2^e * 10^p) for m >= 0: the exact scaled value, rounded as printf does. */
function scaleRound(m: bigint, e: number, p: number): bigint {
  let num = m;
  let den = 1n;
  if (p >= 0) num *= 10n ** BigInt(p);
  else den = 10n ** BigInt(-p);
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  const q = num / den;
  const twice = (num - q * den) * 2n;
  return twice > den || (twice === den && (q & 1n) === 1n) ? q + 1n : q;
}

const view = new DataView(new ArrayBuffer(8));

/** A finite double as [negative, m, e] with |d| = m * 2^e exactly. */
function decompose(d: number): [boolean, bigint, number] {
  view.setFloat64(0, d);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const negative = hi >>> 31 === 1;
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (hi & 0xfffff) * 4294967296 + lo;
  if (biased === 0) return [negative, BigInt(fraction), -1074];
  return [negative, BigInt(fraction + 4503599627370496), biased - 1075];
}

/**
 * C's printf("%.17g", d), as Redis 7.0's addReplyDouble writes doubles:
 * 1.1 -> "1.1000000000000001", 3 -> "3", 1e20 -> "1e+20", -0 -> "-0",
 * and "inf", "-inf", "nan".
 */
export function formatDouble(d: number): string {
  if (d !== d) return "nan";
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  const negative = d < 0;
  const [digits, exp] = significantDigits17(negative ? -d : d);
  let out: string;
  if (exp < -4 || exp >= 17) {
    const frac = stripZeros(digits.slice(1));
    const mag = Math.abs(exp);
    out = `${digits[0]}${frac ? "." + frac : ""}e${exp < 0 ? "-" : "+"}${mag < 10 ? "0" : ""}${mag}`;
  } else if (exp >= 0) {
    const frac = stripZeros(digits.slice(exp + 1));
    out = digits.slice(0, exp + 1) + (frac ? "." + frac : "");
  } else {
    out = "0." + stripZeros("0".repeat(-exp - 1) + digits);
  }
  return negative ? "-" + out : out;
}

const stripZeros = (s: string): string => s.replace(/0+$/, "");

/**
 * The 17 significant digits of a > 0 and its decimal exponent, rounded from
 * the exact binary value half-to-even as glibc does. toExponential is exact
 * except at a tie, where it rounds up; a 26-digit probe spots values at or
 * near a tie, and those few take the exact BigInt path.
 */
function significantDigits17(a: number): [string, number] {
  const probe = a.toExponential(25);
  if (probe[18] !== "5" || !/^0{8}e/.test(probe.slice(19))) {
    const s = a.toExponential(16);
    return [s[0] + s.slice(2, 18), Number(s.slice(19))];
  }
  const [, m, e] = decompose(a);
  let exp = Number(probe.slice(28));
  for (;;) {
    const q = scaleRound(m, e, 16 - exp);
    const digits = q.toString();
    if (digits.length === 17) return [digits, exp];
    exp += digits.length > 17 ? 1 : -1;
  }
}

// ---------------------------------------------------------------------------
// x87 80-bit long double, for INCRBYFLOAT and HINCRBYFLOAT.
//
// Redis parses both operands with strtold, adds them in long double (64-bit
// significand, exponent up to 16383, subnormals down to 2^-16445) and prints
// the sum with "%.17Lf", trailing zeros and '.' removed. That is why
// `SET k 0.1` + `INCRBYFLOAT k 0.2` gives "0.3" on Redis where doubles give
// 0.30000000000000004, and why `INCRBYFLOAT k 1e400` succeeds. Here the same
// three steps are done exactly with BigInt, so results match an x86-64 Redis
// byte for byte. (Redis on arm64 uses 128-bit long double and can differ.)

/** An x87 extended-precision value held exactly: |v| = mantissa * 2^exponent. */
export type LongDouble =
  | { readonly kind: "finite"; readonly negative: boolean; readonly mantissa: bigint; readonly exponent: number }
  | { readonly kind: "infinite"; readonly negative: boolean }
  | { readonly kind: "nan" };

const LD_PRECISION = 64;
const LD_MIN_EXP = -16445; // smallest subnormal is 2^-16445
const LD_MAX_EXP = 16383; // largest finite value is just below 2^16384
const MAX_LONG_DOUBLE_CHARS = 5 * 1024;

function finiteLongDouble(negative: boolean, m: bigint, e: number): LongDouble {
  const [rm, re] = roundBinary(m, e, LD_PRECISION, LD_MIN_EXP);
  if (rm !== 0n && bitLength(rm) + re - 1 > LD_MAX_EXP) return { kind: "infinite", negative };
  return { kind: "finite", negative, mantissa: rm, exponent: rm === 0n ? 0 : re };
}

/**
 * Redis string2ld: strtold's grammar in full (decimal, hex, inf/infinity),
 * shorter than 5120 bytes, no NaN, no ERANGE (overflow past ~1.19e4932 or a
 * nonzero literal rounding to zero). Null when invalid.
 */
export function parseLongDouble(b: Input): LongDouble | null {
  if (b.length === 0 || b.length >= MAX_LONG_DOUBLE_CHARS) return null;
  const s = typeof b === "string" ? b : latin1(b);
  if (INFINITY.test(s)) return { kind: "infinite", negative: s.charCodeAt(0) === MINUS };
  if (DECIMAL.test(s)) return decimalToLongDouble(s);
  const hex = parseHex(s);
  return hex === null ? null : inRange(finiteLongDouble(hex[0], hex[1], hex[2]), hex[1]);
}

/** strtold's ERANGE: a literal that overflowed, or a nonzero one that rounded to zero. */
function inRange(result: LongDouble, exact: bigint): LongDouble | null {
  if (result.kind !== "finite") return null;
  return result.mantissa === 0n && exact !== 0n ? null : result;
}

function decimalToLongDouble(s: string): LongDouble | null {
  const negative = s.charCodeAt(0) === MINUS;
  const e = s.search(/[eE]/);
  const mantissa = (e < 0 ? s : s.slice(0, e)).replace(/^[+-]/, "");
  const dot = mantissa.indexOf(".");
  const digits = (dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1)).replace(/^0+/, "");
  if (digits === "") return { kind: "finite", negative, mantissa: 0n, exponent: 0 };
  const fracDigits = dot < 0 ? 0 : mantissa.length - dot - 1;
  const q = (e < 0 ? 0 : clampExponent(s.slice(e + 1))) - fracDigits; // value = digits * 10^q
  // Settle far-out magnitudes before building huge powers of ten.
  if (digits.length - 1 + q > 4932) return null; // >= 1e4933: overflow
  if (digits.length + q < -4951) return null; // < 1e-4951: rounds to zero
  const n = BigInt(digits);
  if (q >= 0) return inRange(finiteLongDouble(negative, n * 10n ** BigInt(q), 0), n);
  const den = 10n ** BigInt(-q);
  // Enough quotient bits for a 64-bit significand plus guard, and a sticky bit
  // for any remainder so that a near-tie can never look like an exact tie.
  const shift = Math.max(0, LD_PRECISION + 2 + bitLength(den) - bitLength(n));
  const num = n << BigInt(shift);
  const quotient = num / den;
  const sticky = num - quotient * den === 0n ? 0n : 1n;
  return inRange(finiteLongDouble(negative, (quotient << 1n) | sticky, -shift - 1), n);
}

/** A double, exactly (every double is a long double). */
export function longDoubleFromNumber(d: number): LongDouble {
  if (d !== d) return { kind: "nan" };
  if (d === Infinity || d === -Infinity) return { kind: "infinite", negative: d < 0 };
  const [negative, m, e] = decompose(d);
  return finiteLongDouble(negative, m, e);
}

/** a + b rounded to long double, with IEEE rules for infinities, NaN and signed zero. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble {
  if (a.kind === "nan" || b.kind === "nan") return { kind: "nan" };
  if (a.kind === "infinite") return b.kind === "infinite" && b.negative !== a.negative ? { kind: "nan" } : a;
  if (b.kind === "infinite") return b;
  const e = Math.min(a.exponent, b.exponent);
  const ma = a.mantissa << BigInt(a.exponent - e);
  const mb = b.mantissa << BigInt(b.exponent - e);
  const sum = (a.negative ? -ma : ma) + (b.negative ? -mb : mb);
  if (sum === 0n) return { kind: "finite", negative: a.negative && b.negative, mantissa: 0n, exponent: 0 };
  return finiteLongDouble(sum < 0n, sum < 0n ? -sum : sum, e);
}

/** True unless infinite or NaN (INCRBYFLOAT's "increment would produce NaN or Infinity"). */
export function isFiniteLongDouble(x: LongDouble): boolean {
  return x.kind === "finite";
}

/**
 * Redis ld2string(LD_STR_HUMAN): "%.17Lf" of the exact value, trailing zeros
 * and a trailing '.' dropped, "-0" printed as "0"; "inf", "-inf", "nan".
 * A number argument is taken exactly, so pass the LongDouble from
 * addLongDouble to get Redis's INCRBYFLOAT output: formatting a JS double
 * sum would print that double's digits (0.1 + 0.2 -> "0.30000000000000004").
 */
export function formatLongDouble(x: number | LongDouble): string {
  const v = typeof x === "number" ? longDoubleFromNumber(x) : x;
  if (v.kind === "nan") return "nan";
  if (v.kind === "infinite") return v.negative ? "-inf" : "inf";
  const scaled = scaleRound(v.mantissa, v.exponent, 17).toString().padStart(18, "0");
  const frac = stripZeros(scaled.slice(-17));
  const out = (v.negative ? "-" : "") + scaled.slice(0, -17) + (frac ? "." + frac : "");
  return out === "-0" ? "0" : out;
}

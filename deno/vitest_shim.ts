/// <reference lib="deno.ns" />
// deno-lint-ignore-file no-explicit-any
/**
 * The part of vitest's API that the pure `shared/` tests (test/node/resp,
 * test/node/util) use, on Deno.test, so `deno test` runs them unchanged:
 * deno.json maps "vitest" here. It is a small stand-in, not vitest: a test
 * that needs more fails to type-check under `deno test`, it never passes by
 * accident.
 */

const prefix: string[] = [];

export function describe(name: string, fn: () => void): void {
  prefix.push(name);
  try {
    fn();
  } finally {
    prefix.pop();
  }
}

function register(name: string, fn: () => unknown): void {
  Deno.test([...prefix, name].join(" > "), async () => {
    await fn();
  });
}

/** printf-style titles of it.each: %s, %d, %i, %j, %o, %%. */
function title(template: string, args: unknown[]): string {
  let i = 0;
  return template.replace(/%[sdijo%]/g, (spec) => {
    if (spec === "%%") return "%";
    const value = args[i++];
    if (spec === "%j" || spec === "%o") return safeJson(value);
    if (typeof value === "bigint") return `${value}n`;
    return String(value);
  });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

type ItFn = {
  (name: string, fn: () => unknown, timeout?: number): void;
  each: (cases: readonly any[]) => (name: string, fn: (...args: any[]) => unknown) => void;
};

export const it: ItFn = Object.assign((name: string, fn: () => unknown) => register(name, fn), {
  each: (cases: readonly any[]) => (name: string, fn: (...args: any[]) => unknown) => {
    cases.forEach((c, index) => {
      const args = Array.isArray(c) ? c : [c];
      register(`${title(name, args)} [${index}]`, () => fn(...args));
    });
  },
});
export const test = it;

// ---- expect ------------------------------------------------------------------------

/** vitest's toEqual: recursive, Object.is for primitives, undefined properties ignored, no prototype check. */
export function equals(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    return a.every((v, i) => equals(v, b[i]));
  }
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) {
    return a.constructor === b.constructor && equals([...(a as Map<unknown, unknown>)], [...(b as Map<unknown, unknown>)]);
  }
  const keysA = Object.keys(a).filter((k) => (a as any)[k] !== undefined);
  const keysB = Object.keys(b).filter((k) => (b as any)[k] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((k) => Object.prototype.hasOwnProperty.call(b, k) && equals((a as any)[k], (b as any)[k]));
}

function matchesObject(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== "object" || expected === null || Array.isArray(expected) || ArrayBuffer.isView(expected)) {
    return equals(actual, expected);
  }
  if (typeof actual !== "object" || actual === null) return false;
  return Object.keys(expected).every((k) => matchesObject((actual as any)[k], (expected as any)[k]));
}

function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} [${Array.from(value as unknown as ArrayLike<number>).join(", ")}]`;
  return Deno.inspect(value, { depth: 6 });
}

class Expectation {
  constructor(
    private readonly actual: any,
    private readonly message: string | undefined,
    private readonly negated: boolean,
  ) {}

  get not(): Expectation {
    return new Expectation(this.actual, this.message, !this.negated);
  }

  private check(pass: boolean, what: string, expected?: unknown, withExpected = true): void {
    if (pass !== this.negated) return;
    const detail = `expected ${show(this.actual)} ${this.negated ? "not " : ""}${what}${withExpected ? ` ${show(expected)}` : ""}`;
    throw new Error(this.message ? `${this.message}: ${detail}` : detail);
  }

  toBe(expected: unknown): void {
    this.check(Object.is(this.actual, expected), "to be", expected);
  }
  toEqual(expected: unknown): void {
    this.check(equals(this.actual, expected), "to equal", expected);
  }
  toStrictEqual(expected: unknown): void {
    this.check(equals(this.actual, expected), "to strictly equal", expected);
  }
  toMatchObject(expected: unknown): void {
    this.check(matchesObject(this.actual, expected), "to match object", expected);
  }
  toBeNull(): void {
    this.check(this.actual === null, "to be null", undefined, false);
  }
  toBeUndefined(): void {
    this.check(this.actual === undefined, "to be undefined", undefined, false);
  }
  toBeDefined(): void {
    this.check(this.actual !== undefined, "to be defined", undefined, false);
  }
  toBeTruthy(): void {
    this.check(Boolean(this.actual), "to be truthy", undefined, false);
  }
  toBeFalsy(): void {
    this.check(!this.actual, "to be falsy", undefined, false);
  }
  toBeGreaterThan(n: number | bigint): void {
    this.check(this.actual > n, "to be greater than", n);
  }
  toBeGreaterThanOrEqual(n: number | bigint): void {
    this.check(this.actual >= n, "to be greater than or equal to", n);
  }
  toBeLessThan(n: number | bigint): void {
    this.check(this.actual < n, "to be less than", n);
  }
  toBeLessThanOrEqual(n: number | bigint): void {
    this.check(this.actual <= n, "to be less than or equal to", n);
  }
  toBeInstanceOf(type: abstract new (...args: any[]) => unknown): void {
    this.check(this.actual instanceof type, "to be an instance of", type.name);
  }
  toHaveLength(n: number): void {
    this.check(this.actual?.length === n, "to have length", n);
  }
  toContain(item: unknown): void {
    const actual = this.actual;
    const pass = typeof actual === "string" ? actual.includes(String(item)) : Array.from(actual ?? []).some((x) => Object.is(x, item));
    this.check(pass, "to contain", item);
  }
  toMatch(pattern: RegExp | string): void {
    const pass = typeof pattern === "string" ? String(this.actual).includes(pattern) : pattern.test(String(this.actual));
    this.check(pass, "to match", pattern);
  }
  toThrow(expected?: RegExp | string | (new (...args: any[]) => Error)): void {
    let thrown: unknown;
    let threw = false;
    try {
      (this.actual as () => unknown)();
    } catch (e) {
      threw = true;
      thrown = e;
    }
    const message = String((thrown as Error)?.message ?? thrown);
    let pass = threw;
    if (threw && expected !== undefined) {
      if (typeof expected === "string") pass = message.includes(expected);
      else if (expected instanceof RegExp) pass = expected.test(message);
      else pass = thrown instanceof expected;
    }
    if (pass === this.negated) {
      const detail = threw ? `threw ${show(message)}` : "did not throw";
      throw new Error(`${this.message ? `${this.message}: ` : ""}expected the function ${this.negated ? "not " : ""}to throw${expected === undefined ? "" : ` ${show(expected)}`}, it ${detail}`);
    }
  }
}

export function expect(actual: unknown, message?: string): Expectation {
  return new Expectation(actual, message, false);
}

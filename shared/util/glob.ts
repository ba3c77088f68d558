/**
 * Glob matching over bytes with Redis's rules (KEYS, SCAN MATCH, CONFIG GET,
 * HSCAN ...): `*`, `?`, `[abc]`, `[^a-z]`, `[!...]` is not special, and `\x` escapes.
 * Case folding, when asked, is ASCII only, as in Redis.
 */
export function globMatch(pattern: Uint8Array, subject: Uint8Array, nocase = false): boolean {
  return matchFrom(pattern, 0, subject, 0, nocase, 0) === Match.Yes;
}

const enum Match { No, Yes, NoMore }

const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c + 32 : c);
const STAR = 0x2a, QUESTION = 0x3f, OPEN = 0x5b, CLOSE = 0x5d, CARET = 0x5e, BACKSLASH = 0x5c, DASH = 0x2d;

function matchFrom(p: Uint8Array, pi: number, s: Uint8Array, si: number, nocase: boolean, depth: number): Match {
  // Deeply nested stars on hostile patterns are cut off, as Redis does, instead of exploding.
  if (depth > 1000) return Match.NoMore;
  while (pi < p.length && si < s.length) {
    const c = p[pi];
    if (c === STAR) {
      while (pi + 1 < p.length && p[pi + 1] === STAR) pi++;
      if (pi + 1 === p.length) return Match.Yes;
      for (; si < s.length; si++) {
        const r = matchFrom(p, pi + 1, s, si, nocase, depth + 1);
        if (r !== Match.No) return r;
      }
      return Match.NoMore;
    } else if (c === QUESTION) {
      si++;
    } else if (c === OPEN) {
      pi++;
      const not = p[pi] === CARET;
      if (not) pi++;
      let matched = false;
      for (;;) {
        if (pi >= p.length) { pi--; break; }
        if (p[pi] === BACKSLASH && pi + 1 < p.length) {
          pi++;
          if (p[pi] === s[si]) matched = true;
        } else if (p[pi] === CLOSE) {
          break;
        } else if (pi + 2 < p.length && p[pi + 1] === DASH) {
          let start = p[pi], end = p[pi + 2], ch = s[si];
          if (start > end) [start, end] = [end, start];
          if (nocase) { start = lower(start); end = lower(end); ch = lower(ch); }
          pi += 2;
          if (ch >= start && ch <= end) matched = true;
        } else if (nocase ? lower(p[pi]) === lower(s[si]) : p[pi] === s[si]) {
          matched = true;
        }
        pi++;
      }
      if (not) matched = !matched;
      if (!matched) return Match.No;
      si++;
    } else {
      if (c === BACKSLASH && pi + 1 < p.length) pi++;
      if (nocase ? lower(p[pi]) !== lower(s[si]) : p[pi] !== s[si]) return Match.No;
      si++;
    }
    pi++;
  }
  if (si === s.length) {
    while (pi < p.length && p[pi] === STAR) pi++;
    if (pi === p.length) return Match.Yes;
  }
  return Match.No;
}

/**
 * A fixed-memory latency histogram (log-linear buckets, ~0.1% relative
 * precision, 1 µs resolution, up to ~35 minutes), so a run of millions of
 * operations costs a few hundred KB, not an array of every sample.
 */
const SUB = 1024; // sub-buckets per power of two
const SUB_BITS = 10;
const MAX_SHIFT = 22;

export class Histogram {
  private readonly counts = new Float64Array(SUB + (MAX_SHIFT + 1) * SUB);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records `n` operations of the same latency, in milliseconds. */
  record(ms: number, n = 1): void {
    let us = Math.round(ms * 1000);
    if (us < 0) us = 0;
    if (us > 0x7fffffff) us = 0x7fffffff;
    this.counts[indexOf(us)] += n;
    this.total += n;
    this.sumUs += us * n;
    if (us > this.maxUs) this.maxUs = us;
  }

  get count(): number {
    return this.total;
  }

  /** Mean in ms. */
  mean(): number {
    return this.total ? this.sumUs / this.total / 1000 : NaN;
  }

  /** Max in ms. */
  max(): number {
    return this.total ? this.maxUs / 1000 : NaN;
  }

  /** The q-quantile (0..1) in ms: the smallest recorded bucket value with at least q of the samples at or below it. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  /** Adds another histogram's samples to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.sumUs += other.sumUs;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
  }
}

function indexOf(us: number): number {
  if (us < SUB) return us;
  const shift = 31 - Math.clz32(us) - SUB_BITS; // us >> shift is in [SUB, 2*SUB)
  return SUB + shift * SUB + ((us >> shift) - SUB);
}

/** The upper edge of bucket i, in µs. */
function valueOf(i: number): number {
  if (i < SUB) return i;
  const shift = Math.floor((i - SUB) / SUB);
  const sub = (i - SUB) % SUB;
  return ((SUB + sub + 1) << shift) - 1;
}

// Latency recording: HdrHistogram (exact-ish percentiles for the report, µs resolution up to an hour)
// plus the prom-client histogram of the same values, for a whole run and per report interval.
// A value is counted in a plain array laid out like HdrHistogram's buckets and folded into the
// histograms only when they are read: the same percentiles, mean and max, without two HdrHistogram
// records per watch event (its bucket arithmetic was a quarter of the generator's fan-out time).
import * as hdr from 'hdr-histogram-js';
import type { Histogram as PromHistogram } from 'prom-client';

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const MAX_US = 3_600_000_000;

function newHdr(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_US,
    numberOfSignificantValueDigits: 3,
  });
}

// HdrHistogram's layout at 3 significant digits and a unit of 1: 2048 sub-buckets, the upper half of
// each reused by the next power of two. MAX_US < 2^32, so clz32 and >>> see every value whole.
const HALF_MAG = 10;
const HALF = 1 << HALF_MAG;

/** HdrHistogram's counts index of an integer value in [1, MAX_US] */
export function bucketIndex(v: number): number {
  const b = Math.max(31 - Math.clz32(v) - HALF_MAG, 0);
  return ((b + 1) << HALF_MAG) + (v >>> b) - HALF;
}

/** the lowest value of the bucket at `index` (HdrHistogram's valueFromIndex) */
export function bucketValue(index: number): number {
  let b = (index >> HALF_MAG) - 1;
  let sub = (index & (HALF - 1)) + HALF;
  if (b < 0) {
    sub -= HALF;
    b = 0;
  }
  return sub * 2 ** b;
}

const SLOTS = bucketIndex(MAX_US) + 1;

/**
 * Integer values counted per HdrHistogram bucket, folded into histograms on demand. The smallest and
 * largest value are kept exactly (HdrHistogram reports them unrounded); the rest of a bucket is folded
 * as its lowest value, which HdrHistogram counts in the same bucket.
 */
export class BucketBatch {
  private readonly counts = new Uint32Array(SLOTS);
  /** indexes with a non-zero count, in the order first touched */
  private touched: number[] = [];
  private min = Infinity;
  private max = 0;

  get size(): number {
    return this.touched.length;
  }

  /** records an integer value in [1, MAX_US] */
  record(v: number): void {
    const i = bucketIndex(v);
    if (this.counts[i]++ === 0) this.touched.push(i);
    if (v > this.max) this.max = v;
    if (v < this.min) this.min = v;
  }

  /** adds every value to each histogram, then empties the batch */
  foldInto(...hs: hdr.Histogram[]): void {
    const { counts, min, max } = this;
    const iMin = bucketIndex(min);
    const iMax = bucketIndex(max);
    for (const i of this.touched) {
      let c = counts[i];
      counts[i] = 0;
      const exact: number[] = [];
      if (i === iMin) exact.push(min);
      if (i === iMax && (max !== min || c > 1)) exact.push(max);
      c -= exact.length;
      for (const h of hs) {
        for (const v of exact) h.recordValue(v);
        if (c > 0) h.recordValueWithCount(bucketValue(i), c);
      }
    }
    this.touched = [];
    this.min = Infinity;
    this.max = 0;
  }
}

export class LatencyStats {
  private readonly total = newHdr();
  private interval = newHdr();
  private readonly pending = new BucketBatch();
  /** also told each value as recorded (the run's 1-s series): one latency, one definition */
  tap: ((ms: number) => void) | undefined;

  constructor(private readonly prom?: PromHistogram.Internal<string> | PromHistogram) {}

  /** records a latency in milliseconds */
  record(ms: number): void {
    let us = Math.round(ms * 1000);
    if (!(us >= 1)) us = 1;
    else if (us > MAX_US) us = MAX_US;
    this.pending.record(us);
    this.prom?.observe(ms / 1000);
    this.tap?.(ms);
  }

  private fold(): void {
    if (this.pending.size) this.pending.foldInto(this.total, this.interval);
  }

  /** percentiles in ms of the whole run */
  summary(): Percentiles {
    this.fold();
    return toPercentiles(this.total);
  }

  /** percentiles in ms since the last call, then starts a new interval */
  takeInterval(): Percentiles {
    this.fold();
    const p = toPercentiles(this.interval);
    this.interval.reset();
    return p;
  }
}

function toPercentiles(h: hdr.Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

// The latency recorder counts values per HdrHistogram bucket and folds them into the histograms when
// read: its percentiles, mean, max and counts must be exactly those of recording every value into
// HdrHistogram directly (the recorder it replaced), for whole runs and per interval.
import t from 'tap';
import fc from 'fast-check';
import * as hdr from 'hdr-histogram-js';
import { BucketBatch, LatencyStats, bucketIndex, bucketValue, type Percentiles } from '../src/loadgen/stats.js';

const MAX_US = 3_600_000_000;
const newHdr = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3 });

/** the recorder before batching: every value straight into two HdrHistograms */
class DirectStats {
  private readonly total = newHdr();
  private interval = newHdr();
  record(ms: number): void {
    let us = Math.round(ms * 1000);
    if (us < 1) us = 1;
    else if (us > MAX_US) us = MAX_US;
    this.total.recordValue(us);
    this.interval.recordValue(us);
  }
  summary(): Percentiles {
    return pct(this.total);
  }
  takeInterval(): Percentiles {
    const p = pct(this.interval);
    this.interval.reset();
    return p;
  }
}

function pct(h: hdr.Histogram): Percentiles {
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

/** latencies in ms: sub-µs, typical, bucket edges, beyond an hour, negative (a clock step) */
const latency = fc.oneof(
  fc.double({ min: -5, max: 5, noNaN: true }),
  fc.double({ min: 0, max: 2000, noNaN: true }),
  fc.double({ min: 0, max: 4_000_000, noNaN: true }),
  fc.integer({ min: 0, max: 22 }).map((k) => 2 ** k / 1000),
  fc.integer({ min: 0, max: 22 }).map((k) => (2 ** k - 1) / 1000),
  fc.constant(MAX_US / 1000),
);

/** a run: values, with interval reads and summary reads among them */
const step = fc.oneof(
  { weight: 20, arbitrary: latency.map((ms) => ({ ms })) },
  { weight: 1, arbitrary: fc.constantFrom('interval' as const, 'summary' as const) },
);

t.test('percentiles, mean and max are those of recording each value into HdrHistogram', async (t) => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
      const batched = new LatencyStats();
      const direct = new DirectStats();
      for (const s of steps) {
        if (s === 'interval') t.strictSame(batched.takeInterval(), direct.takeInterval());
        else if (s === 'summary') t.strictSame(batched.summary(), direct.summary());
        else {
          batched.record(s.ms);
          direct.record(s.ms);
        }
      }
      t.strictSame(batched.takeInterval(), direct.takeInterval());
      t.strictSame(batched.summary(), direct.summary());
      return true;
    }),
    { numRuns: 200 },
  );
});

t.test('many values of one bucket: its exact min and max survive the fold', async (t) => {
  const batched = new LatencyStats();
  const direct = new DirectStats();
  // 5000..5003 µs share a bucket (4 µs wide there)
  for (const us of [5002, 5001, 5003, 5000, 5002, 5001]) {
    batched.record(us / 1000);
    direct.record(us / 1000);
  }
  const s = batched.summary();
  t.strictSame(s, direct.summary());
  t.equal(s.max, 5.003);
  t.equal(s.count, 6);
});

t.test("bucket indexes agree with HdrHistogram's at every power-of-two edge", async (t) => {
  const h = newHdr() as unknown as { countsArrayIndex(v: number): number; valueFromIndex(i: number): number };
  for (let k = 0; k < 32; k++) {
    for (const v of [2 ** k - 1, 2 ** k, 2 ** k + 1, 3 * 2 ** k]) {
      if (v < 1 || v > MAX_US) continue;
      t.equal(bucketIndex(v), h.countsArrayIndex(v), `index of ${v}`);
      t.equal(bucketValue(bucketIndex(v)), h.valueFromIndex(h.countsArrayIndex(v)), `lowest value of ${v}'s bucket`);
    }
  }
});

t.test('a fold empties the batch', async (t) => {
  const b = new BucketBatch();
  b.record(7);
  b.record(70_000);
  t.equal(b.size, 2);
  const h = newHdr();
  b.foldInto(h);
  t.equal(b.size, 0);
  t.equal(h.totalCount, 2);
  b.foldInto(h);
  t.equal(h.totalCount, 2);
});

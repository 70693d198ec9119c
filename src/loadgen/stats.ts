// Latency recording: HdrHistogram (exact-ish percentiles for the report, µs resolution up to an hour)
// plus the prom-client histogram of the same values, for a whole run and per report interval.
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

function newHdr(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

const MAX_US = 3_600_000_000;

export class LatencyStats {
  private readonly total = newHdr();
  private interval = newHdr();
  /** also told each value as recorded (the run's 1-s series): one latency, one definition */
  tap: ((ms: number) => void) | undefined;

  constructor(private readonly prom?: PromHistogram.Internal<string> | PromHistogram) {}

  /** records a latency in milliseconds */
  record(ms: number): void {
    let us = Math.round(ms * 1000);
    if (us < 1) us = 1;
    else if (us > MAX_US) us = MAX_US;
    this.total.recordValue(us);
    this.interval.recordValue(us);
    this.prom?.observe(ms / 1000);
    this.tap?.(ms);
  }

  /** percentiles in ms of the whole run */
  summary(): Percentiles {
    return toPercentiles(this.total);
  }

  /** percentiles in ms since the last call, then starts a new interval */
  takeInterval(): Percentiles {
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

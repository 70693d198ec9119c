// bandwidth: a per-connection, per-direction token bucket in bytes/s. Writes may go into debt by one
// slice; the next write waits until the debt is paid, so the average rate holds without big bursts.
import { z } from 'zod';
import type { Shaper, ShapeStage } from './live.js';
import { defineFault, perDirection } from './module.js';

/** The largest bandwidth limit, bytes/s (10 GiB/s). */
export const MAX_RATE = 10 * 1024 ** 3;

export class TokenBucket {
  private tokens = 0;
  private last: number;
  constructor(now: number) {
    this.last = now;
  }
  /** ms to wait before `bytes` may be written at `rate`; 0 means take them now. */
  wait(rate: number, now: number): number {
    // refill, capped to a small burst so an idle period does not allow a flood
    this.tokens = Math.min(this.tokens + ((now - this.last) * rate) / 1000, Math.max(rate / 20, 256));
    this.last = now;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / rate;
  }
  take(bytes: number): void {
    this.tokens -= bytes;
  }
}

export class BandwidthFault implements ShapeStage {
  readonly phase = 'shape';
  /** largest slice written at once: ~50 ms worth of bytes, between 256 B and 64 KiB */
  readonly sliceBytes: number;
  constructor(readonly rate: number) {
    this.sliceBytes = Math.max(256, Math.min(65536, Math.floor(rate / 20)));
  }
  open(now: number): Shaper {
    const bucket = new TokenBucket(now);
    return {
      wait: (t) => bucket.wait(this.rate, t),
      limit: () => this.sliceBytes,
      took: (bytes) => bucket.take(bytes),
    };
  }
}

export const bandwidth = defineFault({
  type: 'bandwidth',
  scope: 'direction',
  description: 'limit each connection to a rate in bytes/s (token bucket)',
  params: {
    rate: z
      .number()
      .int('expected a whole number of bytes per second')
      .min(1, 'expected at least 1 byte/s')
      .max(MAX_RATE, `expected at most ${MAX_RATE} bytes/s (10 GiB/s)`),
  },
  install: (live, spec) => live[spec.direction].install('bandwidth', new BandwidthFault(spec.rate)),
  compat: perDirection((d) => ({
    kind: 'value',
    path: `/bandwidth-${d}`,
    scope: d,
    param: 'rate',
    spec: (rate) => ({ type: 'bandwidth', direction: d, rate }),
    on: (r) => `limited bandwidth to ${r} bytes/s`,
    off: 'unlimited bandwidth',
    current: (r) => `current bandwidth limit ${r === undefined ? 'none' : `${r} bytes/s`}`,
  })),
});

// bandwidth: a per-connection, per-direction token bucket in bytes/s. Writes may go into debt by one
// slice; the next write waits until the debt is paid, so the average rate holds without big bursts.

export class BandwidthFault {
  /** largest slice written at once: ~50 ms worth of bytes, between 256 B and 64 KiB */
  readonly sliceBytes: number;
  constructor(readonly rate: number) {
    this.sliceBytes = Math.max(256, Math.min(65536, Math.floor(rate / 20)));
  }
}

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

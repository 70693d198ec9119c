// delay: each chunk is held latency ± jitter (sampled per chunk) but never overtakes the previous one.
import { sampleDelay, type Distribution, type Rng } from '../../util/rng.js';

export class DelayFault {
  constructor(
    readonly latencyMs: number,
    readonly jitterMs: number,
    readonly distribution: Distribution,
  ) {}

  /** Delivery instant for a chunk passing the gate at `now`, after the previous delivery `prev`. */
  deliverAt(rng: Rng, now: number, prev: number): number {
    const t = now + sampleDelay(rng, this.distribution, this.latencyMs, this.jitterMs);
    return t > prev ? t : prev;
  }
}

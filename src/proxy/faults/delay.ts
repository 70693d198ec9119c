// delay: each chunk is held latency ± jitter (sampled per chunk) but never overtakes the previous one.
import { z } from 'zod';
import { latencyInput } from '../../schema/duration.js';
import { sampleDelay, type Distribution, type Rng } from '../../util/rng.js';
import type { TimingStage } from './live.js';
import { defineFault, perDirection } from './module.js';

export class DelayFault implements TimingStage {
  readonly phase = 'timing';
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

export const delay = defineFault({
  type: 'delay',
  scope: 'direction',
  description: 'hold each chunk latency ± jitter, in order (delivered at max(arrival + sample, previous delivery))',
  params: {
    latency: latencyInput,
    jitter: latencyInput.default(0),
    distribution: z.enum(['uniform', 'normal', 'pareto', 'paretonormal']).default('uniform'),
  },
  install: (live, spec) =>
    live[spec.direction].install('delay', new DelayFault(spec.latency, spec.jitter, spec.distribution)),
  compat: perDirection((d) => {
    const word = d === 'tx' ? 'send' : 'receive';
    return {
      kind: 'latency',
      path: `/delay-${d}`,
      scope: d,
      spec: (f) => ({ type: 'delay', direction: d, ...f }),
      current: (latency) => `current ${word} latency ${latency}`,
      added: (latency, rv, current) => `added ${word} latency ${latency}±${rv} (current latency ${current})`,
      removed: (previous) => `removed latency ${previous}`,
    };
  }),
});

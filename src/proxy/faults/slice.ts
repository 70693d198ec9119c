// slice: split each chunk into small writes of `size` ± `sizeVariation` bytes with `delay` between
// them (as Toxiproxy's slicer), to exercise the receiver's framing across many short reads. Lossless
// and in order: the chunk stays queued until its last piece is written, so backpressure holds.
import { z } from 'zod';
import { latencyInput } from '../../schema/duration.js';
import type { Rng } from '../../util/rng.js';
import type { Shaper, ShapeStage } from './live.js';
import { defineFault } from './module.js';

const MAX_SLICE = 65536;
const bytes = (what: string, min: number) =>
  z
    .number()
    .int(`expected a whole number of bytes`)
    .min(min, `expected ${what} of at least ${min} bytes`)
    .max(MAX_SLICE, `expected ${what} of at most ${MAX_SLICE} bytes`);

export class SliceFault implements ShapeStage {
  readonly phase = 'shape';
  constructor(
    readonly size: number,
    readonly sizeVariation: number,
    readonly delayMs: number,
  ) {}

  private pieceSize(rng: Rng): number {
    if (this.sizeVariation === 0) return this.size;
    const n = this.size + Math.round((rng.next() * 2 - 1) * this.sizeVariation);
    return n < 1 ? 1 : n;
  }

  open(_now: number, rng: Rng): Shaper {
    let next = -Infinity;
    let piece = this.pieceSize(rng);
    return {
      wait: (now) => (next > now ? next - now : 0),
      limit: () => piece,
      took: (_bytes, now) => {
        next = now + this.delayMs;
        piece = this.pieceSize(rng);
      },
    };
  }
}

export const slice = defineFault({
  type: 'slice',
  scope: 'direction',
  description: 'split each chunk into writes of size ± sizeVariation bytes (at least 1) with delay between them',
  params: {
    size: bytes('a size', 1),
    sizeVariation: bytes('a variation', 0).default(0),
    /** Go duration or ms between two writes */
    delay: latencyInput.default(0),
  },
  install: (live, spec) =>
    live[spec.direction].install('slice', new SliceFault(spec.size, spec.sizeVariation, spec.delay)),
});

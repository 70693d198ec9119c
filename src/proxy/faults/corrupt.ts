// corrupt: with a probability, flip one random bit of a chunk (in place: the chunk is ours alone).
import type { Rng } from '../../util/rng.js';
import { probabilityRoutes } from './drop.js';
import type { ReadStage, ReadVerdict } from './live.js';
import { defineFault, probability } from './module.js';

const CORRUPTED: ReadVerdict = { outcome: 'corrupted', discard: false };

export class CorruptFault implements ReadStage {
  readonly phase = 'read';
  constructor(readonly probability: number) {}
  read(chunk: Buffer, rng: Rng): ReadVerdict | undefined {
    if (chunk.length === 0 || rng.next() >= this.probability) return undefined;
    const i = Math.floor(rng.next() * chunk.length);
    chunk[i] ^= 1 << Math.floor(rng.next() * 8);
    return CORRUPTED;
  }
}

export const corrupt = defineFault({
  type: 'corrupt',
  scope: 'direction',
  description: 'flip one random bit of a chunk with a probability (forwarded, counted as corrupted)',
  params: { probability },
  install: (live, spec) => live[spec.direction].install('corrupt', new CorruptFault(spec.probability)),
  compat: probabilityRoutes('corrupt', 'corrupting'),
});

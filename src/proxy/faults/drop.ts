// drop: discard a whole chunk with a probability (lossy: the stream has a hole).
import type { Rng } from '../../util/rng.js';

export class DropFault {
  constructor(readonly probability: number) {}
  shouldDrop(rng: Rng): boolean {
    return rng.next() < this.probability;
  }
}

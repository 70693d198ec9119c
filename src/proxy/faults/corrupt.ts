// corrupt: with a probability, flip one random bit of a chunk (in place: the chunk is ours alone).
import type { Rng } from '../../util/rng.js';

export class CorruptFault {
  constructor(readonly probability: number) {}
  /** Returns true when the chunk was altered. */
  apply(rng: Rng, chunk: Buffer): boolean {
    if (chunk.length === 0 || rng.next() >= this.probability) return false;
    const i = Math.floor(rng.next() * chunk.length);
    chunk[i] ^= 1 << Math.floor(rng.next() * 8);
    return true;
  }
}

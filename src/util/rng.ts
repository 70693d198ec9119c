// A small seeded PRNG (sfc32, public domain algorithm) and the jitter samplers faults use. Seeded so a
// run can be replayed; not for cryptography.

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  constructor(readonly seed: number) {
    // splitmix32 expands the seed into four state words
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** uniform in [0, 1) */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** standard normal (Box-Muller, caching the second value) */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

export function randomSeed(): number {
  return (Math.random() * 0x100000000) >>> 0;
}

export type Distribution = 'uniform' | 'normal' | 'pareto' | 'paretonormal';

/**
 * A delay sample in ms, never negative.
 * - uniform: latency ± jitter, flat.
 * - normal: mean latency, standard deviation jitter.
 * - pareto: latency plus a heavy tail; jitter is the tail's scale (Pareto, alpha 3 – mean latency + jitter/2).
 * - paretonormal: 75% normal, 25% pareto (netem's mix: mostly well-behaved, sometimes a long stall).
 */
export function sampleDelay(rng: Rng, dist: Distribution, latency: number, jitter: number): number {
  if (jitter <= 0) return latency;
  let v: number;
  switch (dist) {
    case 'uniform':
      v = latency + (rng.next() * 2 - 1) * jitter;
      break;
    case 'normal':
      v = latency + rng.normal() * jitter;
      break;
    case 'pareto':
      v = latency + paretoTail(rng, jitter);
      break;
    case 'paretonormal':
      v = rng.next() < 0.75 ? latency + rng.normal() * jitter : latency + paretoTail(rng, jitter);
      break;
  }
  return v > 0 ? v : 0;
}

const ALPHA = 3;
/** Pareto (Lomax) tail with scale s: mean s / (alpha - 1) = s / 2 */
function paretoTail(rng: Rng, s: number): number {
  let u = 0;
  while (u === 0) u = rng.next();
  return s * (Math.pow(u, -1 / ALPHA) - 1);
}

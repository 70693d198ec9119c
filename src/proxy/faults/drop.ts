// drop: discard a whole chunk with a probability (lossy: the stream has a hole).
import type { Rng } from '../../util/rng.js';
import type { ReadStage, ReadVerdict } from './live.js';
import { defineFault, perDirection, probability, type ValueRoute } from './module.js';

const DROPPED: ReadVerdict = { outcome: 'dropped', discard: true };

export class DropFault implements ReadStage {
  readonly phase = 'read';
  constructor(readonly probability: number) {}
  read(_chunk: Buffer, rng: Rng): ReadVerdict | undefined {
    return rng.next() < this.probability ? DROPPED : undefined;
  }
}

/** The drop and corrupt routes: `verb` is "dropping" or "corrupting". */
export function probabilityRoutes(type: 'drop' | 'corrupt', verb: string): ValueRoute[] {
  return perDirection((d) => ({
    kind: 'value',
    path: `/${type}-${d}`,
    scope: d,
    param: 'probability',
    spec: (p) => ({ type, direction: d, probability: p }),
    on: (p) => `${verb} packets with probability ${p}`,
    off: `stopped ${verb} packets`,
    current: (p) => `current ${type} probability ${p ?? 0}`,
  }));
}

export const drop = defineFault({
  type: 'drop',
  scope: 'direction',
  description: 'discard a whole chunk with a probability (the stream has a hole)',
  params: { probability },
  install: (live, spec) => live[spec.direction].install('drop', new DropFault(spec.probability)),
  compat: probabilityRoutes('drop', 'dropping'),
});

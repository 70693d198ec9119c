// blackhole: read and discard everything; the connection stays open. It reads ahead of a pause gate,
// as etcd's pkg/proxy does.
import type { ReadStage, ReadVerdict } from './live.js';
import { defineFault, perDirection } from './module.js';

const BLACKHOLED: ReadVerdict = { outcome: 'blackholed', discard: true };
const stage: ReadStage = { phase: 'read', discardsAll: true, read: () => BLACKHOLED };

export const blackhole = defineFault({
  type: 'blackhole',
  scope: 'direction',
  description: 'read and discard; the connection stays open',
  params: {},
  install: (live, spec) => live[spec.direction].install('blackhole', stage),
  compat: perDirection((d) => ({
    kind: 'toggle',
    path: `/blackhole-${d}`,
    scope: d,
    spec: () => ({ type: 'blackhole', direction: d }),
    on: 'blackholed; dropping packets',
    off: 'unblackholed; restart forwarding',
  })),
});

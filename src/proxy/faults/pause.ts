// pause: a lossless stall. Chunks wait at the gate and reading stops, so the sender backs up through TCP.
import type { GateStage } from './live.js';
import { defineFault, perDirection } from './module.js';

export const pause = defineFault({
  type: 'pause',
  scope: 'direction',
  description: 'lossless stall: stop reading, hold at most a chunk; the sender backs up through TCP',
  params: {},
  install: (live, spec) => live[spec.direction].install('pause', { phase: 'gate' } satisfies GateStage),
  compat: perDirection((d) => ({
    kind: 'toggle',
    path: `/pause-${d}`,
    scope: d,
    spec: () => ({ type: 'pause', direction: d }),
    on: 'paused forwarding',
    off: 'unpaused forwarding',
  })),
});

// accept-delay: a new connection waits latency ± jitter before the upstream is dialled.
import { latencyInput } from '../../schema/duration.js';
import { DelayFault } from './delay.js';
import { defineFault } from './module.js';

export const acceptDelay = defineFault({
  type: 'accept-delay',
  scope: 'accept',
  description: 'hold each new connection latency ± jitter before dialling the upstream',
  params: { latency: latencyInput, jitter: latencyInput.default(0) },
  install: (live, spec) => {
    const stage = new DelayFault(spec.latency, spec.jitter, 'uniform');
    live.accept.delay = stage;
    return () => {
      if (live.accept.delay === stage) live.accept.delay = undefined;
    };
  },
  compat: [
    {
      kind: 'latency',
      path: '/accept-delay',
      scope: 'accept',
      spec: (f) => ({ type: 'accept-delay', ...f }),
      current: (latency) => `current accept latency ${latency}`,
      added: (latency, rv, current) => `added accept latency ${latency}±${rv} (current latency ${current})`,
      removed: (previous) => `removed accept latency ${previous}`,
    },
  ],
});

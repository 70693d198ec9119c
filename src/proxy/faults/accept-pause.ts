// accept-pause: new connections are accepted and held, undialled, until the pause is removed.
import { defineFault } from './module.js';

export const acceptPause = defineFault({
  type: 'accept-pause',
  scope: 'accept',
  description: 'hold new connections (accepted, upstream not dialled) until removed',
  params: {},
  install: (live) => {
    live.accept.pause = true;
    return () => {
      live.accept.pause = false;
    };
  },
  compat: [
    {
      kind: 'toggle',
      path: '/accept-pause',
      scope: 'accept',
      spec: () => ({ type: 'accept-pause' }),
      on: 'paused accepting connections',
      off: 'unpaused accepting connections',
    },
  ],
});

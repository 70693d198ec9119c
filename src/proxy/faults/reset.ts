// reset: RST every live connection of the link, once.
import { defineFault } from './module.js';

export const reset = defineFault({
  type: 'reset',
  scope: 'link',
  description: 'RST every live connection (one shot)',
  params: {},
  once: (live) => {
    const n = live.link.resetConnections();
    live.link.logger.info({ link: live.link.name, connections: n }, 'reset all connections');
    return n;
  },
  compat: [
    {
      kind: 'once',
      path: '/reset',
      scope: 'link',
      spec: () => ({ type: 'reset' }),
      done: (n) => `reset ${n} connections`,
    },
  ],
});

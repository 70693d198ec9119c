// reset-listener: close and re-open the listener, once; open connections are untouched.
import { defineFault } from './module.js';

export const resetListener = defineFault({
  type: 'reset-listener',
  scope: 'link',
  description: 'close and re-open the listener (one shot); open connections are untouched',
  params: {},
  once: (live) => {
    void live.link.resetListener();
    return 0;
  },
  compat: [
    {
      kind: 'once',
      path: '/reset-listener',
      scope: 'link',
      spec: () => ({ type: 'reset-listener' }),
      done: () => 'reset listener',
    },
  ],
});

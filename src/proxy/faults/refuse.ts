// refuse: no new connections while active: accept and reset at once ('rst'), or close the listener
// ('close').
import { z } from 'zod';
import { defineFault } from './module.js';

export const refuse = defineFault({
  type: 'refuse',
  scope: 'link',
  description: "no new connections while active: 'rst' accepts and resets them, 'close' closes the listener",
  params: { mode: z.enum(['close', 'rst']).default('rst') },
  install: (live, spec) => {
    live.accept.refuse = spec.mode;
    if (spec.mode === 'close') void live.link.setListening(false);
    return () => {
      live.accept.refuse = undefined;
      if (spec.mode === 'close') void live.link.setListening(true);
    };
  },
  compat: [
    {
      kind: 'toggle',
      path: '/refuse',
      scope: 'link',
      spec: () => ({ type: 'refuse', mode: 'rst' }),
      on: 'refusing connections',
      off: 'accepting connections',
    },
  ],
});

// The daemon's window log over real links: a fault on several links is one window named by its target,
// a one-shot fault (reset) is one zero-length window however many links it acts on, a fault added to
// one link is a window of that link, and each ends when it is removed or expires.
import t from 'tap';
import { Daemon } from '../src/daemon.js';
import type { WindowRecord } from '../src/daemon/windows.js';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import { ManualClock } from '../src/util/clock.js';

async function setup(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  const clock = new ManualClock(Date.now());
  const daemon = new Daemon({ clock, reportDir: null });
  t.teardown(() => daemon.close());
  for (const name of ['a', 'b', 'c']) await daemon.addLink({ name, listen: '127.0.0.1:0', upstream: '127.0.0.1:9' });
  const started: WindowRecord[] = [];
  const ended: WindowRecord[] = [];
  daemon.windows.on('start', (w: WindowRecord) => started.push({ ...w }));
  daemon.windows.on('end', (w: WindowRecord) => ended.push({ ...w }));
  return { clock, daemon, started, ended };
}

t.test('a targeted fault on three links is one window, named by its target', async (t) => {
  const { clock, daemon, started, ended } = await setup(t);
  const f = await daemon.faults.add(fault({ type: 'delay', direction: 'tx', latency: '20ms', duration: '5s' }), {
    links: ['a', 'b', 'c'],
  });
  t.equal(started.length, 1);
  t.equal(daemon.windows.active().length, 1);
  t.match(daemon.windows.get(f.id), { kind: 'delay', target: 'link a,b,c (a, b, c)' });
  clock.advance(5000);
  t.equal(ended.length, 1, 'expired on every link: the window ends once');
  t.equal(ended[0].end! - ended[0].start, 5000);
});

t.test('a one-shot reset is one zero-length window, targeted or on one link', async (t) => {
  const { daemon, started, ended } = await setup(t);
  const f = await daemon.faults.add(fault({ type: 'reset' }), { links: ['a', 'b', 'c'] });
  t.equal(started.length, 1, 'one window for the three links');
  t.equal(ended.length, 1);
  t.match(ended[0], { id: f.id, kind: 'reset', target: 'link a,b,c (a, b, c)' });
  t.equal(ended[0].end, ended[0].start);
  daemon.getLink('b').addFault(fault({ type: 'reset' }));
  t.equal(started.length, 2);
  t.match(ended[1], { kind: 'reset', target: 'link b' });
});

t.test("a fault added to one link is that link's window until removed", async (t) => {
  const { daemon, started, ended } = await setup(t);
  const info = daemon.getLink('c').addFault(fault({ type: 'blackhole', direction: 'rx' }));
  t.match(started[0], { id: info.id, kind: 'blackhole', target: 'link c' });
  daemon.getLink('c').removeFault(info.id);
  t.equal(ended.length, 1);
  t.equal(daemon.windows.active().length, 0);
});

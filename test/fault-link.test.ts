// Faults on a link driven by a manual clock (expiry and stamps without sleeping), explicit fault ids
// (one fault spanning several links carries one id on each), replacement, and the dial-failure log
// throttle on the link's clock.
import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import type { FaultInfo } from '../src/proxy/types.js';
import { ManualClock } from '../src/util/clock.js';
import { Conflict } from '../src/util/errors.js';
import { freePorts } from '../src/util/net.js';
import { close, closeKind, connect, echoServer, startLink } from './helpers/net.js';

const echo = await echoServer();
t.teardown(() => close(echo.server));

t.test('a fault expires when the clock says so, stamped with the clock', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const link = await startLink({ upstreamPort: echo.port, clock });
  t.teardown(() => link.close());
  const removed: [string, string][] = [];
  link.on('fault-removed', (info: FaultInfo, reason: string) => removed.push([info.id, reason]));

  clock.advance(1000);
  const f = link.addFault(fault({ type: 'pause', direction: 'tx', duration: '10s' }));
  t.equal(f.createdAt, '2026-01-01T00:00:01.000Z');
  t.equal(f.expiresAt, '2026-01-01T00:00:11.000Z');
  const open = link.addFault(fault({ type: 'drop', direction: 'rx', probability: 0.5 }));
  t.equal(open.expiresAt, undefined, 'no duration, no expiry');

  // data written while paused arrives once the pause expires
  const sock = await connect(link.address().port);
  t.teardown(() => sock.destroy());
  link.removeFault(open.id);
  const got = new Promise<string>((r) => sock.once('data', (b) => r(b.toString())));
  sock.write('held');
  clock.advance(9999);
  t.same(
    link.listFaults().map((i) => i.id),
    [f.id],
    'still active 1 ms before its end',
  );
  clock.advance(1);
  t.same(link.listFaults(), [], 'expired');
  t.same(removed, [
    [open.id, 'removed'],
    [f.id, 'expired'],
  ]);
  t.equal(await got, 'held', 'the pause is gone from the pipe too');
  t.equal(clock.pending, 0, 'no timer left');
});

t.test('a removed or replaced fault cancels its expiry; a 168h fault waits its 168h', async (t) => {
  const clock = new ManualClock();
  const link = await startLink({ upstreamPort: echo.port, clock });
  t.teardown(() => link.close());
  const removed: [string, string][] = [];
  link.on('fault-removed', (info: FaultInfo, reason: string) => removed.push([info.id, reason]));
  const a = link.addFault(fault({ type: 'delay', direction: 'tx', latency: '1ms', duration: '1m' }));
  const b = link.addFault(fault({ type: 'delay', direction: 'tx', latency: '2ms', duration: '168h' }));
  t.same(removed, [[a.id, 'replaced']], 'same type on the same direction replaces');
  t.equal(clock.pending, 1, 'the replaced fault no longer has a timer');
  const c = link.addFault(fault({ type: 'delay', direction: 'rx', latency: '3ms' }));
  t.equal(link.listFaults().length, 2, 'the other direction is another fault');
  clock.advance(168 * 3600 * 1000 - 1);
  t.equal(link.listFaults().length, 2);
  clock.advance(1);
  t.same(
    link.listFaults().map((i) => i.id),
    [c.id],
  );
  t.same(removed.at(-1), [b.id, 'expired']);
});

t.test('explicit ids: used verbatim, the same id on several links, default ids unchanged', async (t) => {
  const one = await startLink({ name: 'one', upstreamPort: echo.port });
  const two = await startLink({ name: 'two', upstreamPort: echo.port });
  t.teardown(async () => {
    await one.close();
    await two.close();
  });
  const added: string[] = [];
  one.on('fault-added', (i: FaultInfo) => added.push(i.id));
  t.equal(one.addFault(fault({ type: 'pause', direction: 'rx' })).id, 'one-1');
  const spec = fault({ type: 'blackhole', direction: 'tx', duration: '1h' });
  t.equal(one.addFault(spec, { id: 'partition-7' }).id, 'partition-7');
  t.equal(two.addFault(spec, { id: 'partition-7' }).id, 'partition-7');
  t.equal(one.addFault(fault({ type: 'pause', direction: 'tx' })).id, 'one-2', 'the counter goes on');
  t.same(added, ['one-1', 'partition-7', 'one-2'], "'fault-added' carries the id");

  t.throws(
    () => one.addFault(fault({ type: 'drop', direction: 'rx', probability: 1 }), { id: 'partition-7' }),
    Conflict,
    'an id in use by another fault of the link is refused',
  );
  t.equal(one.listFaults().length, 3, 'nothing added, nothing replaced');
  t.ok(one.findFault('pause', 'tx'), 'the pause a conflicting fault would not replace stays');
  t.throws(() => one.addFault(fault({ type: 'pause', direction: 'tx' }), { id: 'partition-7' }), Conflict);
  t.equal(one.findFault('pause', 'tx')?.id, 'one-2', 'a conflicting id does not replace a fault either');
  t.equal(one.addFault(fault({ type: 'pause', direction: 'rx' }), { id: 'one-4' }).id, 'one-4');
  t.equal(one.addFault(fault({ type: 'drop', direction: 'tx', probability: 1 })).id, 'one-3');
  t.equal(
    one.addFault(fault({ type: 'drop', direction: 'rx', probability: 1 })).id,
    'one-5',
    'default ids skip given ones',
  );
  one.removeFault('one-3');
  one.removeFault('one-5');
  const again = one.addFault(fault({ type: 'blackhole', direction: 'tx' }), { id: 'partition-7' });
  t.equal(again.id, 'partition-7', 'replacing a fault may keep its id');
  t.equal(one.listFaults().length, 3);

  t.ok(one.removeFault('partition-7'));
  t.notOk(one.removeFault('partition-7'));
  t.same(
    two.listFaults().map((i) => i.id),
    ['partition-7'],
    'the other link keeps its own',
  );
  t.ok(two.removeFault('partition-7'));
});

t.test('a one-shot fault with an id acts and stays in no list', async (t) => {
  const link = await startLink({ upstreamPort: echo.port });
  t.teardown(() => link.close());
  const sock = await connect(link.address().port);
  await new Promise((r) => {
    sock.once('data', r);
    sock.write('x');
  });
  const how = closeKind(sock);
  const info = link.addFault(fault({ type: 'reset' }), { id: 'kick-1' });
  t.equal(info.id, 'kick-1');
  t.equal(info.scope, 'link');
  t.equal(await how, 'reset');
  t.same(link.listFaults(), []);
});

t.test('failed dials are logged at most once per 5 s of the link clock', async (t) => {
  const lines: { msg: string; dialFailures?: number }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    }),
  );
  const clock = new ManualClock();
  const [dead] = await freePorts(1);
  const link = await startLink({ upstreamPort: dead, clock, logger });
  t.teardown(() => link.close());
  const fail = async () => {
    const failed = new Promise((r) => link.once('dial-failure', r));
    const s = await connect(link.address().port);
    s.on('error', () => {});
    await failed;
    s.destroy();
  };
  const warned = () => lines.filter((l) => l.msg === 'upstream dial failed; client closed').map((l) => l.dialFailures);
  await fail();
  await fail();
  t.same(warned(), [1], 'the second failure within 5 s is counted, not logged');
  clock.advance(4999);
  await fail();
  t.same(warned(), [1]);
  clock.advance(1);
  await fail();
  t.same(warned(), [1, 4], 'logged again 5 s later, with the count');
});

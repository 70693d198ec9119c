// A generator that falls behind on a real etcd: a deliberately slow consumer of watch responses holds
// the process back for a few seconds, events pile up unread in its receive queues. The run flags its own
// lag (status, status line, timeline, gauges, the overload ledger), and reports no violation of etcd's:
// every event is delivered once, in order, once the generator caught up.
import t from 'tap';
import { Metrics } from '../src/metrics.js';
import { formatStatusLine } from '../src/loadgen/report.js';
import { LoadRunner, type LoadSummary, type TimelineLine } from '../src/loadgen/runner.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { noViolations } from '../src/loadgen/verdict.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 1 });

t.test('a slow consumer: the lag flagged as the generator own, no violation', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  let slow = false;
  let lagGauge = 0;
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      rate: 200,
      watchers: 100,
      keys: 4,
      connections: 2,
      duration: '7s',
      interval: '1s',
      settle: '3s',
      putTimeout: '20s',
    }),
    endpoints: cluster.clientEndpoints(),
    metrics,
    reportDir: null,
    observers: [
      {
        name: 'slow consumer',
        onWatch: () => {
          if (!slow) return;
          // the checker's thread is busy elsewhere: each response waits ~1 ms more
          const until = performance.now() + 1;
          while (performance.now() < until);
        },
      },
    ],
  });
  const lines: TimelineLine[] = [];
  r.on('interval', (l: TimelineLine) => lines.push(l));
  const gauge = setInterval(
    () => void metrics.generatorLag.get().then((m) => (lagGauge = Math.max(lagGauge, m.values[0]?.value ?? 0))),
    50,
  );
  t.teardown(() => clearInterval(gauge));
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  t.equal(r.status().watchers.watching, 100, 'every watcher attached');
  setTimeout(() => (slow = true), 1000);
  setTimeout(() => (slow = false), 4000);
  const s = await done;
  const g = s.generator;
  t.comment(
    `puts ${s.counts.ok}, events ${s.counts.events}, lag ${JSON.stringify(g.lag)}, lagging ${g.laggingIntervals}, overloaded ${g.overloadedIntervals}, watch p99 ${s.latency.watch.p99} ms`,
  );
  t.same(s.violations, noViolations(), 'nothing of the generator lag is etcd violation');
  t.equal(s.counts.events, s.counts.ok * 25, 'every event delivered once (25 watchers per key)');
  t.equal(s.findings.behindAtEnd, 0, 'the watchers caught up');
  t.same(s.watchers, { starting: 0, watching: 0, resuming: 0, stopped: 100 }, 'the counts followed every transition');
  t.ok(g.lag && g.lag.maxSeconds >= 1, 'the lag measured');
  // the kernel's queue is read only at a watchdog tick while behind: whether bytes still wait there then
  // depends on what Node read before the tick (the late tick is the other evidence of the generator's own)
  t.comment(`bytes unread at most ${g.lag!.maxReceiveBufferedBytes}`);
  t.ok(g.laggingIntervals >= 1, 'intervals flagged as lagging');
  t.ok(g.overloadedIntervals >= g.laggingIntervals, 'and as overloaded');
  t.notOk(g.lag!.lagging, 'not lagging any more at the end');
  const flagged = lines.filter((l) => l.generator.lag?.lagging);
  t.ok(flagged.length >= 1, 'a timeline line says so');
  t.ok(
    flagged.some((l) => / \| generator lagging \d+(\.\d)?s/.test(formatStatusLine(l))),
    'its status line says so',
  );
  t.ok(lagGauge >= 1, `the lag gauge rose (${lagGauge} s)`);
  t.match(await metrics.registry.metrics(), /etcd_soak_generator_receive_buffered_bytes \d+/);
});

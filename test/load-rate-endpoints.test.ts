// Live rate changes take effect within one scheduling tick (tiny rates included, no timer past Node's
// limit), and the load's endpoints are explicit: a removed endpoint's connections move to the others.
import t from 'tap';
import { Daemon } from '../src/daemon.js';
import { startCluster } from '../src/cluster/launch.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { LoadRunner } from '../src/loadgen/runner.js';
import { Metrics } from '../src/metrics.js';
import { parseFaultSpec } from '../src/proxy/faults/registry.js';
import { freePorts } from '../src/util/net.js';

const cluster = await startCluster({ size: 1 });
t.teardown(() => cluster.stop());
const ep = cluster.clientEndpoints()[0];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quick = { watchers: 4, keys: 2, connections: 2, settle: '1s', putTimeout: '1s', interval: '1s' };

async function running(r: LoadRunner): Promise<void> {
  for (let i = 0; i < 200 && r.status().state !== 'running'; i++) await sleep(25);
}

t.test('a rate change takes effect at once, also after a tiny rate; no timer overflow', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({ ...quick, rate: 100 }),
    endpoints: [ep],
    reportDir: null,
    metrics: new Metrics({ defaultMetrics: false }),
  });
  await r.start();
  await running(r);
  await sleep(300);
  r.setRate(0.01); // one put per 100 s
  await sleep(300);
  const before = r.status().counts.issued;
  r.setRate(200);
  await sleep(400);
  const after = r.status().counts.issued;
  t.ok(after - before >= 40, `puts resume within a tick after 0.01/s → 200/s (${after - before} in 400 ms)`);
  r.setRate(1e-7);
  await sleep(300);
  r.setRate(2);
  const at = r.status().counts.issued;
  await sleep(2300);
  const slow = r.status().counts.issued - at;
  t.ok(slow >= 4 && slow <= 6, `2 puts/s works (${slow} in 2.3 s)`);
  r.setRate(0.5);
  const at2 = r.status().counts.issued;
  await sleep(4300);
  const half = r.status().counts.issued - at2;
  t.ok(half >= 2 && half <= 3, `rates below 1/s work (${half} at 0.5/s in 4.3 s)`);
  const s = await r.stop();
  t.equal(s.violations.reliable + s.violations.ordered + s.violations.unique + s.violations.unexpected, 0);
  t.same(
    warnings.filter((w) => /TimeoutOverflow/.test(w)),
    [],
    'no TimeoutOverflowWarning',
  );
});

t.test(
  "a removed link's load connections move to the remaining endpoint; the last one cannot be removed",
  async (t) => {
    const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
    t.teardown(() => daemon.close());
    const [a, b, c] = await freePorts(3);
    await daemon.addLink({ name: 's1-client', listen: `127.0.0.1:${a}`, upstream: ep, kind: 'client', member: 's1' });
    await daemon.addLink({ name: 's1-client-b', listen: `127.0.0.1:${b}`, upstream: ep, kind: 'client', member: 's1' });
    await daemon.addLink({ name: 'mine', listen: `127.0.0.1:${c}`, upstream: ep, kind: 'client' });
    const st = await daemon.startLoad(loadProfileSchema.parse({ ...quick, rate: 50, watchers: 8, connections: 4 }));
    t.same(st.endpoints, [`127.0.0.1:${a}`, `127.0.0.1:${b}`], "a user's own link does not join the load unless named");
    const r = daemon.loadRunner!;
    await running(r);
    await sleep(500);
    await daemon.removeLink('s1-client-b');
    t.same(r.status().endpoints, [`127.0.0.1:${a}`], 'GET /load shows the remaining endpoint');
    let watching = 0;
    for (let i = 0; i < 100 && watching !== 8; i++) {
      await sleep(100);
      watching = r.status().watchers.watching;
    }
    t.equal(watching, 8, 'every watcher watches again through the remaining endpoint');
    const events = r.status().counts.events;
    await sleep(1000);
    t.ok(r.status().counts.events > events, 'events keep arriving');
    await t.rejects(daemon.removeLink('s1-client'), { name: 'Conflict', message: /only endpoint of the running load/ });
    const s = await daemon.stopLoad();
    t.equal(
      s.violations.reliable + s.violations.ordered + s.violations.unique + s.violations.unexpected,
      0,
      'no violation from the move',
    );
    t.equal(s.findings.behindAtEnd, 0);
  },
);

t.test(
  "indeterminate puts are settled by etcd's record while the run goes (every 12 × settle), not only at its end",
  async (t) => {
    const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
    t.teardown(() => daemon.close());
    const [a] = await freePorts(1);
    await daemon.addLink({ name: 's1-client', listen: `127.0.0.1:${a}`, upstream: ep, kind: 'client', member: 's1' });
    // no watcher: only etcd's record can say what happened to a put whose answer was lost
    await daemon.startLoad(
      loadProfileSchema.parse({
        rate: 50,
        watchers: 0,
        keys: 2,
        connections: 1,
        settle: '500ms',
        putTimeout: '300ms',
        interval: '1s',
      }),
    );
    const r = daemon.loadRunner!;
    await running(r);
    await sleep(500);
    const pause = daemon.getLink('s1-client').addFault(parseFaultSpec({ type: 'pause', direction: 'rx' }));
    await sleep(1000);
    daemon.getLink('s1-client').removeFault(pause.id);
    let st = r.status();
    for (let i = 0; i < 100 && st.counts.applied === 0; i++) {
      await sleep(100);
      st = r.status();
    }
    t.ok(st.counts.indeterminate > 0, `${st.counts.indeterminate} puts lost their answers`);
    t.ok(st.counts.applied > 0, `${st.counts.applied} of them settled as applied during the run`);
    t.equal(st.state, 'running');
    const s = await daemon.stopLoad();
    t.equal(s.counts.applied + s.counts.notApplied, s.counts.indeterminate, 'every one settled at the end');
  },
);

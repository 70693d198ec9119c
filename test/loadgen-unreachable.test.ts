// An unreachable cluster is reported and retried, never a crash; stopping still works.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { LoadRunner } from '../src/loadgen/runner.js';
import { freePorts } from '../src/util/net.js';
import { describeError } from '../src/util/errors.js';

t.test('unreachable endpoints: start keeps retrying, status says why, stop returns a summary', async (t) => {
  const [port] = await freePorts(1);
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      rate: 10,
      watchers: 2,
      keys: 1,
      connections: 1,
      settle: '200ms',
      putTimeout: '200ms',
    }),
    endpoints: [`127.0.0.1:${port}`],
    reportDir: null,
  });
  const started = r.start();
  await new Promise((res) => setTimeout(res, 1500));
  const st = r.status();
  t.equal(st.state, 'starting', 'still trying');
  t.match(st.lastError, new RegExp(`cannot reach 127.0.0.1:${port}`));
  const s = await r.stop('test over');
  await started;
  t.equal(s.state, 'stopped');
  t.equal(s.counts.issued, 0, 'nothing was sent');
  t.same(s.violations, noViolations());
});

t.test('bad profiles are rejected with the field named', async (t) => {
  const cases: [object, RegExp][] = [
    [{ rate: -1 }, /^rate: /],
    [{ keys: 0 }, /^keys: /],
    [{ valueSize: 10 }, /^valueSize: Number must be greater than or equal to 49/],
    [{ settle: '5' }, /^settle: time: missing unit in duration "5"/],
    [{ surprise: true }, /Unrecognized key\(s\) in object: 'surprise'/],
    [{ duration: '0s' }, /^duration: expected a duration > 0/],
  ];
  for (const [profile, re] of cases) {
    let msg = '';
    try {
      new LoadRunner({ profile: loadProfileSchema.parse(profile), endpoints: ['127.0.0.1:1'], reportDir: null });
    } catch (err) {
      msg = describeError(err);
    }
    t.match(msg, re, JSON.stringify(profile));
  }
  const defaults = loadProfileSchema.parse({});
  t.throws(
    () => new LoadRunner({ profile: defaults, endpoints: [], reportDir: null }),
    /endpoints: expected at least one/,
  );
  t.throws(
    () =>
      new LoadRunner({
        profile: { ...defaults, workloads: ['put', 'nope'] },
        endpoints: ['127.0.0.1:1'],
        reportDir: null,
      }),
    { name: 'Invalid', message: /workloads: unknown nope \(known: put, watch, kv\b[^)]*\block\b/ },
  );
  t.match(loadProfileSchema.parse({}).workloads, ['put', 'watch'], 'puts and the watch fleet by default');
  t.match(
    describeError(catchErr(() => loadProfileSchema.parse({ workloads: ['put', 'put'] }))),
    /^workloads: expected each workload once/,
  );
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

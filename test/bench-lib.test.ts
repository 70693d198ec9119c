// The benchmarks' shared figures: medians with min–max, the rotating round order, the CPU time of
// another process (read from /proc, and from the kernel's accounting once a child is reaped), and the
// reading of etcd's Go benchmark report.
import t from 'tap';
import { parseGoReport, runGoBench } from '../bench/go-bench.js';
import {
  formatSpread,
  medianRatio,
  processCpuSeconds,
  reapedChildrenCpuSeconds,
  roundOrder,
  spread,
} from '../bench/lib.js';

t.test('spread: median (mean of the middle two for an even count), min, max; non-finite values left out', async (t) => {
  t.same(spread([5, 1, 3]), { median: 3, min: 1, max: 5, rounds: 3 });
  t.same(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, rounds: 4 });
  t.same(spread([NaN, 7, undefined, Infinity]), { median: 7, min: 7, max: 7, rounds: 1 });
  t.equal(spread([]), undefined);
  t.equal(spread([NaN]), undefined);
});

t.test('formatSpread and medianRatio', async (t) => {
  t.equal(formatSpread(spread([10, 12, 11])), '11 (10–12)');
  t.equal(formatSpread(spread([1.234]), 2), '1.23');
  t.equal(formatSpread(undefined), '-');
  t.equal(medianRatio(spread([2, 4, 6]), spread([1, 2, 3])), 2);
  t.equal(medianRatio(spread([2]), undefined), undefined);
});

t.test('roundOrder rotates by one each round, so every contender runs first once in a cycle', async (t) => {
  const items = ['a', 'b', 'c'];
  t.same(roundOrder(items, 0), ['a', 'b', 'c']);
  t.same(roundOrder(items, 1), ['b', 'c', 'a']);
  t.same(roundOrder(items, 2), ['c', 'a', 'b']);
  t.same(roundOrder(items, 3), ['a', 'b', 'c']);
  t.same(roundOrder([], 2), []);
});

t.test("a child's CPU: sampled while it runs, exact from the kernel once reaped", async (t) => {
  t.ok((processCpuSeconds(process.pid) ?? 0) > 0, 'this process has used CPU');
  t.equal(processCpuSeconds(2 ** 30), undefined, 'no such process');
  const before = reapedChildrenCpuSeconds();
  const run = await runGoBench(
    'sh',
    ['-c', 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; echo counted $i'],
    120000,
  );
  t.equal(run.error, undefined);
  t.match(run.out, /counted 400000/);
  t.ok(run.cpuSec > 0, `the busy child used CPU (${run.cpuSec} s)`);
  t.ok(reapedChildrenCpuSeconds() - before >= run.cpuSec - 0.02, 'counted in the reaped children time');
});

t.test('a tool that fails or does not finish is reported as such', async (t) => {
  const failed = await runGoBench('sh', ['-c', 'echo bad flag >&2; exit 3'], 60000);
  t.match(failed.error, /exited with 3/);
  t.match(failed.error, /bad flag/);
  const hung = await runGoBench('sleep', ['60'], 300);
  t.match(hung.error, /killed after 0.3 s/);
  const missing = await runGoBench('/nonexistent/benchmark', [], 60000);
  t.match(missing.error, /ENOENT/);
});

// the layout of etcd v3.4 pkg/report (default precision %4.4f)
const putReport = `
Summary:
  Total:\t2.1043 secs.
  Slowest:\t0.0312 secs.
  Fastest:\t0.0008 secs.
  Average:\t0.0051 secs.
  Stddev:\t0.0021 secs.
  Requests/sec:\t3151.2030

Response time histogram:
  0.0008 [1]\t|
  0.0038 [2241]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎

Latency distribution:
  10% in 0.0031 secs.
  25% in 0.0038 secs.
  50% in 0.0046 secs.
  75% in 0.0058 secs.
  90% in 0.0072 secs.
  95% in 0.0085 secs.
  99% in 0.0131 secs.
  99.9% in 0.0290 secs.
`;

t.test("parseGoReport reads the summary's rate, total and percentiles", async (t) => {
  const r = parseGoReport(putReport);
  t.equal(r.requestsPerSec, 3151.203);
  t.equal(r.totalSec, 2.1043);
  t.ok(Math.abs(r.p50ms! - 4.6) < 1e-9, `p50 ${r.p50ms} ms`);
  t.ok(Math.abs(r.p99ms! - 13.1) < 1e-9, `the 99% line, not 99.9% (${r.p99ms} ms)`);
  t.same(parseGoReport('no summary here'), {});
});

t.test('parseGoReport picks the summary after a heading (watch prints its creation summary first)', async (t) => {
  const creation = putReport.replace('Requests/sec:\t3151.2030', 'Requests/sec:\t99999.0000');
  const events = putReport.replace('Requests/sec:\t3151.2030', 'Requests/sec:\t198765.4321');
  const out = `Watch creation summary:\n${creation}\nWatch events received summary:\n${events}`;
  t.equal(parseGoReport(out, 'Watch events received summary').requestsPerSec, 198765.4321);
  t.equal(parseGoReport(out).requestsPerSec, 99999);
  t.same(parseGoReport(out, 'no such heading'), {});
});

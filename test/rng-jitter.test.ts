import t from 'tap';
import { Rng, sampleDelay } from '../src/util/rng.js';

function stats(xs: number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}
const N = 100000;

t.test('the generator is seeded and reproducible', async (t) => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xa = Array.from({ length: 100 }, () => a.next());
  t.same(
    xa,
    Array.from({ length: 100 }, () => b.next()),
    'same seed, same draws',
  );
  t.not(xa[0], c.next(), 'another seed, other draws');
  t.ok(xa.every((x) => x >= 0 && x < 1));
  const u = stats(Array.from({ length: N }, () => a.next()));
  t.ok(Math.abs(u.mean - 0.5) < 0.01, `uniform mean ${u.mean.toFixed(4)}`);
  t.ok(Math.abs(u.sd - Math.sqrt(1 / 12)) < 0.01, `uniform sd ${u.sd.toFixed(4)}`);
});

t.test('uniform jitter: latency ± jitter, flat', async (t) => {
  const r = new Rng(1);
  const s = stats(Array.from({ length: N }, () => sampleDelay(r, 'uniform', 50, 10)));
  t.ok(s.min >= 40 && s.max <= 60, `range [${s.min.toFixed(2)}, ${s.max.toFixed(2)}]`);
  t.ok(Math.abs(s.mean - 50) < 0.2, `mean ${s.mean.toFixed(3)}`);
  t.ok(Math.abs(s.sd - 10 / Math.sqrt(3)) < 0.1, `sd ${s.sd.toFixed(3)}`);
});

t.test('normal jitter: mean latency, sd jitter', async (t) => {
  const r = new Rng(2);
  const s = stats(Array.from({ length: N }, () => sampleDelay(r, 'normal', 100, 10)));
  t.ok(Math.abs(s.mean - 100) < 0.2, `mean ${s.mean.toFixed(3)}`);
  t.ok(Math.abs(s.sd - 10) < 0.2, `sd ${s.sd.toFixed(3)}`);
});

t.test('pareto jitter: never below latency, heavy tail, mean latency + jitter/2', async (t) => {
  const r = new Rng(3);
  const xs = Array.from({ length: N }, () => sampleDelay(r, 'pareto', 20, 10));
  const s = stats(xs);
  t.ok(s.min >= 20, 'never below the latency');
  t.ok(Math.abs(s.mean - 25) < 0.5, `mean ${s.mean.toFixed(3)}`);
  const sorted = [...xs].sort((a, b) => a - b);
  t.ok(sorted[Math.floor(N * 0.999)] > 20 + 5 * 10 * 0.5, 'a long tail at p99.9');
});

t.test('samples are clamped at zero and jitter 0 is exact', async (t) => {
  const r = new Rng(4);
  const xs = Array.from({ length: 10000 }, () => sampleDelay(r, 'normal', 1, 10));
  t.ok(
    xs.every((x) => x >= 0),
    'no negative delay',
  );
  t.equal(sampleDelay(r, 'paretonormal', 7, 0), 7);
});

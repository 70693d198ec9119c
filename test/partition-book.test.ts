// PartitionBook: one id and one expiry per partition, pair effects recomputed from every active
// partition (a total cut dominates a lossy one), only changed pairs touched, heal on removal.
import t from 'tap';
import { PartitionBook, type PairEffect } from '../src/daemon/partitions.js';
import { parsePartitionSpec as spec } from '../src/schema/partition.js';
import { ManualClock } from '../src/util/clock.js';
import { NotFound, Unprocessable } from '../src/util/errors.js';

function setup(enforce: boolean | string = true) {
  const clock = new ManualClock();
  const calls: [string, string, PairEffect | undefined][] = [];
  const now = new Map<string, PairEffect>();
  const enforcer = {
    setEffect(from: string, to: string, effect: PairEffect | undefined) {
      calls.push([from, to, effect]);
      if (effect) now.set(`${from}>${to}`, effect);
      else now.delete(`${from}>${to}`);
    },
  };
  let active = -1;
  const book = new PartitionBook({
    clock,
    members: () => ['s1', 's2', 's3'],
    leader: async () => 's1',
    enforcer: () => (enforce === true ? enforcer : typeof enforce === 'string' ? enforce : 'no enforcer'),
    changed: (n) => (active = n),
  });
  return { clock, calls, now, book, active: () => active };
}

/** a and b cannot reach each other (c, in no group, reaches both) */
const apart = (a: string, b: string, extra: object = {}) => spec({ groups: [[a], [b]], ...extra });

t.test('a partition cuts its pairs; removal heals them; ids and the active count', async (t) => {
  const { book, now, active } = setup();
  const p = await book.add(apart('s1', 's2'));
  t.equal(p.id, 'p1');
  t.same([...now.keys()].sort(), ['s1>s2', 's2>s1']);
  t.equal(active(), 1);
  t.same(book.memberState('s1'), { cutTo: ['s2'], cutFrom: ['s2'], partitions: ['p1'] });
  t.ok(book.remove(p.id));
  t.notOk(book.remove(p.id));
  t.equal(now.size, 0, 'healed');
  t.equal(active(), 0);
  t.throws(() => book.get(p.id), NotFound);
});

t.test('overlapping partitions: a pair stays cut until the last one covering it heals', async (t) => {
  const { book, now, calls } = setup();
  const a = await book.add(apart('s1', 's2'));
  const b = await book.add(spec({ isolate: 's1' }));
  t.equal(calls.length, 4, 'the pairs a already cut are not touched again');
  book.remove(a.id);
  t.same([...now.keys()].sort(), ['s1>s2', 's1>s3', 's2>s1', 's3>s1'], 'b still cuts s1 from both');
  book.remove(b.id);
  t.equal(now.size, 0);
});

t.test('a total cut dominates a lossy one on the same pair; the lossy one shows again when it heals', async (t) => {
  const { book, now } = setup();
  const lossy = await book.add(spec({ from: 's2', to: 's3', cut: { drop: 0.5 } }));
  t.same(now.get('s2>s3'), { kind: 'drop', probability: 0.5 });
  const cut = await book.add(spec({ from: 's2', to: 's3' }));
  t.same(now.get('s2>s3'), { kind: 'cut', established: 'blackhole' });
  const later = await book.add(spec({ from: 's2', to: 's3', cut: { delay: '100ms' } }));
  t.same(now.get('s2>s3'), { kind: 'cut', established: 'blackhole' }, 'still cut under a newer lossy one');
  book.remove(cut.id);
  t.same(now.get('s2>s3'), { kind: 'delay', latency: 100, jitter: 0 }, 'the newest lossy one');
  book.remove(later.id);
  t.same(now.get('s2>s3'), { kind: 'drop', probability: 0.5 });
  book.remove(lossy.id);
  t.equal(now.size, 0);
});

t.test('one expiry per partition, driven by the clock', async (t) => {
  const { book, now, clock } = setup();
  const p = await book.add(apart('s3', 's1', { duration: '20s' }));
  t.equal(Date.parse(p.expiresAt!) - Date.parse(p.createdAt), 20_000);
  clock.advance(19_999);
  t.equal(now.size, 2);
  clock.advance(1);
  t.equal(now.size, 0, 'healed at expiry');
  t.same(book.list(), []);
});

t.test('no enforcer: refused with the reason', async (t) => {
  const { book } = setup('partitions need members launched by this daemon');
  await t.rejects(book.add(apart('s1', 's2')), Unprocessable);
  await t.rejects(book.add(apart('s1', 's2')), { message: /launched by this daemon/ });
});

t.test('"leader" is resolved when applied; a preset records the seed it used', async (t) => {
  const { book, now } = setup();
  const p = await book.add(spec({ isolate: 'leader' }));
  t.same([...now.keys()].sort(), ['s1>s2', 's1>s3', 's2>s1', 's3>s1'], 'the leader (s1) cut off both ways');
  t.match(p.summary, /leader s1/);
  const h = await book.add(spec({ preset: 'halves', seed: 7 }));
  t.equal(h.seed, 7);
  const r = await book.add(spec({ preset: 'halves' }));
  t.type(r.seed, 'number', 'a preset without a seed gets one, shown for replay');
});

// The window log: one window per fault id however many links it is on, stamped when it took effect,
// one-shot faults as zero-length windows, the leader at each edge from the status round, leader changes
// written once per new leader (an election in progress is not a change).
import t from 'tap';
import { WindowLog, type LeaderView, type WindowMark } from '../src/daemon/windows.js';
import { ManualClock } from '../src/util/clock.js';

const turn = () => new Promise((r) => setImmediate(r));

function setup(views: (LeaderView | Error)[]) {
  const clock = new ManualClock();
  const marks: WindowMark[] = [];
  let i = 0;
  const log = new WindowLog({
    clock,
    leader: async () => {
      const v = views[Math.min(i++, views.length - 1)];
      if (v instanceof Error) throw v;
      return v;
    },
    sink: (m) => marks.push(m),
    tracking: () => true,
    pollMs: 1000,
  });
  return { clock, marks, log };
}

t.test('a fault on two links is one window, from its first part to its last', async (t) => {
  const { clock, marks, log } = setup([{ leader: 's1', term: 2 }]);
  clock.advance(1000); // the first status round
  await turn();
  log.start('f1', 'blackhole', 'link s1-peer');
  log.start('f1', 'blackhole', 'link s2-peer');
  log.describe('f1', { target: 'member s1,s2 peer links', scenario: 'sc1', step: 's2' });
  clock.advance(500);
  log.end('f1');
  t.equal(log.active().length, 1, 'still in force on one link');
  clock.advance(500);
  log.end('f1');
  t.equal(log.active().length, 0);
  await turn();
  const w = marks.filter((m) => m.mark === 'window');
  t.same(
    w.map((m) => [m.edge, m.id, m.target, m.at - clock.wallNow(), m.leader, m.term, m.scenario, m.step]),
    [
      ['start', 'f1', 'member s1,s2 peer links', -1000, 's1', 2, 'sc1', 's2'],
      ['end', 'f1', 'member s1,s2 peer links', 0, 's1', 2, 'sc1', 's2'],
    ],
  );
  const rec = log.get('f1')!;
  t.equal(rec.end! - rec.start, 1000);
  t.same(
    log.recent().map((r) => r.id),
    ['f1'],
  );
});

t.test('a one-shot fault is a zero-length window; ending an unknown id does nothing', async (t) => {
  const { marks, log } = setup([{ leader: 's1', term: 2 }]);
  log.instant('s1-client-3', 'reset', 'link s1-client');
  log.end('nope');
  await turn();
  const w = marks.filter((m) => m.mark === 'window');
  t.same(
    w.map((m) => [m.edge, m.kind]),
    [
      ['start', 'reset'],
      ['end', 'reset'],
    ],
  );
  t.equal(w[0].at, w[1].at);
});

t.test('leader changes: the first leader, then each new one; no leader or no answer is no change', async (t) => {
  const { clock, marks, log } = setup([
    { leader: 's1', term: 2 },
    { leader: 's1', term: 2 },
    { leader: null, term: 3 },
    new Error('members do not answer'),
    { leader: 's2', term: 3 },
    { leader: 's2', term: 3 },
  ]);
  for (let i = 0; i < 7; i++) {
    clock.advance(1000);
    await turn();
    await turn();
  }
  const l = marks.filter((m) => m.mark === 'leader') as Extract<WindowMark, { mark: 'leader' }>[];
  t.same(
    l.map((m) => [m.previous, m.leader, m.term]),
    [
      [null, 's1', 2],
      ['s1', 's2', 3],
    ],
  );
  t.same(log.leader, { leader: 's2', term: 3 });
  log.close();
});

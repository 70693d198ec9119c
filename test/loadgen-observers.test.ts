// The observer bus and the history recorder, without etcd: dispatch order, opt-in watch responses,
// and the history's bound with its count of what was dropped.
import t from 'tap';
import { ObserverBus, type OpEvent, type WatchResponseEvent } from '../src/loadgen/events.js';
import { HistoryRecorder } from '../src/loadgen/observers/history.js';

const op = (seq: number, type: OpEvent['type'] = 'invoke'): OpEvent => ({
  type,
  workload: 'put',
  op: 'put',
  seq,
  key: 0,
  at: seq,
  due: seq,
  connection: 0,
});
const response = (watcher: number): WatchResponseEvent => ({
  type: 'events',
  workload: 'watch',
  watcher,
  connection: 0,
  at: 0,
  revision: 10,
  events: [],
});

t.test('observers hear operations in subscription order; watch responses only those who ask', async (t) => {
  const bus = new ObserverBus();
  const heard: string[] = [];
  bus.subscribe({ name: 'a', onOp: (e) => heard.push(`a${e.seq}`) });
  t.notOk(bus.wantsWatch, 'nobody listens to watch responses yet: a workload can skip building them');
  bus.subscribe({ name: 'b', onOp: (e) => heard.push(`b${e.seq}`), onWatch: (e) => heard.push(`w${e.watcher}`) });
  t.ok(bus.wantsWatch);
  bus.op(op(1));
  bus.watch(response(7));
  bus.op(op(2));
  t.same(heard, ['a1', 'b1', 'w7', 'a2', 'b2']);
});

t.test('the history keeps operations up to its bound and counts the rest', async (t) => {
  const h = new HistoryRecorder({ limit: 3 });
  const bus = new ObserverBus();
  bus.subscribe(h);
  t.notOk(bus.wantsWatch, 'watch responses are not kept unless asked for');
  for (let i = 1; i <= 5; i++) bus.op(op(i));
  bus.op(op(1, 'ok'));
  t.same(
    h.entries.map((e) => ('seq' in e ? e.seq : -1)),
    [1, 2, 3],
  );
  t.equal(h.dropped, 3);
  const w = new HistoryRecorder({ limit: 10, watches: true });
  const bus2 = new ObserverBus();
  bus2.subscribe(w);
  bus2.op(op(1));
  bus2.watch(response(4));
  t.same(
    w.entries.map((e) => e.type),
    ['invoke', 'events'],
  );
});

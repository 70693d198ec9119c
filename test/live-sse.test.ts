// The live page's stream without a browser: the per-page queue is bounded (a page that reads nothing
// costs at most its limits, then reads a resync and goes on), the interval → chart row, the hub's events
// from the daemon's, and the token: the page and its assets are public, its data is not.
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { chartRow } from '../src/api/live/hub.js';
import { SseQueue, sseChunk } from '../src/api/live/sse-queue.js';
import { Daemon } from '../src/daemon.js';
import type { TimelineLine } from '../src/loadgen/report.js';
import { Metrics } from '../src/metrics.js';

t.test('a queue nobody reads stays within its limits, then says resync and goes on', async (t) => {
  const q = new SseQueue({ maxEvents: 50, maxBytes: 4096 });
  const big = { text: 'x'.repeat(200) };
  let most = 0;
  let mostEvents = 0;
  for (let i = 0; i < 100_000; i++) {
    q.push('interval', { i, ...big });
    most = Math.max(most, q.pendingBytes);
    mostEvents = Math.max(mostEvents, q.pendingEvents);
  }
  t.ok(most <= 4096, `at most ${most} bytes queued`);
  t.ok(mostEvents <= 50 && mostEvents > 1, `at most ${mostEvents} events queued`);
  t.ok(q.droppedTotal > 99_000, `dropped ${q.droppedTotal}`);
  const first = await q.next();
  t.match(first, /^event: resync\ndata: \{"dropped":\d+\}\n\n$/, 'the reader is told to resync first');
  // what was pushed after the last overflow is still there, in order, after the resync
  const rest: number[] = [];
  while (q.pendingEvents) rest.push(JSON.parse((await q.next())!.split('data: ')[1]).i);
  t.ok(rest.length > 0 && rest.every((i, k) => k === 0 || i === rest[k - 1] + 1), 'the kept events in order');
  t.equal(rest.at(-1), 99_999, 'up to the last one');
  t.equal(q.pendingBytes, 0);
});

t.test('a waiting reader gets the next event at once; close ends it', async (t) => {
  const q = new SseQueue({ maxEvents: 2, maxBytes: 1000 });
  const next = q.next();
  q.push('window', { id: 'f1' });
  t.equal(await next, sseChunk('window', { id: 'f1' }));
  t.equal(q.pendingEvents, 0, 'handed over, not queued');
  const ended = q.next();
  q.close();
  t.equal(await ended, undefined);
  q.push('window', { id: 'f2' });
  t.equal(q.pendingEvents, 0, 'nothing queued once closed');
  t.equal(sseChunk('x', { s: 'a\nb' }), 'event: x\ndata: {"s":"a\\nb"}\n\n', 'one data line');
});

const line = (over: Partial<TimelineLine> & { elapsed: number; failed: number }): TimelineLine =>
  ({
    time: new Date(1_700_000_000_000 + over.elapsed * 1000).toISOString(),
    putRate: 50,
    eventRate: 600,
    put: { count: 50, p50: 2, p90: 3, p99: 4, p999: 5, max: 6, mean: 2 },
    watch: { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
    counts: { issued: 50 * over.elapsed, failed: over.failed, indeterminate: 0 },
    violations: { ordered: 0, unique: 0, reliable: 0, unexpected: 0 },
    ...over,
  }) as unknown as TimelineLine;

t.test('an interval as a chart row', async (t) => {
  const a = line({ elapsed: 1, failed: 0 });
  const b = line({ elapsed: 3, failed: 10 });
  const row = chartRow(b, a);
  t.same(row, {
    t: 1_700_000_003,
    putP50: 2,
    putP99: 4,
    putP999: 5,
    watchP99: null,
    puts: 50,
    notOk: 5,
    events: 600,
  });
  t.equal(chartRow(a, undefined).notOk, 0);
});

t.test('the token: the page and its assets are public, its data and stream are not', async (t) => {
  const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
  t.teardown(() => daemon.close());
  const open = buildApp(daemon);
  const page = await open.request('/');
  t.equal(page.status, 200);
  t.match(await page.text(), /"token":false/, 'the page is told no token is needed');
  const locked = buildApp(daemon, { token: 'sekret-token-1' });
  const lockedPage = await (await locked.request('/')).text();
  t.match(lockedPage, /"token":true/);
  t.notMatch(lockedPage, /sekret/, 'the page carries no secret');
  for (const p of ['/ui/app.js', '/ui/uPlot.iife.min.js', '/ui/uPlot.min.css']) {
    const r = await locked.request(p);
    t.equal(r.status, 200, `${p} served without the token`);
    t.notMatch(await r.text(), /sekret/);
  }
  for (const p of ['/live', '/events', '/links'])
    t.equal((await locked.request(p)).status, 401, `${p} wants the token`);
  t.equal((await locked.request('/', { method: 'POST' })).status, 401, 'only GET is public');
  const live = await locked.request('/live', { headers: { Authorization: 'Bearer sekret-token-1' } });
  t.equal(live.status, 200);
  t.same(Object.keys(await live.json()).sort(), [
    'at',
    'leader',
    'leaders',
    'rows',
    'streams',
    'violations',
    'windows',
  ]);
});

t.test('the hub: window edges, new violations and the intervals reach an open stream', async (t) => {
  const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
  t.teardown(() => daemon.close());
  const app = buildApp(daemon);
  const res = await app.request('/events');
  t.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const read = async () => dec.decode((await reader.read()).value);
  t.equal(await read(), ': connected\n\n');
  daemon.windows.start('f1', 'delay', 'link s1-client', 1_700_000_000_000);
  t.match(await read(), /^event: window\ndata: .*"id":"f1".*"endMs":null/);
  daemon.emit('load-interval', line({ elapsed: 1, failed: 0 }));
  t.match(await read(), /^event: interval\ndata: \{"row":\{"t":1700000001,/);
  const bad = line({ elapsed: 2, failed: 0 });
  bad.violations.unique = 2;
  daemon.emit('load-interval', bad);
  t.match(await read(), /^event: violation\ndata: \{"at":1700000002000,"kind":"unique","count":2,"total":2\}/);
  t.match(await read(), /^event: interval/);
  daemon.windows.end('f1', 1_700_000_003_000);
  t.match(await read(), /"id":"f1".*"endMs":1700000003000/);
  const snap = await (await app.request('/live')).json();
  t.equal(snap.rows.length, 2);
  t.same(
    snap.violations.map((v: { kind: string }) => v.kind),
    ['unique'],
  );
  t.same(
    snap.windows.map((w: { id: string }) => w.id),
    ['f1'],
  );
  await reader.cancel();
});

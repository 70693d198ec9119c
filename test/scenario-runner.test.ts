// The scenario runner on a manual clock with a fake daemon: tracks start at their offsets, an action
// with a duration holds its track and is undone after it, sequences wait for conditions, an abort
// undoes what is in force and runs nothing more, random-follower picks avoid members already taken,
// skew is measured from the window's own start, and every window carries its scenario and step.
import t from 'tap';
import { ScenarioBook, type ScenarioDeps } from '../src/daemon/scenarios.js';
import { WindowLog, type WindowMark } from '../src/daemon/windows.js';
import { ManualClock } from '../src/util/clock.js';

const turn = () => new Promise((r) => setImmediate(r));
async function settle(n = 5) {
  for (let i = 0; i < n; i++) await turn();
}

function setup(
  opts: { healthyAfter?: number; failMember?: boolean; applyDelay?: number; onRoles?: (now: number) => void } = {},
) {
  const clock = new ManualClock();
  const marks: (WindowMark | { mark: 'scenario' })[] = [];
  const log: string[] = [];
  const windows = new WindowLog({
    clock,
    leader: async () => ({ leader: 's1', term: 2 }),
    sink: (m) => marks.push(m),
    tracking: () => false,
  });
  let seq = 0;
  const down = new Set<string>();
  const deps: ScenarioDeps = {
    clock,
    windows,
    async addFault(spec, target) {
      const id = `f${++seq}`;
      // the proxy stamps the window when the fault takes effect, which may be after the call was made
      if (opts.applyDelay) clock.advance(opts.applyDelay);
      windows.start(id, spec.type, `link ${target.links?.join(',')}`);
      log.push(`+${id} ${spec.type}@${clock.now()}`);
      return { id, links: target.links ?? [] };
    },
    roles: async () => {
      opts.onRoles?.(clock.now());
      return { leader: 's1', followers: ['s2', 's3'], others: [] };
    },
    removeFault(id) {
      windows.end(id);
      log.push(`-${id}@${clock.now()}`);
      return true;
    },
    async addPartition() {
      const id = `p${++seq}`;
      windows.start(id, 'partition', 'partition isolate s1');
      log.push(`+${id}@${clock.now()}`);
      return { id, summary: 'isolate s1' };
    },
    removePartition(id) {
      windows.end(id);
      log.push(`-${id}@${clock.now()}`);
      return true;
    },
    async member(target, action, avoid) {
      if (opts.failMember) throw new Error('member s9 is not launched by this daemon');
      // roles arrive resolved to names (the runner resolves them just before the due time)
      t.notOk(['leader', 'follower', 'random-follower'].includes(target), 'a name, not a role');
      const name = target;
      log.push(`${action} ${name}@${clock.now()} avoid=${avoid.join(',')}`);
      const id = `m${++seq}`;
      if (action === 'freeze' || action === 'kill') {
        down.add(name);
        windows.start(id, action, `member ${name}`);
      }
      if (action === 'continue' || action === 'start') {
        down.delete(name);
        for (const w of windows.active()) if (w.target.startsWith(`member ${name}`)) windows.end(w.id);
      }
      return { member: name, window: action === 'freeze' || action === 'kill' ? id : undefined };
    },
    setRate(rate) {
      log.push(`rate ${rate}@${clock.now()}`);
    },
    async check(c) {
      return c === 'healthy' && clock.now() >= (opts.healthyAfter ?? 0);
    },
    mark: (m) => marks.push(m as never),
  };
  return { clock, marks, log, windows, down, book: new ScenarioBook(deps) };
}

const fault = (step: string, link: string, duration?: number) => ({
  kind: 'action',
  step,
  label: `delay ${link}`,
  action: { type: 'fault', target: { links: [link] }, fault: { type: 'delay', latency: 100, jitter: 0 } },
  ...(duration !== undefined && { duration }),
});
const member = (step: string, action: string, target: string, duration?: number) => ({
  kind: 'action',
  step,
  label: `${action} ${target}`,
  action: { type: 'member', action, target },
  ...(duration !== undefined && { duration }),
});
const plan = (tracks: unknown[], extra: Record<string, unknown> = {}) =>
  ({ name: 'test', seed: 1, hash: 'abc', members: 3, tracks, ...extra }) as never;

t.test('tracks start at their offsets; a duration holds the action, then undoes it', async (t) => {
  const { clock, log, book, marks } = setup();
  const run = book.start(
    plan([
      { id: 't1', at: 1000, label: 'a', items: [fault('s1', 'l1', 2000)] },
      {
        id: 't2',
        at: 1500,
        label: 'b',
        items: [{ kind: 'action', step: 's2', label: 'rate', action: { type: 'load', rate: 50 } }],
      },
    ]),
  );
  t.equal(run.status().state, 'running');
  clock.advance(999);
  await settle();
  t.same(log, [], 'nothing before its offset');
  clock.advance(1);
  await settle();
  t.same(log, ['+f1 delay@1000']);
  clock.advance(500);
  await settle();
  t.same(log.at(-1), 'rate 50@1500');
  t.equal(run.status().active.length, 1, 'its window is active, tagged with the scenario');
  clock.advance(1500);
  await settle();
  t.same(log.at(-1), '-f1@3000', 'undone after its duration');
  await run.whenDone();
  const st = run.status();
  t.equal(st.state, 'done');
  t.same(st.steps, { planned: 2, applied: 2, failed: 0 });
  t.equal(st.skew.count, 2);
  t.equal(st.skew.max, 0, 'applied exactly when planned on a manual clock');
  const w = marks.filter((m) => m.mark === 'window') as Extract<WindowMark, { mark: 'window' }>[];
  t.same(
    w.map((m) => [m.edge, m.id, m.scenario, m.step]),
    [
      ['start', 'f1', run.id, 's1'],
      ['end', 'f1', run.id, 's1'],
    ],
    'the window marks name the scenario and the step',
  );
  t.same(
    marks.filter((m) => m.mark === 'scenario').map((m) => (m as { event: string }).event),
    ['start', 'done'],
  );
});

t.test('a sequence runs in order: sleeps, a wait for a condition, then the next action', async (t) => {
  const { clock, log, book } = setup({ healthyAfter: 4200 });
  const run = book.start(
    plan([
      {
        id: 't1',
        at: 0,
        label: 'rolling',
        items: [
          member('s1', 'kill', 's2', 1000),
          { kind: 'sleep', ms: 500 },
          { kind: 'wait', condition: 'healthy', timeout: 10000, onTimeout: 'fail' },
          member('s2', 'freeze', 's3', 1000),
        ],
      },
    ]),
  );
  await settle();
  t.same(log, ['kill s2@0 avoid=']);
  for (let i = 0; i < 24; i++) {
    clock.advance(250);
    await settle();
  }
  t.same(log.slice(0, 2), ['kill s2@0 avoid=', 'start s2@1000 avoid='], 'killed member started after its duration');
  t.match(log[2], /^freeze s3@4500/, 'the next action waited for the condition (polled every 500 ms)');
  t.same(log.at(-1), 'continue s3@5500 avoid=');
  await run.whenDone();
  const st = run.status();
  t.equal(st.log[1].plannedAt, undefined, 'a step after a wait has no planned time');
  t.equal(st.log[0].plannedAt, 0);
});

t.test('a wait that times out ends its track (fail) or goes on (continue)', async (t) => {
  const { clock, log, book } = setup({ healthyAfter: Infinity });
  const run = book.start(
    plan([
      {
        id: 't1',
        at: 0,
        label: 'x',
        items: [{ kind: 'wait', condition: 'healthy', timeout: 1000, onTimeout: 'fail' }, fault('s1', 'l1')],
      },
      {
        id: 't2',
        at: 0,
        label: 'y',
        items: [{ kind: 'wait', condition: 'healthy', timeout: 1000, onTimeout: 'continue' }, fault('s2', 'l2')],
      },
    ]),
  );
  await settle();
  for (let i = 0; i < 6; i++) {
    clock.advance(500);
    await settle();
  }
  await run.whenDone();
  t.same(log, ['+f1 delay@1000'], 'only the track that continues applied its fault');
  t.equal(run.status().errors.length, 2, 'both timeouts are reported');
  t.match(run.status().errors[0], /healthy not reached within 1000 ms/);
});

t.test('abort undoes every action in force and runs nothing more', async (t) => {
  const { clock, log, book, down, windows } = setup();
  const run = book.start(
    plan(
      [
        { id: 't1', at: 0, label: 'a', items: [fault('s1', 'l1', 60000)] },
        { id: 't2', at: 0, label: 'b', items: [member('s2', 'freeze', 'random-follower', 60000)] },
        { id: 't3', at: 100, label: 'c', items: [member('s3', 'kill', 'random-follower', 60000)] },
        { id: 't4', at: 30000, label: 'd', items: [fault('s4', 'l2')] },
      ],
      { duration: 120000 },
    ),
  );
  await settle();
  clock.advance(100);
  await settle();
  t.same(
    log.slice(1),
    ['freeze s2@0 avoid=s3', 'kill s3@100 avoid=s2'],
    'a random-follower pick avoids a member taken or reserved',
  );
  t.same([...down].sort(), ['s2', 's3']);
  const st = await run.abort();
  t.equal(st.state, 'aborted');
  t.same([...down], [], 'members restored');
  t.equal(windows.active().length, 0, 'every window closed');
  t.ok(log.includes('-f1@100'), 'fault removed');
  clock.advance(200000);
  await settle();
  t.notOk(
    log.some((l) => l.startsWith('+f') && l !== '+f1 delay@0'),
    'later tracks never run',
  );
  t.equal(book.current(), undefined);
});

t.test('one scenario at a time; a failed step is reported and its track goes on', async (t) => {
  const { clock, book, log } = setup({ failMember: true });
  const run = book.start(
    plan([{ id: 't1', at: 0, label: 'a', items: [member('s1', 'kill', 's9', 1000), fault('s2', 'l1')] }]),
  );
  t.throws(() => book.start(plan([])), { name: 'Conflict' }, 'a second scenario is refused while one runs');
  await settle();
  clock.advance(10);
  await settle();
  await run.whenDone();
  const st = run.status();
  t.same(st.steps, { planned: 2, applied: 1, failed: 1 });
  t.match(st.errors[0], /step s1 \(kill s9\): member s9 is not launched/);
  t.same(log, ['+f2 delay@0'.replace('f2', 'f1')]);
  t.throws(() => book.get('sc99'), { name: 'NotFound' });
});

t.test('skew: from when the step was due to when its window started', async (t) => {
  const { clock, book } = setup({ applyDelay: 7 });
  const run = book.start(plan([{ id: 't1', at: 50, label: 'a', items: [fault('s1', 'l1')] }], { duration: 100 }));
  clock.advance(50);
  await settle();
  t.equal(run.status().state, 'running', 'the scenario lasts its duration');
  clock.advance(100);
  await settle();
  await run.whenDone();
  t.equal(run.status().log[0].skewMs, 7);
  t.equal(run.status().skew.p99, 7);
});

t.test('roles are resolved a second ahead, so the step lands at its due time', async (t) => {
  const asked: number[] = [];
  const { clock, book, log } = setup({ onRoles: (now) => asked.push(now) });
  const run = book.start(
    plan([
      {
        id: 't1',
        at: 5000,
        label: 'a',
        items: [
          {
            kind: 'action',
            step: 's1',
            label: 'freeze the leader',
            action: { type: 'member', action: 'freeze', target: 'leader' },
            duration: 1000,
          },
        ],
      },
    ]),
  );
  for (let i = 0; i < 8; i++) {
    clock.advance(1000);
    await settle();
  }
  t.same(asked, [4000], 'asked who leads 1 s before the step was due');
  t.same(log.slice(0, 2), ['freeze s1@5000 avoid=', 'continue s1@6000 avoid=']);
  await run.whenDone();
  t.equal(run.status().log[0].skewMs, 0);
});

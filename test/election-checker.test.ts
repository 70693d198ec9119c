// The election checker on hand-made histories: a clean one gives no finding; each planted anomaly (an
// observer that skipped a leader it read, overlapping leaders by revision, an observer going back, a
// regressed proclaim, a paused leader) is reported once, with the right check; a skip Observe allows
// (the whole tenure between two reads) is counted, not reported.
import t from 'tap';
import {
  ElectionChecker,
  type ElectionFinding,
  type ObservedLeader,
} from '../src/loadgen/workloads/election/checker.js';

/**
 * The record of a clean election: a leads 10–13 (proclaims at 12), b (created 11) leads 13–16
 * (proclaims at 14), c (created 15) leads 16–17.
 */
function record(c: ElectionChecker): void {
  c.recordPut('e/a', 10, 10);
  c.recordPut('e/b', 11, 11);
  c.recordPut('e/a', 10, 12);
  c.recordDelete('e/a', 13);
  c.recordPut('e/b', 11, 14);
  c.recordPut('e/c', 15, 15);
  c.recordDelete('e/b', 16);
  c.recordDelete('e/c', 17);
}

const A0: ObservedLeader = { key: 'e/a', createRev: 10, modRev: 10, value: 'a:1:0', revision: 10 };
const A1: ObservedLeader = { key: 'e/a', createRev: 10, modRev: 12, value: 'a:1:1', revision: 12 };
const B0: ObservedLeader = { key: 'e/b', createRev: 11, modRev: 11, value: 'b:2:0', revision: 13 };
const B1: ObservedLeader = { key: 'e/b', createRev: 11, modRev: 14, value: 'b:2:1', revision: 14 };
const C0: ObservedLeader = { key: 'e/c', createRev: 15, modRev: 15, value: 'c:3:0', revision: 16 };

/** the candidates' side of the clean election (monotonic ms) */
function candidates(c: ElectionChecker): void {
  c.elected('a', 'e/a', 10, 0);
  c.proclaimed('e/a', 10, 'a:1:1', 12);
  c.steppedDown(10);
  c.elected('b', 'e/b', 11, 100);
  c.proclaimed('e/b', 11, 'b:2:1', 14);
  c.steppedDown(11);
  c.elected('c', 'e/c', 15, 200);
  c.steppedDown(15);
}

function run(plant: (c: ElectionChecker) => void, observers: ObservedLeader[][] = [[A0, A1, B0, B1, C0]]) {
  const found: ElectionFinding[] = [];
  const c = new ElectionChecker((f) => found.push(f));
  plant(c);
  observers.forEach((seq, o) => seq.forEach((r) => c.observed(o, r)));
  record(c);
  c.judge();
  c.finish(true);
  return { c, found, checks: found.map((f) => f.check) };
}

t.test('a clean election: no finding, every leader seen in order', async (t) => {
  const { c, found } = run(candidates, [
    [A0, A1, B0, B1, C0],
    [B1, C0],
  ]);
  t.same(found, []);
  t.same(
    c.tenures.map((x) => [x.key, x.elected, x.deleted]),
    [
      ['e/a', 10, 13],
      ['e/b', 13, 16],
      ['e/c', 16, 17],
    ],
  );
  t.same(c.seen(0), [10, 11, 15]);
  t.same(c.seen(1), [11, 15]);
  t.same(c.counts, { terms: 3, proclaims: 2, changes: 5, skips: 0, unjudged: 0 });
});

t.test('a skip Observe allows: the skipped tenure ended before the read that showed the next leader', async (t) => {
  const { c, found } = run(candidates, [[A0, A1, C0]]);
  t.same(found, []);
  t.equal(c.counts.skips, 1);
});

t.test('an observer that missed a leader it should have seen', async (t) => {
  // c shown by a read at 14, where b led (13–16): a Range at 14 returns b
  const { checks, found } = run(candidates, [[A0, A1, { ...C0, revision: 14 }]]);
  t.same(checks, ['missedLeader']);
  t.equal(found[0].key, 'e/b');
  t.equal(found[0].revision, 14);
  t.equal(found[0].observer, 0);
  t.match(found[0].detail, /skipping e\/b \(created 11\), which led from 13 to 16/);
});

t.test('two leaders overlapping by revision', async (t) => {
  const late = run((c) => {
    candidates(c);
    // a's key was deleted at 13: its proclaim cannot succeed at 14
    c.proclaimed('e/a', 10, 'a:1:2', 14);
  });
  t.same(late.checks, ['leaderOverlap']);
  t.match(late.found[0].detail, /after its key was deleted at 13; e\/b \(created 11\) led from 13/);
  const early = run((c) => {
    candidates(c);
    // b's Campaign returned before a's key was gone: b proclaims at 12, while a led
    c.proclaimed('e/b', 11, 'b:2:9', 12);
  });
  t.same(early.checks, ['leaderOverlap']);
  t.match(early.found[0].detail, /while e\/a \(created 10\) led from 10; it led only from 13/);
});

t.test('an out-of-order observer', async (t) => {
  const back = run(candidates, [[A0, B0, A1, B1, C0]]);
  t.same(back.checks, ['observerOrder']);
  t.match(back.found[0].detail, /went back from e\/b \(created 11\) to e\/a \(created 10\)/);
  // b shown at 12, while a still led: ahead of the record, out of order
  const ahead = run(candidates, [[A0, { ...B0, revision: 12 }, B1, C0]]);
  t.same(ahead.checks, ['observerOrder']);
  // b shown at 16, after its key was deleted: a stale leader
  const stale = run(candidates, [[A0, { ...B0, revision: 16 }]]);
  t.same(stale.checks, ['observerOrder']);
});

t.test('a regressed proclaim', async (t) => {
  const { checks, found } = run(candidates, [[A0, A1, { ...A0, revision: 12 }, B0, B1, C0]]);
  t.same(checks, ['proclaimOrder']);
  t.equal(found[0].observer, 0);
  // the same value again (a reopened stream reads the current one) is not a regression
  t.same(run(candidates, [[A0, A1, A1, B0, B1, C0]]).checks, []);
  // a newer value whose sequence went back within the same campaign
  const seq = run(candidates, [[A0, A1, { ...A1, modRev: 13, value: 'a:1:0', revision: 13 }]]);
  t.same(seq.checks, ['proclaimOrder']);
  // a new campaign on the same key (its resign failed) starts again at 0: not a regression
  t.same(run(candidates, [[A0, A1, { ...A1, modRev: 13, value: 'a:2:0', revision: 13 }]]).checks, []);
});

t.test('a paused leader still believing it leads is an anomaly, not a violation', async (t) => {
  const { found } = run((c) => {
    c.elected('a', 'e/a', 10, 0);
    c.elected('b', 'e/b', 11, 100);
  });
  t.same(
    found.map((f) => [f.type, f.check]),
    [['anomaly', 'unsafeLeader']],
  );
  t.match(found[0].detail, /b elected while a \(e\/a\) still believed it led, since 100 ms/);
});

t.test(
  'a Campaign answered for a key that never led is a ghost leader (an anomaly), on a complete record',
  async (t) => {
    const ghost = (complete: boolean, believes = true) => {
      const found: ElectionFinding[] = [];
      const c = new ElectionChecker((f) => found.push(f));
      c.elected('a', 'e/a', 10, 0);
      c.recordPut('e/a', 10, 10);
      c.recordPut('e/d', 11, 11);
      // d's lease expires while it waits behind a: its key goes first, yet its Campaign answers
      c.recordDelete('e/d', 12);
      if (believes) c.steppedDown(10);
      c.recordDelete('e/a', 13);
      c.elected('d', 'e/d', 11, 150, believes);
      c.finish(complete);
      t.equal(c.counts.terms, believes ? 2 : 1, 'a Campaign answer not believed is no term');
      return found;
    };
    t.same(ghost(false), [], 'not judged on an incomplete record');
    const found = ghost(true);
    t.same(
      found.map((f) => [f.type, f.check, f.key, f.revision]),
      [['anomaly', 'ghostLeader', 'e/d', 11]],
    );
    t.match(found[0].detail, /never led/);
    // d knew its lease was gone: no belief, so no unsafe leader beside a, which still leads
    t.same(
      ghost(true, false).map((f) => f.check),
      ['ghostLeader'],
    );
  },
);

t.test('claims wait for the record to read past their revision', async (t) => {
  const found: ElectionFinding[] = [];
  const c = new ElectionChecker((f) => found.push(f));
  c.recordPut('e/a', 10, 10);
  c.proclaimed('e/a', 10, 'a:1:1', 12);
  c.recordDelete('e/a', 11);
  c.judge();
  t.same(found, [], 'the record has read to 11 only: the proclaim at 12 waits');
  c.progress(12);
  c.judge();
  t.same(
    found.map((f) => f.check),
    ['leaderOverlap'],
  );
  c.proclaimed('e/a', 10, 'a:1:2', 30);
  c.finish(true);
  t.equal(c.counts.unjudged, 1, 'a claim past the record stays unjudged');
  t.equal(found.length, 1);
});

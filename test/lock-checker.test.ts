// The lock checker on planted histories: a clean run of holders finds nothing; two overlapping fenced
// writes, a token out of order, an overlapping hold and a grant whose key was gone are each reported
// once, with the right check — whichever order the records reach the checker in.
import t from 'tap';
import { LockChecker, type LockFinding, type LockGrant } from '../src/loadgen/workloads/lock/checker.js';

function checker() {
  const found: LockFinding[] = [];
  return { c: new LockChecker((f) => found.push(f)), found };
}

const key = (h: string) => `/soak/run-lock/mutex/${h}`;
const grant = (holder: string, token: number | undefined, revision: number, at: number): LockGrant => ({
  holder,
  key: key(holder),
  token,
  revision,
  at,
});

/** holder i: key created at 10i, granted at 10i + 2, writes at 10i + 3, releases at 10i + 4 */
function cleanHistory(c: LockChecker, n: number) {
  for (let i = 1; i <= n; i++) {
    const h = `c${i}`;
    const id = c.grant(grant(h, 10 * i, 10 * i + 2, 100 * i));
    c.write({ holder: h, key: key(h), token: 10 * i, revision: 10 * i + 3, succeeded: true });
    c.release(id, 100 * i + 50);
  }
}

t.test('a clean history: no finding', async (t) => {
  const { c, found } = checker();
  cleanHistory(c, 50);
  // a fenced write of a holder whose turn is over is rejected by etcd: no finding either
  c.write({ holder: 'c1', key: key('c1'), token: 10, revision: 600, succeeded: false });
  t.same(found, []);
  t.equal(c.openHolds, 0);
});

t.test(
  'two overlapping fenced writes: the old holder wrote after the newer grant, one fencing violation',
  async (t) => {
    const { c, found } = checker();
    const a = c.grant(grant('a', 5, 6, 0));
    c.write({ holder: 'a', key: key('a'), token: 5, revision: 7, succeeded: true });
    c.release(a, 10);
    const b = c.grant(grant('b', 8, 10, 20));
    c.write({ holder: 'b', key: key('b'), token: 8, revision: 11, succeeded: true });
    // a's second write, guarded by its token, succeeded at 12: after b's grant at 10
    c.write({ holder: 'a', key: key('a'), token: 5, revision: 12, succeeded: true });
    c.release(b, 30);
    t.equal(found.length, 1);
    t.match(found[0], { type: 'violation', check: 'fencing', key: key('a'), revision: 12 });
    t.match(found[0].detail, /token 5 succeeded at revision 12, after b was granted .* revision 10 with token 8/);
  },
);

t.test('the same, with the newer grant reaching the checker after the write', async (t) => {
  const { c, found } = checker();
  c.grant(grant('a', 5, 6, 0));
  c.write({ holder: 'a', key: key('a'), token: 5, revision: 12, succeeded: true });
  c.grant(grant('b', 8, 10, 1));
  c.grant(grant('z', 20, 21, 2)); // a later grant must not report the same write again
  t.equal(found.filter((f) => f.check === 'fencing').length, 1);
  t.match(
    found.find((f) => f.check === 'fencing'),
    { type: 'violation', key: key('a'), revision: 12 },
  );
});

t.test('a token out of order: one tokenOrder violation', async (t) => {
  const { c, found } = checker();
  c.release(c.grant(grant('a', 5, 6, 0)), 1);
  c.release(c.grant(grant('b', 9, 12, 2)), 3);
  // granted at 15 with a lower token than b granted at 12
  c.release(c.grant(grant('c', 7, 15, 4)), 5);
  c.release(c.grant(grant('d', 16, 18, 6)), 7);
  t.equal(found.length, 1);
  t.match(found[0], { type: 'violation', check: 'tokenOrder', key: key('c'), revision: 15 });
  t.match(found[0].detail, /token 7, after b granted at revision 12 with token 9/);
});

t.test('a token out of order reaching the checker before the grant it should follow', async (t) => {
  const { c, found } = checker();
  c.release(c.grant(grant('a', 5, 6, 0)), 1);
  c.release(c.grant(grant('c', 20, 25, 2)), 3);
  // decided at revision 22 (before c's 25) yet its token 30 is higher than c's
  c.release(c.grant(grant('b', 30, 22, 4)), 5);
  t.equal(found.length, 1);
  t.match(found[0], { check: 'tokenOrder', key: key('b'), revision: 22 });
  t.match(found[0].detail, /before c granted at revision 25 with token 20/);
});

t.test('two grants decided at one revision: tokenOrder', async (t) => {
  const { c, found } = checker();
  c.release(c.grant(grant('a', 5, 9, 0)), 1);
  c.release(c.grant(grant('b', 7, 9, 2)), 3);
  t.equal(found.length, 1);
  t.match(found[0], { check: 'tokenOrder', revision: 9 });
});

t.test('an overlapping hold: one unsafeHold anomaly, not a violation', async (t) => {
  const { c, found } = checker();
  const a = c.grant(grant('a', 5, 6, 1000));
  // b is granted (its token in order) while a has not sent its release yet
  const b = c.grant(grant('b', 8, 10, 1500));
  c.release(a, 1700);
  c.release(b, 1800);
  c.release(c.grant(grant('c', 12, 14, 1900)), 2000);
  t.equal(found.length, 1);
  t.match(found[0], { type: 'anomaly', check: 'unsafeHold', key: key('b') });
  t.match(found[0].detail, /b was granted the lock while a held it/);
});

t.test('an overlap found when the earlier grant reaches the checker last', async (t) => {
  const { c, found } = checker();
  const b = c.grant(grant('b', 8, 10, 1500));
  c.release(b, 1800);
  // a was granted at 1000 (its key check took a while) and had not released by 1500
  c.grant(grant('a', 5, 6, 1000));
  t.equal(found.length, 1);
  t.match(found[0], { check: 'unsafeHold', key: key('a') });
});

t.test('holds that only touch do not overlap', async (t) => {
  const { c, found } = checker();
  c.release(c.grant(grant('a', 5, 6, 1000)), 1200);
  c.release(c.grant(grant('b', 8, 10, 1200)), 1300);
  t.same(found, []);
});

t.test('a grant whose key was gone: one unsafeGrant anomaly, outside tokenOrder and fencing', async (t) => {
  const { c, found } = checker();
  c.release(c.grant(grant('a', 5, 6, 0)), 10);
  c.release(c.grant(grant('b', undefined, 20, 20)), 30);
  c.write({ holder: 'b', key: key('b'), token: undefined, revision: 21, succeeded: false });
  c.release(c.grant(grant('c', 15, 22, 40)), 50);
  t.equal(found.length, 1);
  t.match(found[0], { type: 'anomaly', check: 'unsafeGrant', key: key('b'), revision: 20 });
  t.match(found[0].detail, /its key did not exist then/);
});

t.test('the windows are bounded and keep judging', async (t) => {
  const found: LockFinding[] = [];
  const c = new LockChecker((f) => found.push(f), 8);
  cleanHistory(c, 100);
  t.same(found, []);
  c.release(c.grant(grant('late', 5, 2000, 20_000)), 20_001);
  t.equal(found.length, 1, 'a token lower than the last grant still found');
  t.match(found[0], { check: 'tokenOrder' });
});

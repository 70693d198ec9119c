// The config workload's checker, pure: planted anomalies (a skipped version, a version that regresses
// after a resume, a duplicate, a mod revision out of order) are each reported once with the right
// check; a clean sequence (resumes included) gives none, and the convergence/apply figures time from
// the writer's acknowledgement.
import t from 'tap';
import { ConfigChecker, type ConfigFinding } from '../src/loadgen/workloads/config/checker.js';
import { parseConfig } from '../src/loadgen/workloads/config/writer.js';

const START = 100;

function make(watchers: number) {
  const findings: ConfigFinding[] = [];
  const figures: Record<string, number[]> = { convergence: [], apply: [] };
  const c = new ConfigChecker(watchers, START, {
    finding: (f) => findings.push(f),
    figure: (name, ms) => figures[name].push(ms),
  });
  return { c, findings, figures };
}

/** version v written at mod revision START + v, acknowledged at 10·v ms */
const mod = (v: number) => START + v;

t.test('a clean sequence, with a resume in the middle: no finding, every version converges', async (t) => {
  const { c, findings, figures } = make(3);
  for (let v = 1; v <= 10; v++) {
    c.writtenAt(v, 10 * v);
    for (let w = 0; w < 3; w++) {
      if (v === 6 && w === 1) {
        t.equal(c.resumeRevision(1), mod(5) + 1, 'a resume starts after the last applied mod revision');
        c.resumed(1);
      }
      c.applied(w, v, mod(v), 10 * v + w + 1);
    }
  }
  t.same(findings, []);
  t.same(c.counts, { skipped: 0, duplicate: 0, regressed: 0, modOrder: 0, stale: 0 });
  t.equal(figures.convergence.length, 10, 'each version converged once');
  t.same(figures.convergence, Array(10).fill(3), 'ack → the last watcher applied');
  t.equal(figures.apply.length, 30, 'one apply figure per watcher and version');
  t.same(c.behind(10), []);
  t.equal(c.current(10), 3);
});

t.test('a skipped version is reported once as skipped', async (t) => {
  const { c, findings } = make(2);
  for (let v = 1; v <= 5; v++) {
    c.writtenAt(v, 10 * v);
    c.applied(0, v, mod(v), 10 * v + 1);
    if (v !== 3) c.applied(1, v, mod(v), 10 * v + 1);
  }
  t.equal(findings.length, 1);
  t.match(findings[0], { check: 'skipped', watcher: 1, version: 4, modRevision: mod(4), afterResume: false });
  t.match(findings[0].detail, /from version 2 to 4: 1 skipped/);
  t.equal(c.counts.skipped, 1);
  t.same(c.behind(5), [], 'the watcher went on from the version it jumped to');
});

t.test('a version lower than one applied, after a resume, is reported once as regressed', async (t) => {
  const { c, findings } = make(1);
  for (let v = 1; v <= 4; v++) {
    c.writtenAt(v, 10 * v);
    c.applied(0, v, mod(v), 10 * v + 1);
  }
  c.resumed(0);
  // a member behind served the resumed watch from an older revision (etcd #15271's symptom)
  c.applied(0, 2, mod(2), 50);
  t.equal(findings.length, 1);
  t.match(findings[0], { check: 'regressed', watcher: 0, version: 2, afterResume: true });
  t.match(findings[0].detail, /got version 2 .* after a resume, after applying 4/);
  // the next version in order is fine again: one finding for the one regressed event
  c.writtenAt(5, 60);
  c.applied(0, 5, mod(5), 61);
  t.equal(findings.length, 1);
  t.equal(c.version(0), 5);
});

t.test('the same version twice is reported once as duplicate', async (t) => {
  const { c, findings } = make(1);
  c.writtenAt(1, 10);
  c.applied(0, 1, mod(1), 11);
  c.writtenAt(2, 20);
  c.applied(0, 2, mod(2), 21);
  c.applied(0, 2, mod(2), 22);
  c.writtenAt(3, 30);
  c.applied(0, 3, mod(3), 31);
  t.equal(findings.length, 1);
  t.match(findings[0], { check: 'duplicate', watcher: 0, version: 2, afterResume: false });
});

t.test('a mod revision not after the last applied is reported once as modOrder', async (t) => {
  const { c, findings } = make(1);
  c.writtenAt(1, 10);
  c.applied(0, 1, mod(1), 11);
  c.writtenAt(2, 20);
  c.applied(0, 2, mod(2), 21);
  c.resumed(0);
  // the next version, in order, but at a mod revision at or below the last one: across a resume too
  c.writtenAt(3, 30);
  c.applied(0, 3, mod(2), 31);
  t.equal(findings.length, 1);
  t.match(findings[0], { check: 'modOrder', watcher: 0, version: 3, modRevision: mod(2), afterResume: true });
});

t.test('the first version of a fresh key must be 1', async (t) => {
  const { c, findings } = make(1);
  c.writtenAt(1, 10);
  c.writtenAt(2, 20);
  c.applied(0, 2, mod(2), 21);
  t.equal(findings.length, 1);
  t.equal(findings[0].check, 'skipped');
});

t.test('a gap after a compaction is not a skip', async (t) => {
  const { c, findings } = make(1);
  c.writtenAt(1, 10);
  c.applied(0, 1, mod(1), 11);
  c.allowGap(0);
  for (let v = 2; v <= 6; v++) c.writtenAt(v, 10 * v);
  c.applied(0, 6, mod(6), 70);
  t.same(findings, []);
  c.writtenAt(7, 80);
  c.applied(0, 9, mod(9), 90);
  t.equal(findings.length, 1, 'only the one gap was allowed');
});

t.test('figures: applies before the acknowledgement, versions learned without one', async (t) => {
  const { c, findings, figures } = make(2);
  // version 1's event reaches both watchers before the writer's answer
  c.applied(0, 1, mod(1), 5);
  c.applied(1, 1, mod(1), 6);
  t.same(figures.convergence, []);
  c.writtenAt(1, 10);
  t.same(figures.apply, [0, 0], 'applied before the ack: 0');
  t.same(figures.convergence, [0]);
  // version 2's write was indeterminate; a read learned it: no acknowledgement to time from
  c.applied(0, 2, mod(2), 15);
  c.writtenAt(2, undefined);
  c.applied(1, 2, mod(2), 16);
  c.writtenAt(3, 30);
  c.applied(0, 3, mod(3), 40);
  t.equal(figures.convergence.length, 1, 'version 3 waits for watcher 1');
  c.applied(1, 3, mod(3), 45);
  t.same(figures.convergence, [0, 15]);
  t.same(figures.apply, [0, 0, 10, 15]);
  t.same(findings, []);
});

t.test('a watcher that stays behind is judged stale by the workload', async (t) => {
  const { c, findings } = make(2);
  for (let v = 1; v <= 3; v++) {
    c.writtenAt(v, 10 * v);
    c.applied(0, v, mod(v), 10 * v + 1);
  }
  c.applied(1, 1, mod(1), 12);
  t.same(c.behind(3), [1]);
  c.stale(1, 3, mod(3), 'its stream was open');
  t.equal(findings.length, 1);
  t.match(findings[0], { check: 'stale', watcher: 1, version: 1 });
});

t.test("the config value's version", async (t) => {
  t.equal(parseConfig(Buffer.from('{"version":7,"writtenAt":"x"}')), 7);
  t.equal(parseConfig(Buffer.from('{"version":0}')), undefined);
  t.equal(parseConfig(Buffer.from('{"version":"7"}')), undefined);
  t.equal(parseConfig(Buffer.from('{"vers')), undefined);
});

// What people read: durations printed humanly (4.9s, not 4911.103ms), the two ledgers apart.
import t from 'tap';
import { formatStatusLine, formatSummaryTable, type LoadSummary, type TimelineLine } from '../src/loadgen/report.js';
import { humanMs } from '../src/util/human.js';

t.test('humanMs', async (t) => {
  const cases: [number, string][] = [
    [0.4213, '0.42ms'],
    [9.81, '9.8ms'],
    [12, '12ms'],
    [812.4, '812ms'],
    [4911.103, '4.91s'],
    [14_960, '15s'],
    [14_940, '14.9s'],
    [65_000, '1m5s'],
    [120_000, '2m'],
    [7_380_000, '2h3m'],
  ];
  for (const [ms, text] of cases) t.equal(humanMs(ms), text, `${ms} ms`);
});

const pct = (p99: number) => ({ count: 10, p50: p99 / 2, p90: p99, p99, p999: p99, max: p99, mean: p99 / 2 });
const counts = {
  issued: 10,
  ok: 8,
  failed: 1,
  indeterminate: 1,
  applied: 1,
  notApplied: 0,
  slips: 0,
  events: 40,
  resumes: 2,
  compacted: 0,
  overloadedIntervals: 0,
};
const generator = { stalls: 1, garbled: 2, streamBreaks: 3, overloadedIntervals: 0 };
const violations = { ordered: 0, unique: 0, reliable: 0, unexpected: 0, linearizability: 0 };

t.test('the status line prints durations for people and the generator apart from violations', async (t) => {
  const line = {
    elapsed: 65.2,
    putRate: 200,
    eventRate: 1000,
    put: pct(4911.103),
    watch: pct(9.81),
    counts,
    violations,
    generator,
    watchers: { watching: 60, resuming: 0 },
    overloaded: false,
  } as unknown as TimelineLine;
  const text = formatStatusLine(line);
  t.match(text, /^\[1m5s\] puts 200\/s p99 4\.91s \| events 1000\/s watch p99 9\.8ms \|/);
  t.match(text, /violations 0 \|/);
  t.match(text, /generator: 1 stalls 2 garbled/);
  t.notMatch(text, /\d\.\d{3}ms/);
  t.notMatch(text, /faults|partition/, 'nothing injected, nothing said');
  const during = formatStatusLine({
    ...line,
    activeFaults: [
      { link: 's1-client', id: 's1-client-1', type: 'delay', scope: 'tx' },
      { link: 'peers', id: 'p1', type: 'partition', scope: 'isolate leader s1: s1 ⟷ {s2,s3}' },
    ],
  } as TimelineLine);
  t.match(
    during,
    / \| faults 1 \| partition p1 isolate leader s1: s1 ⟷ \{s2,s3\}/,
    'the partition in force, by id and shape',
  );
});

t.test('the summary table: etcd verdict line, generator line, findings', async (t) => {
  const s = {
    runId: 'abcdefgh',
    state: 'stopped',
    reason: 'test',
    elapsed: 10,
    endpoints: ['127.0.0.1:1'],
    profile: { rate: 1, watchers: 2 },
    counts,
    violations,
    generator,
    watchers: {},
    averages: { putRate: 1, eventRate: 4 },
    findings: {
      late: 3,
      maxLateMs: 12_345,
      falseSkips: 1,
      unverifiedSkips: 0,
      corruptedWrites: 0,
      unchecked: 0,
      behindAtEnd: 0,
      behind: [],
    },
    latency: { put: pct(2.5), putError: pct(5000), putSend: pct(1.2), watch: pct(3) },
    verdict: { ordered: 'held', unique: 'held', reliable: 'held', unexpected: 'none' },
    record: { replayedTo: 99, events: 5 },
  } as unknown as LoadSummary;
  const text = formatSummaryTable(s);
  t.match(
    text,
    /puts: 8 ok, 1 failed unsent, 1 indeterminate \(1 applied, 0 not applied per etcd's record up to revision 99\)/,
  );
  t.match(text, /etcd's guarantees: ordered held \(0\), unique held \(0\), reliable held \(0\), unexpected events 0/);
  t.match(
    text,
    /generator \(not etcd's\): 1 stalled stream\(s\) reset, 3 stream break\(s\) resumed, 2 garbled event\(s\) re-read, 1 suspected skip\(s\) not in etcd's history/,
  );
  t.match(text, /latency finding: 3 event\(s\) arrived more than settle after their put \(max 12\.3s\)/);
  t.match(text, /put failed\s+10\s+2\.5s\s+5s\s+5s/);
  t.match(text, /put sent late\s+10\s+0\.60ms\s+1\.2ms\s+1\.2ms/, "the generator's own lateness, apart");
});

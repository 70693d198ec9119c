// The watch fan-out runs of bench:load: this project's generator (events delivered and checked) and
// etcd's Go `benchmark watch` at the same watchers, streams and put rate.
import { performance } from 'node:perf_hooks';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { parseGoReport, runGoBench } from './go-bench.js';

export const WIRE = 'wire (etcd-soak)';
export const GO = 'Go benchmark';

export interface FanoutRun {
  client: string;
  round: number;
  watchers: number;
  putRate: number;
  puts: number;
  events: number;
  expectedEvents: number;
  /** events over the time from the first put to the last event (as Go's watch counts its own) */
  eventsPerSec: number;
  /** the mean of the full report intervals (ours only) */
  steadyEventsPerSec?: number;
  watchP99ms?: number;
  clientCores: number;
  clientUsPerEvent: number;
  etcdCores?: number;
  overloadedIntervals?: number;
  violations?: number;
  error?: string;
}

export type EtcdCpu = () => number | undefined;

interface Line {
  elapsed: number;
  eventRate: number;
  counts: { ok: number; events: number };
}

/**
 * Events per second from the first put to the last event checked, the way Go's watch benchmark counts
 * its own (puts to the last event), from the 1 s report lines: the first put is placed by the open-loop
 * rate (the first line's acknowledged puts went out at `rate` just before it), and the last event by
 * interpolation inside the line that reached the total.
 */
function overallRate(lines: Line[], rate: number, total: number): number | undefined {
  const first = lines.find((l) => l.counts.ok > 0);
  if (!first || !total) return undefined;
  const start = first.elapsed - first.counts.ok / rate;
  let prev = { elapsed: start, events: 0 };
  for (const l of lines) {
    if (l.counts.events >= total) {
      const span = l.counts.events - prev.events;
      const end = span > 0 ? prev.elapsed + ((total - prev.events) / span) * (l.elapsed - prev.elapsed) : l.elapsed;
      return end > start ? total / (end - start) : undefined;
    }
    if (l.elapsed > start) prev = { elapsed: l.elapsed, events: l.counts.events };
  }
  return undefined;
}

export async function wireFanout(
  endpoints: string[],
  round: number,
  watchers: number,
  streams: number,
  rate: number,
  seconds: number,
  etcdCpu: EtcdCpu,
): Promise<FanoutRun> {
  const runner = new LoadRunner({
    profile: loadProfileSchema.parse({
      watchers,
      keys: 1,
      connections: streams,
      rate,
      duration: `${seconds}s`,
      interval: '1s',
      settle: '10s',
      maxInFlight: 4096,
    }),
    endpoints,
    reportDir: null,
  });
  const lines: Line[] = [];
  runner.on('interval', (l: Line) => lines.push(l));
  const cpu0 = process.cpuUsage();
  const e0 = etcdCpu();
  const t0 = performance.now();
  const done = new Promise<LoadSummary>((r) => runner.once('done', r));
  await runner.start();
  const s = await done;
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const e1 = etcdCpu();
  const steady = lines.slice(1, -1).map((l) => l.eventRate);
  const cpuSec = (c.user + c.system) / 1e6;
  return {
    client: WIRE,
    round,
    watchers,
    putRate: rate,
    puts: s.counts.ok,
    events: s.counts.events,
    expectedEvents: (s.counts.ok + s.counts.applied) * watchers,
    eventsPerSec: overallRate(lines, rate, s.counts.events) ?? s.averages.eventRate,
    steadyEventsPerSec: steady.length ? steady.reduce((a, b) => a + b, 0) / steady.length : undefined,
    watchP99ms: s.latency.watch.p99,
    clientCores: cpuSec / wall,
    clientUsPerEvent: s.counts.events ? (cpuSec / s.counts.events) * 1e6 : NaN,
    etcdCores: e0 === undefined || e1 === undefined ? undefined : (e1 - e0) / wall,
    overloadedIntervals: s.counts.overloadedIntervals,
    violations: s.violations.ordered + s.violations.unique + s.violations.reliable + s.violations.unexpected,
  };
}

/** Go's `benchmark watch`: `streams` streams of watchers/streams watchers each, all on one key. */
export async function goFanout(
  bin: string,
  endpoints: string[],
  round: number,
  watchers: number,
  streams: number,
  rate: number,
  seconds: number,
  etcdCpu: EtcdCpu,
): Promise<FanoutRun> {
  const perStream = Math.ceil(watchers / streams);
  const total = Math.round(rate * seconds);
  const e0 = etcdCpu();
  const run = await runGoBench(
    bin,
    [
      `--endpoints=${endpoints.join(',')}`,
      `--conns=${streams}`,
      `--clients=${streams}`,
      'watch',
      `--streams=${streams}`,
      `--watch-per-stream=${perStream}`,
      '--watched-key-total=1',
      '--key-space-size=1',
      `--put-rate=${Math.round(rate)}`,
      `--put-total=${total}`,
    ],
    // it only ends once every event arrived: a run that loses events is killed
    (seconds * 5 + 60) * 1000,
  );
  const e1 = etcdCpu();
  const r = parseGoReport(run.out, 'Watch events received summary');
  const ok = !run.error && r.requestsPerSec !== undefined;
  const events = ok ? perStream * streams * total : 0;
  return {
    client: GO,
    round,
    watchers: perStream * streams,
    putRate: rate,
    puts: ok ? total : 0,
    events,
    expectedEvents: perStream * streams * total,
    eventsPerSec: ok ? r.requestsPerSec! : NaN,
    clientCores: run.cpuSec / run.wallSec,
    clientUsPerEvent: ok ? (run.cpuSec / events) * 1e6 : NaN,
    etcdCores: e0 === undefined || e1 === undefined ? undefined : (e1 - e0) / run.wallSec,
    error: run.error ?? (ok ? undefined : 'no events summary in its output'),
  };
}

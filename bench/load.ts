// Load-generator benchmark against a local 3-member cluster (or --endpoints): (a) max put throughput of
// the lean wire client vs the npm etcd3 client (and etcd's Go `benchmark put` with --go-bench) at the
// same connections/in-flight, with each client's CPU per put; (b) watch fan-out: events delivered *and
// checked* per second with N watchers on one key (and Go's `benchmark watch` at the same watchers, streams
// and put rate). Contenders run in interleaved rounds, the keyspace compacted and defragmented before
// each run; every figure is the median of the rounds with its min–max. Prints tables and writes JSON.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { controlClient, memberStatuses } from '../src/etcd/control.js';
import { startCluster, type Cluster } from '../src/cluster/launch.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { parseGoReport, runGoBench } from './go-bench.js';
import { GO, WIRE, goFanout, wireFanout, type FanoutRun } from './load-fanout.js';
import {
  compactAndDefragment,
  formatSpread,
  machineLoad,
  medianRatio,
  packageRoot,
  percentile,
  processesCpuSeconds,
  roundOrder,
  spread,
  writeResults,
  type Spread,
} from './lib.js';

const HELP = `Usage: npm run bench:load -- [options]

  --endpoints LIST     use an existing cluster (default: start a local 3-member one)
  --pairs LIST         connections/in-flight pairs for max put throughput (default 1/64,4/256)
  --seconds N          seconds per throughput run (default 6)
  --rounds N           interleaved rounds of every contender; figures are medians (default 3)
  --watchers N         watchers for the fan-out run, all on one key (default 1000)
  --watch-rate N       puts/s during the fan-out run (default 200)
  --streams N          watch streams (connections) for the fan-out run (default 4)
  --watch-seconds N    length of the fan-out run (default 10)
  --go-bench PATH      etcd's Go \`benchmark\` tool (v3.4 tools/benchmark; Debian does not package it,
                       build it from etcd's source): its \`put\` runs at each pair and its \`watch\` at the
                       same watchers, streams and put rate, in the same rounds, with its own CPU
  --skip-etcd3         do not measure the npm etcd3 client
  --all-endpoints      spread puts over every endpoint (default: the leader only, as etcd's own
                       benchmark numbers are usually taken)
  --out FILE           JSON output (default bench/results/load-<time>.json)
  -h, --help           this text`;

const root = packageRoot(import.meta.url);
const ETCD3 = 'npm etcd3';

/** One run of one contender. CPU: the client's own process (this one, or the Go tool's). */
interface PutRun {
  client: string;
  conns: number;
  inFlight: number;
  round: number;
  puts: number;
  putsPerSec: number;
  p50ms?: number;
  p99ms?: number;
  clientCores: number;
  clientUsPerPut: number;
  /** the etcd members' CPU over the run (local cluster only) */
  etcdCores?: number;
  error?: string;
}

/** Closed-loop puts: `inFlight` workers, each putting as soon as its previous put returns. */
async function maxPuts(
  inFlight: number,
  seconds: number,
  put: (worker: number, key: string, value: Buffer) => Promise<unknown>,
) {
  const value = Buffer.alloc(256, 0x61);
  const lat = new Float64Array(2_000_000);
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        const s = performance.now();
        await put(w, `bench/k${i++ % 1000}`, value);
        if (n < lat.length) lat[n] = performance.now() - s;
        n++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuSec = (c.user + c.system) / 1e6;
  const m = Math.min(n, lat.length);
  return { puts: n, wall, cpuSec, p50ms: percentile(lat, 50, m), p99ms: percentile(lat, 99, m) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      pairs: { type: 'string', default: '1/64,4/256' },
      seconds: { type: 'string', default: '6' },
      rounds: { type: 'string', default: '3' },
      watchers: { type: 'string', default: '1000' },
      'watch-rate': { type: 'string', default: '200' },
      streams: { type: 'string', default: '4' },
      'watch-seconds': { type: 'string', default: '10' },
      'go-bench': { type: 'string' },
      'skip-etcd3': { type: 'boolean' },
      'all-endpoints': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const num = (k: keyof typeof values) => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k}: expected a positive number, got ${values[k]}`);
    return v;
  };
  const pairs = String(values.pairs)
    .split(',')
    .map((p) => {
      const [c, f] = p.split('/').map(Number);
      if (!Number.isInteger(c) || !Number.isInteger(f) || c < 1 || f < 1)
        throw new Error(`--pairs: expected CONNS/INFLIGHT items, got ${p}`);
      return { conns: c, inFlight: f };
    });
  const seconds = num('seconds');
  const rounds = Math.round(num('rounds'));
  const goBin = values['go-bench'];
  const watchers = Math.round(num('watchers'));
  const streams = Math.round(num('streams'));
  const watchRate = num('watch-rate');
  const watchSeconds = num('watch-seconds');
  const loadBefore = machineLoad();

  let cluster: Cluster | undefined;
  let endpoints: string[];
  if (values.endpoints) endpoints = values.endpoints.split(',');
  else {
    process.stderr.write('starting a local 3-member cluster...\n');
    cluster = await startCluster({ size: 3 });
    endpoints = cluster.clientEndpoints();
  }
  // the members' CPU over a run, when they are ours to see
  const etcdCpu = () => (cluster ? processesCpuSeconds(cluster.members.map((m) => m.pid)) : undefined);
  const cores = (cpu0: number | undefined, wall: number) => {
    const c = etcdCpu();
    return c === undefined || cpu0 === undefined ? undefined : (c - cpu0) / wall;
  };

  const puts: PutRun[] = [];
  const fanouts: FanoutRun[] = [];
  try {
    let putEndpoints = endpoints;
    if (!values['all-endpoints']) {
      const leader = (await memberStatuses(endpoints)).find((m) => m.isLeader);
      if (leader) putEndpoints = [leader.endpoint];
    }
    const contenders = [WIRE, ...(values['skip-etcd3'] ? [] : [ETCD3]), ...(goBin ? [GO] : [])];
    for (const { conns, inFlight } of pairs) {
      for (let round = 0; round < rounds; round++) {
        for (const client of roundOrder(contenders, round)) {
          await compactAndDefragment(endpoints);
          process.stderr.write(
            `round ${round + 1}/${rounds}: ${client}, ${conns} conns / ${inFlight} in flight to ${putEndpoints.join(',')}...\n`,
          );
          const e0 = etcdCpu();
          const at = { client, conns, inFlight, round: round + 1 };
          if (client === GO) {
            // sized from Go's own rate at this pair so that it runs about --seconds like the others:
            // its last run here, else a one-second calibration run (not counted) sized from the wire run
            const goPut = (total: number) =>
              runGoBench(
                goBin!,
                [
                  `--endpoints=${putEndpoints.join(',')}`,
                  `--conns=${conns}`,
                  `--clients=${inFlight}`,
                  'put',
                  `--total=${total}`,
                  '--val-size=256',
                  '--key-space-size=1000',
                ],
                (seconds * 10 + 60) * 1000,
              );
            const mine = (c: string) =>
              puts.filter((p) => p.client === c && p.conns === conns && p.inFlight === inFlight && !p.error).at(-1);
            let rate = mine(GO)?.putsPerSec;
            if (rate === undefined) {
              const guess = Math.max(200, Math.round(mine(WIRE)?.putsPerSec ?? 2000));
              rate = parseGoReport((await goPut(guess)).out).requestsPerSec ?? guess;
              await compactAndDefragment(endpoints);
            }
            const total = Math.max(1000, Math.round(rate * seconds));
            const g0 = etcdCpu();
            const run = await goPut(total);
            const r = parseGoReport(run.out);
            const ok = !run.error && r.requestsPerSec !== undefined;
            puts.push({
              ...at,
              puts: ok ? total : 0,
              putsPerSec: ok ? r.requestsPerSec! : NaN,
              p50ms: r.p50ms,
              p99ms: r.p99ms,
              clientCores: run.cpuSec / run.wallSec,
              clientUsPerPut: ok ? (run.cpuSec / total) * 1e6 : NaN,
              etcdCores: cores(g0, run.wallSec),
              error: run.error ?? (ok ? undefined : 'no Requests/sec in its output'),
            });
            continue;
          }
          let m: Awaited<ReturnType<typeof maxPuts>>;
          if (client === WIRE) {
            const wires = Array.from(
              { length: conns },
              (_, i) => new EtcdWireClient(putEndpoints[i % putEndpoints.length]),
            );
            m = await maxPuts(inFlight, seconds, (w, k, v) => wires[w % conns].put(k, v, { timeoutMs: 10000 }));
            wires.forEach((c) => c.close());
          } else {
            const e3 = Array.from({ length: conns }, (_, i) =>
              controlClient([putEndpoints[i % putEndpoints.length]], { deadlineMs: 10000 }),
            );
            m = await maxPuts(inFlight, seconds, (w, k, v) => e3[w % conns].put(k).value(v).exec());
            e3.forEach((c) => c.close());
          }
          puts.push({
            ...at,
            puts: m.puts,
            putsPerSec: m.puts / m.wall,
            p50ms: m.p50ms,
            p99ms: m.p99ms,
            clientCores: m.cpuSec / m.wall,
            clientUsPerPut: (m.cpuSec / m.puts) * 1e6,
            etcdCores: cores(e0, m.wall),
          });
        }
      }
    }

    const fanContenders = [WIRE, ...(goBin ? [GO] : [])];
    for (let round = 0; round < rounds; round++) {
      for (const client of roundOrder(fanContenders, round)) {
        await compactAndDefragment(endpoints);
        process.stderr.write(
          `round ${round + 1}/${rounds}: ${client} watch fan-out, ${watchers} watchers on one key, ${watchRate} puts/s...\n`,
        );
        fanouts.push(
          client === GO
            ? await goFanout(goBin!, endpoints, round + 1, watchers, streams, watchRate, watchSeconds, etcdCpu)
            : await wireFanout(endpoints, round + 1, watchers, streams, watchRate, watchSeconds, etcdCpu),
        );
      }
    }
  } finally {
    await cluster?.stop();
  }
  report({ puts, fanouts, pairs, endpoints, loadBefore, seconds, rounds, streams, watchSeconds, out: values.out });
}

/** One table line: the first cell left-aligned, the others right-aligned, at least a space apart. */
function row(widths: number[], cells: string[]): string {
  return `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : ` ${c.padStart(widths[i])}`)).join('')}\n`;
}

function report(o: {
  puts: PutRun[];
  fanouts: FanoutRun[];
  pairs: { conns: number; inFlight: number }[];
  endpoints: string[];
  loadBefore: ReturnType<typeof machineLoad>;
  seconds: number;
  rounds: number;
  streams: number;
  watchSeconds: number;
  out?: string;
}): void {
  const loadAfter = machineLoad();
  const put: Record<string, Record<string, Spread | undefined>> = {};
  const ratios: Record<string, number | undefined> = {};
  let t = `max put throughput, 256 B values, ${o.seconds} s runs; median (min–max) of ${o.rounds} interleaved rounds\n`;
  const putCols = [18, 16, 22, 18, 20, 18, 16, 18];
  t += row(putCols, [
    'client',
    'conns/in-flight',
    'puts/s',
    'p50 ms',
    'p99 ms',
    'client cores',
    'client µs/put',
    'etcd cores',
  ]);
  for (const { conns, inFlight } of o.pairs) {
    const key = `${conns}/${inFlight}`;
    for (const client of [WIRE, ETCD3, GO]) {
      const runs = o.puts.filter((p) => p.client === client && p.conns === conns && p.inFlight === inFlight);
      if (!runs.length) continue;
      const s = (f: (p: PutRun) => number | undefined) => spread(runs.map(f));
      const fig = {
        putsPerSec: s((p) => p.putsPerSec),
        p50ms: s((p) => p.p50ms),
        p99ms: s((p) => p.p99ms),
        clientCores: s((p) => p.clientCores),
        clientUsPerPut: s((p) => p.clientUsPerPut),
        etcdCores: s((p) => p.etcdCores),
      };
      (put[key] ??= {})[client] = fig.putsPerSec;
      put[key][`${client} µs/put`] = fig.clientUsPerPut;
      t += row(putCols, [
        client,
        key,
        formatSpread(fig.putsPerSec),
        formatSpread(fig.p50ms, 2),
        formatSpread(fig.p99ms, 2),
        formatSpread(fig.clientCores, 2),
        formatSpread(fig.clientUsPerPut),
        formatSpread(fig.etcdCores, 2),
      ]);
      for (const r of runs.filter((x) => x.error)) t += `    round ${r.round} failed: ${r.error}\n`;
    }
    ratios[`puts/s wire/etcd3 ${key}`] = medianRatio(put[key][WIRE], put[key][ETCD3]);
    ratios[`puts/s wire/go ${key}`] = medianRatio(put[key][WIRE], put[key][GO]);
    ratios[`µs/put wire/go ${key}`] = medianRatio(put[key][`${WIRE} µs/put`], put[key][`${GO} µs/put`]);
  }
  const fan: Record<string, Record<string, Spread | undefined>> = {};
  if (o.fanouts.length) {
    const f0 = o.fanouts[0];
    t += `\nwatch fan-out: ${f0.watchers} watchers on one key over ${o.streams} streams, ${f0.putRate} puts/s, ${o.watchSeconds} s\n`;
    const fanCols = [18, 26, 20, 16, 18, 20, 18];
    t += row(fanCols, [
      'client',
      'events/s',
      'delivered',
      'watch p99 ms',
      'client cores',
      'client µs/event',
      'etcd cores',
    ]);
    for (const client of [WIRE, GO]) {
      const runs = o.fanouts.filter((f) => f.client === client);
      if (!runs.length) continue;
      const s = (f: (p: FanoutRun) => number | undefined) => spread(runs.map(f));
      const fig = {
        eventsPerSec: s((f) => f.eventsPerSec),
        delivered: s((f) => (f.expectedEvents ? f.events / f.expectedEvents : undefined)),
        watchP99ms: s((f) => f.watchP99ms),
        clientCores: s((f) => f.clientCores),
        clientUsPerEvent: s((f) => f.clientUsPerEvent),
        etcdCores: s((f) => f.etcdCores),
      };
      fan[client] = fig;
      t += row(fanCols, [
        client,
        formatSpread(fig.eventsPerSec),
        formatSpread(fig.delivered, 3),
        formatSpread(fig.watchP99ms),
        formatSpread(fig.clientCores, 2),
        formatSpread(fig.clientUsPerEvent, 1),
        formatSpread(fig.etcdCores, 2),
      ]);
      for (const r of runs.filter((x) => x.error)) t += `    round ${r.round} failed: ${r.error}\n`;
      for (const r of runs.filter((x) => x.violations || x.overloadedIntervals))
        t += `    round ${r.round}: ${r.violations} violations, generator overloaded in ${r.overloadedIntervals} intervals\n`;
    }
    t += `  (events/s: from the first put to the last event, as Go's watch counts its own; Go's puts 4-byte values and checks nothing)\n`;
    ratios['events/s wire/go'] = medianRatio(fan[WIRE]?.eventsPerSec, fan[GO]?.eventsPerSec);
    ratios['µs/event wire/go'] = medianRatio(fan[WIRE]?.clientUsPerEvent, fan[GO]?.clientUsPerEvent);
  }
  for (const [k, v] of Object.entries(ratios)) if (v !== undefined) t += `  ratio ${k}: ${v.toFixed(2)}\n`;
  t += `load average before ${o.loadBefore.loadavg.join(' ')}, after ${loadAfter.loadavg.join(' ')} (${loadAfter.cpus} cpus)\n`;
  console.log(t);
  const file = writeResults(
    root,
    'load',
    {
      when: new Date().toISOString(),
      endpoints: o.endpoints,
      settings: { seconds: o.seconds, rounds: o.rounds, streams: o.streams, watchSeconds: o.watchSeconds },
      load: { before: o.loadBefore, after: loadAfter },
      medians: { put, fanout: fan },
      ratios,
      runs: { puts: o.puts, fanouts: o.fanouts },
    },
    o.out,
  );
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

// Load-generator benchmark against a local 3-member cluster (or --endpoints): (a) max put throughput of
// the lean wire client vs the npm etcd3 client at the same connections/in-flight, (b) watch fan-out:
// events delivered *and checked* per second with 1,000 watchers on one key. Optionally runs etcd's Go
// `benchmark` tool at the same settings in the same run. Prints a table and writes JSON.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { controlClient, memberStatuses } from '../src/etcd/control.js';
import { startCluster, type Cluster } from '../src/cluster/launch.js';
import { LoadRunner } from '../src/loadgen/runner.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { packageRoot, percentile, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:load -- [options]

  --endpoints LIST     use an existing cluster (default: start a local 3-member one)
  --pairs LIST         connections/in-flight pairs for max put throughput (default 1/64,4/256)
  --seconds N          seconds per throughput run (default 6)
  --watchers N         watchers for the fan-out run, all on one key (default 1000)
  --watch-rate N       puts/s during the fan-out run (default 200)
  --streams N          watch streams (connections) for the fan-out run (default 4)
  --watch-seconds N    length of the fan-out run (default 10)
  --go-bench PATH      etcd's Go benchmark binary: also measured at the same settings
  --skip-etcd3         do not measure the npm etcd3 client
  --all-endpoints      spread puts over every endpoint (default: the leader only, as etcd's own
                       benchmark numbers are usually taken)
  --out FILE           JSON output (default bench/results/load-<time>.json)
  -h, --help           this text`;

const root = packageRoot(import.meta.url);

interface PutResult {
  client: string;
  conns: number;
  inFlight: number;
  putsPerSec: number;
  p50ms?: number;
  p99ms?: number;
  cpu?: number;
}

/** Closed-loop puts: `inFlight` workers, each putting as soon as its previous put returns. */
async function maxPuts(
  name: string,
  conns: number,
  inFlight: number,
  seconds: number,
  put: (worker: number, key: string, value: Buffer) => Promise<unknown>,
): Promise<PutResult> {
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
  return {
    client: name,
    conns,
    inFlight,
    putsPerSec: n / wall,
    p50ms: percentile(lat, 50, Math.min(n, lat.length)),
    p99ms: percentile(lat, 99, Math.min(n, lat.length)),
    cpu: (c.user + c.system) / 1e6 / wall,
  };
}

function goBench(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(bin, args, { timeout: 300000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${bin} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout + stderr),
    ),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      pairs: { type: 'string', default: '1/64,4/256' },
      seconds: { type: 'string', default: '6' },
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

  let cluster: Cluster | undefined;
  let endpoints: string[];
  if (values.endpoints) endpoints = values.endpoints.split(',');
  else {
    process.stderr.write('starting a local 3-member cluster...\n');
    cluster = await startCluster({ size: 3 });
    endpoints = cluster.clientEndpoints();
  }
  const puts: PutResult[] = [];
  let fanout: Record<string, number> = {};
  try {
    let putEndpoints = endpoints;
    if (!values['all-endpoints']) {
      const leader = (await memberStatuses(endpoints)).find((m) => m.isLeader);
      if (leader) putEndpoints = [leader.endpoint];
    }
    for (const { conns, inFlight } of pairs) {
      process.stderr.write(`put throughput ${conns} conns / ${inFlight} in flight to ${putEndpoints.join(',')}...\n`);
      const wires = Array.from({ length: conns }, (_, i) => new EtcdWireClient(putEndpoints[i % putEndpoints.length]));
      puts.push(
        await maxPuts('wire (etcd-soak)', conns, inFlight, seconds, (w, k, v) =>
          wires[w % conns].put(k, v, { timeoutMs: 10000 }),
        ),
      );
      wires.forEach((c) => c.close());
      if (!values['skip-etcd3']) {
        const e3 = Array.from({ length: conns }, (_, i) =>
          controlClient([putEndpoints[i % putEndpoints.length]], { deadlineMs: 10000 }),
        );
        puts.push(
          await maxPuts('npm etcd3', conns, inFlight, seconds, (w, k, v) => e3[w % conns].put(k).value(v).exec()),
        );
        e3.forEach((c) => c.close());
      }
      if (values['go-bench']) {
        const total = Math.round((puts[puts.length - 2]?.putsPerSec ?? 5000) * seconds);
        const out = await goBench(values['go-bench'], [
          `--endpoints=${putEndpoints.join(',')}`,
          `--conns=${conns}`,
          `--clients=${inFlight}`,
          'put',
          `--total=${total}`,
          '--val-size=256',
          '--key-space-size=1000',
        ]);
        const m = /Requests\/sec:\s*([\d.]+)/.exec(out);
        puts.push({ client: 'Go benchmark', conns, inFlight, putsPerSec: m ? Number(m[1]) : NaN });
      }
    }

    process.stderr.write(`watch fan-out: ${values.watchers} watchers on one key, ${values['watch-rate']} puts/s...\n`);
    const runner = new LoadRunner({
      profile: loadProfileSchema.parse({
        watchers: num('watchers'),
        keys: 1,
        connections: num('streams'),
        rate: num('watch-rate'),
        duration: `${num('watch-seconds')}s`,
        interval: '1s',
        settle: '10s',
        maxInFlight: 4096,
      }),
      endpoints,
      reportDir: null,
    });
    const rates: number[] = [];
    runner.on('interval', (l) => rates.push(l.eventRate));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = new Promise<import('../src/loadgen/report.js').LoadSummary>((r) => runner.once('done', r));
    await runner.start();
    const s = await done;
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    const steady = rates.slice(1, -1);
    fanout = {
      watchers: num('watchers'),
      putRate: num('watch-rate'),
      puts: s.counts.ok,
      eventsChecked: s.counts.events,
      expectedEvents: (s.counts.ok + s.counts.applied) * num('watchers'),
      checkedEventsPerSec: steady.length ? steady.reduce((a, b) => a + b, 0) / steady.length : s.averages.eventRate,
      watchP99ms: s.latency.watch.p99,
      generatorOverloadedIntervals: s.counts.overloadedIntervals,
      violations: s.violations.ordered + s.violations.unique + s.violations.reliable + s.violations.unexpected,
      cpu: (c.user + c.system) / 1e6 / wall,
    };
  } finally {
    await cluster?.stop();
  }

  let table =
    'max put throughput (256 B values)\n  client                conns  in-flight     puts/s    p50 ms    p99 ms   cpu (cores)\n';
  for (const p of puts) {
    table += `  ${p.client.padEnd(20)}${String(p.conns).padStart(6)}${String(p.inFlight).padStart(11)}${p.putsPerSec.toFixed(0).padStart(11)}${(p.p50ms?.toFixed(2) ?? '-').padStart(10)}${(p.p99ms?.toFixed(2) ?? '-').padStart(10)}${(p.cpu?.toFixed(2) ?? '-').padStart(14)}\n`;
  }
  const ratios: Record<string, number> = {};
  for (const { conns, inFlight } of pairs) {
    const get = (name: string) =>
      puts.find((p) => p.client === name && p.conns === conns && p.inFlight === inFlight)?.putsPerSec;
    const wire = get('wire (etcd-soak)');
    const e3 = get('npm etcd3');
    const go = get('Go benchmark');
    if (wire && e3) ratios[`wire/etcd3 ${conns}/${inFlight}`] = wire / e3;
    if (wire && go) ratios[`wire/go ${conns}/${inFlight}`] = wire / go;
  }
  for (const [k, v] of Object.entries(ratios)) table += `  ratio ${k}: ${v.toFixed(2)}\n`;
  table += `\nwatch fan-out: ${fanout.watchers} watchers on one key at ${fanout.putRate} puts/s\n`;
  table += `  checked events/s (steady state): ${fanout.checkedEventsPerSec?.toFixed(0)}  (events ${fanout.eventsChecked} of ${fanout.expectedEvents} expected, violations ${fanout.violations}, generator overloaded in ${fanout.generatorOverloadedIntervals} intervals, watch p99 ${fanout.watchP99ms} ms, cpu ${fanout.cpu?.toFixed(2)} cores)\n`;
  console.log(table);
  const out = writeResults(
    root,
    'load',
    { when: new Date().toISOString(), endpoints, puts, ratios, fanout },
    values.out,
  );
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

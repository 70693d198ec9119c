// Watch attach benchmark against a local etcd member (or --endpoints): how long the load generator takes
// to create N watchers (the run's start until every watcher is watching) and to resume all of them
// after every stream was reset, at several fleet sizes, in interleaved rounds. Prints medians with
// min–max and writes JSON. Attach should grow linearly with the number of watchers.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../src/cluster/launch.js';
import { LoadRunner } from '../src/loadgen/runner.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { WatchWorkload } from '../src/loadgen/workloads/index.js';
import type { WatchConnection } from '../src/loadgen/workloads/watch/connection.js';
import { packageRoot, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:attach -- [options]

  --endpoints LIST     use an existing cluster (default: start a local 1-member one)
  --watchers LIST      fleet sizes (default 5000,20000)
  --rounds N           interleaved rounds per size (default 3)
  --streams N          watch streams (connections) (default 4)
  --keys N             keys the watchers are spread over (default 1000)
  --out FILE           JSON output (default bench/results/attach-<time>.json)
  -h, --help           this text`;

const root = packageRoot(import.meta.url);

interface Round {
  watchers: number;
  /** start() until every watcher is watching */
  attachMs: number;
  /** every stream reset until every watcher is watching again */
  resumeMs: number;
  /** this process's CPU over the attach, in ms (etcd's is not in it) */
  attachCpuMs: number;
  /** this process's CPU over the resume, in ms */
  resumeCpuMs: number;
}

async function waitWatching(watch: WatchWorkload, n: number, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (watch.watcherCounts().watching < n) {
    if (performance.now() > end) throw new Error(`only ${watch.watcherCounts().watching} of ${n} watchers watching`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function round(endpoints: string[], watchers: number, streams: number, keys: number): Promise<Round> {
  const runner = new LoadRunner({
    profile: loadProfileSchema.parse({
      watchers,
      keys,
      connections: streams,
      rate: 1,
      interval: '1s',
      settle: '5s',
    }),
    endpoints,
    reportDir: null,
  });
  const watch = runner.workloads.find((w): w is WatchWorkload => w instanceof WatchWorkload)!;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runner.start();
  await waitWatching(watch, watchers, 120_000);
  const attachMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // every stream broken at once: each connection resumes its watchers from their last revision + 1
  const conns = (watch as unknown as { conns: WatchConnection[] }).conns;
  const cpu1 = process.cpuUsage();
  const t1 = performance.now();
  for (const c of conns) c.reset('stall', 'bench: resume every watcher');
  await new Promise((r) => setImmediate(r));
  await waitWatching(watch, watchers, 120_000);
  // the resume waits the connection's first backoff (100 ms) before it re-dials: not the generator's work
  const resumeMs = performance.now() - t1 - 100;
  const rcpu = process.cpuUsage(cpu1);
  await runner.stop('bench done');
  return {
    watchers,
    attachMs,
    resumeMs,
    attachCpuMs: (cpu.user + cpu.system) / 1000,
    resumeCpuMs: (rcpu.user + rcpu.system) / 1000,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      watchers: { type: 'string', default: '5000,20000' },
      rounds: { type: 'string', default: '3' },
      streams: { type: 'string', default: '4' },
      keys: { type: 'string', default: '1000' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const positive = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got ${v}`);
    return n;
  };
  const sizes = String(values.watchers)
    .split(',')
    .map((v) => positive('watchers', v));
  const rounds = positive('rounds', values.rounds);
  const streams = positive('streams', values.streams);
  const keys = positive('keys', values.keys);

  let cluster: Cluster | undefined;
  let endpoints: string[];
  if (values.endpoints) endpoints = values.endpoints.split(',');
  else {
    process.stderr.write('starting a local etcd member...\n');
    cluster = await startCluster({ size: 1 });
    endpoints = cluster.clientEndpoints();
  }
  const results: Round[] = [];
  try {
    // interleaved: each round measures every size once, so a noisy moment hits all of them
    for (let r = 0; r < rounds; r++) {
      for (const n of sizes) {
        process.stderr.write(`round ${r + 1}/${rounds}: ${n} watchers...\n`);
        results.push(await round(endpoints, n, streams, keys));
      }
    }
  } finally {
    await cluster?.stop();
  }
  const summary = sizes.map((n) => {
    const rs = results.filter((r) => r.watchers === n);
    const fig = (f: (r: Round) => number) => {
      const xs = rs.map(f);
      return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
    };
    return {
      watchers: n,
      attachMs: fig((r) => r.attachMs),
      resumeMs: fig((r) => r.resumeMs),
      attachCpuMs: fig((r) => r.attachCpuMs),
      resumeCpuMs: fig((r) => r.resumeCpuMs),
    };
  });
  let table = `watch attach (${streams} streams, ${keys} keys, medians of ${rounds} interleaved rounds, min–max)\n`;
  table += '  watchers     attach ms (min–max)        resume ms (min–max)   generator CPU ms attach / resume\n';
  const f = (x: { median: number; min: number; max: number }) =>
    `${x.median.toFixed(0)} (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;
  for (const s of summary)
    table += `  ${String(s.watchers).padStart(8)}  ${f(s.attachMs).padStart(22)}  ${f(s.resumeMs).padStart(24)}  ${`${s.attachCpuMs.median.toFixed(0)} / ${s.resumeCpuMs.median.toFixed(0)}`.padStart(20)}\n`;
  if (summary.length >= 2) {
    const a = summary[0];
    const b = summary[summary.length - 1];
    const x = (k: 'attachMs' | 'attachCpuMs') => (b[k].median / a[k].median).toFixed(2);
    table += `  growth ${a.watchers} → ${b.watchers} watchers (×${(b.watchers / a.watchers).toFixed(2)}): attach ×${x('attachMs')}, generator CPU ×${x('attachCpuMs')}\n`;
  }
  console.log(table);
  const out = writeResults(
    root,
    'attach',
    { when: new Date().toISOString(), endpoints, streams, keys, rounds: results, summary },
    values.out,
  );
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

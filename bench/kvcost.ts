// The live cost of the kv workload and its linearizability checker beside the default load: the
// generator's CPU (this process; etcd runs in its own) over a run of the default put/watch load, then the
// same run with the kv workload at --kv-rate, then kv alone; and the checker's own share, from
// re-checking the kv run's history offline (µs per operation). Interleaved rounds; prints medians with
// min–max and writes JSON.
//   npm run build && npm run bench:kv -- [--seconds 20] [--kv-rate 300]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../src/cluster/launch.js';
import { checkHistoryDir } from '../src/loadgen/lin/history-file.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { formatSpread, machineLoad, packageRoot, roundOrder, spread, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:kv -- [options]

  --endpoints LIST   use an existing cluster (default: start a local 3-member one)
  --seconds N        length of each run (default 20)
  --kv-rate N        kv operations per second (default 300)
  --rounds N         interleaved rounds of the three runs; figures are medians (default 3)
  --serializable     serializable reads in the kv runs
  --out FILE         JSON output (default bench/results/kvcost-<time>.json)
  -h, --help         this text`;

interface Row {
  run: string;
  workloads: string[];
  cpuCores: number;
  rssMB: number;
  puts: number;
  events: number;
  kvOps: number;
  findings: number;
}

async function measure(name: string, endpoints: string[], seconds: number, profile: object, dir: string) {
  const runner = new LoadRunner({
    profile: loadProfileSchema.parse({ ...profile, interval: '5s' }),
    endpoints,
    reportDir: dir,
  });
  const done = new Promise<LoadSummary>((r) => runner.once('done', r));
  await runner.start();
  // the steady state only: the first second (connecting, watch creation) is not counted
  await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
  void runner.stop('bench');
  const s = await done;
  const row: Row = {
    run: name,
    workloads: s.profile.workloads,
    cpuCores: Math.round(((c.user + c.system) / 1e6 / wall) * 1000) / 1000,
    rssMB,
    puts: s.counts.ok,
    events: s.counts.events,
    kvOps: s.kv?.checked.ops ?? 0,
    findings: s.kv?.findings ?? 0,
  };
  return { row, dir: s.reportDir };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      seconds: { type: 'string', default: '20' },
      rounds: { type: 'string', default: '3' },
      'kv-rate': { type: 'string', default: '300' },
      serializable: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP);
  const seconds = Number(values.seconds);
  const kvRate = Number(values['kv-rate']);
  const rounds = Number(values.rounds);
  let cluster: Cluster | undefined;
  let endpoints = values.endpoints?.split(',');
  if (!endpoints) {
    cluster = await startCluster({ size: 3 });
    endpoints = cluster.clientEndpoints();
  }
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-kvcost-'));
  try {
    const kv = { kvRate, serializableReads: !!values.serializable };
    const runs: [string, object][] = [
      ['default load', {}],
      [`default + kv ${kvRate}/s`, { workloads: ['put', 'watch', 'kv'], ...kv }],
      [`kv ${kvRate}/s alone`, { workloads: ['kv'], ...kv }],
    ];
    // interleaved rounds in a rotating order; each figure is the median of the rounds
    const byRun = new Map<string, Row[]>(runs.map(([name]) => [name, []]));
    let bothDir: string | undefined;
    for (let round = 0; round < rounds; round++)
      for (const [name, profile] of roundOrder(runs, round)) {
        const m = await measure(name, endpoints, seconds, profile, reports);
        byRun.get(name)!.push(m.row);
        if (name === runs[1][0]) bothDir = m.dir;
      }
    // the checker's own share: the (last) kv run's history checked again, offline, on one core
    const cpu0 = process.cpuUsage();
    const off = await checkHistoryDir(bothDir!);
    const c = process.cpuUsage(cpu0);
    const ops = off?.verdict.counts.ops ?? 0;
    const offline = { ops, usPerOp: ops ? Math.round(((c.user + c.system) / ops) * 10) / 10 : 0 };
    const med = (name: string, f: (r: Row) => number) => spread(byRun.get(name)!.map(f));
    console.log(`median (min–max) of ${rounds} interleaved rounds, ${seconds} s each`);
    const w = [26, 22, 16, 14, 18, 16, 9];
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : ` ${c.padStart(w[i])}`)).join('');
    console.log(line(['run', 'cpu (cores)', 'rss MiB', 'puts', 'events', 'kv ops', 'findings']));
    for (const [name] of runs) {
      const fig = (f: (r: Row) => number, digits = 0) => formatSpread(med(name, f), digits);
      const findings = byRun.get(name)!.reduce((a, r) => a + r.findings, 0);
      console.log(
        line([
          name,
          fig((r) => r.cpuCores, 3),
          fig((r) => r.rssMB),
          fig((r) => r.puts),
          fig((r) => r.events),
          fig((r) => r.kvOps),
          String(findings),
        ]),
      );
    }
    const cost = (med(runs[1][0], (r) => r.cpuCores)?.median ?? 0) - (med(runs[0][0], (r) => r.cpuCores)?.median ?? 0);
    console.log(
      `kv's live cost beside the default load: +${cost.toFixed(3)} cores (medians); the checker alone (offline re-check, incl. reading the file): ${offline.usPerOp} µs/op; load average ${machineLoad().loadavg.join(' ')}`,
    );
    const rows = [...byRun.values()].flat();
    const file = writeResults(
      packageRoot(import.meta.url),
      'kvcost',
      {
        seconds,
        kvRate,
        rounds,
        rows,
        offline,
        load: machineLoad(),
        node: process.version,
      },
      values.out,
    );
    console.log(`results: ${file}`);
  } finally {
    fs.rmSync(reports, { recursive: true, force: true });
    await cluster?.stop();
  }
}

await main();

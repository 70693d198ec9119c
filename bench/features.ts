// The feature workloads' throughput and cost: the default put/watch load alone, then beside it each of
// registry, lock, election and config at its defaults, then all four. Per run: each workload's operations
// per second (ok answers), its violations and anomalies, the generator's own CPU (this process) and the
// members' (their processes). With --pin, etcd's members run on the CPUs of --etcd-cpus and this process on
// --generator-cpus (taskset), so every run gets the same fixed CPU share. Interleaved rounds; prints
// medians with min–max and writes JSON.
//   npm run build && npm run bench:features -- [--seconds 20] [--rounds 3] [--pin]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../src/cluster/launch.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { loadProfileSchema } from '../src/schema/load.js';
import {
  formatSpread,
  machineLoad,
  packageRoot,
  processesCpuSeconds,
  roundOrder,
  spread,
  writeResults,
} from './lib.js';

const HELP = `Usage: npm run bench:features -- [options]

  --seconds N          length of each run (default 20)
  --rounds N           interleaved rounds; figures are medians (default 3)
  --pin                pin etcd's members and this process to fixed CPUs (taskset)
  --etcd-cpus LIST     with --pin: the members' CPUs (default 0)
  --generator-cpus LIST  with --pin: this process's CPUs (default 1)
  --out FILE           JSON output (default bench/results/features-<time>.json)
  -h, --help           this text`;

const FEATURES = ['registry', 'lock', 'election', 'config'] as const;

interface Row {
  run: string;
  cpuCores: number;
  etcdCores: number;
  puts: number;
  events: number;
  /** ok operations per second, by feature workload */
  opsPerSec: Record<string, number>;
  violations: number;
  anomalies: Record<string, number>;
}

async function measure(name: string, cluster: Cluster, seconds: number, workloads: string[], dir: string) {
  const runner = new LoadRunner({
    profile: loadProfileSchema.parse({ workloads, interval: '5s' }),
    endpoints: cluster.clientEndpoints(),
    reportDir: dir,
  });
  const done = new Promise<LoadSummary>((r) => runner.once('done', r));
  await runner.start();
  // the steady state only: the first second (connecting, leases, watches) is not counted
  await new Promise((r) => setTimeout(r, 1000));
  const pids = cluster.members.map((m) => m.pid);
  const cpu0 = process.cpuUsage();
  const etcd0 = processesCpuSeconds(pids);
  const before = runner.status();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c = process.cpuUsage(cpu0);
  const etcd = processesCpuSeconds(pids) - etcd0;
  const after = runner.status();
  const wall = (performance.now() - t0) / 1000;
  void runner.stop('bench');
  const s = await done;
  const okOf = (st: typeof before, w: string) =>
    Object.values(st.features?.[w]?.ops ?? {}).reduce((n, o) => n + o.ok, 0);
  const opsPerSec: Record<string, number> = {};
  const anomalies: Record<string, number> = {};
  for (const w of Object.keys(s.features ?? {})) {
    opsPerSec[w] = Math.round(((okOf(after, w) - okOf(before, w)) / wall) * 10) / 10;
    for (const [k, n] of Object.entries(s.features![w].anomalies)) if (n) anomalies[`${w}.${k}`] = n;
  }
  const row: Row = {
    run: name,
    cpuCores: Math.round(((c.user + c.system) / 1e6 / wall) * 1000) / 1000,
    etcdCores: Math.round((etcd / wall) * 1000) / 1000,
    puts: Math.round(((after.counts.ok - before.counts.ok) / wall) * 10) / 10,
    events: Math.round(((after.counts.events - before.counts.events) / wall) * 10) / 10,
    opsPerSec,
    violations: Object.values(s.violations).reduce((a, b) => a + b, 0),
    anomalies,
  };
  return row;
}

function pin(cpus: string, pid: number): void {
  execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      rounds: { type: 'string', default: '3' },
      pin: { type: 'boolean' },
      'etcd-cpus': { type: 'string', default: '0' },
      'generator-cpus': { type: 'string', default: '1' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!(seconds > 0) || !(rounds >= 1)) throw new Error('expected --seconds > 0 and --rounds >= 1');
  const cluster = await startCluster({ size: 3 });
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-features-'));
  try {
    if (values.pin) {
      for (const m of cluster.members) if (m.pid) pin(values['etcd-cpus']!, m.pid);
      pin(values['generator-cpus']!, process.pid);
    }
    const runs: [string, string[]][] = [
      ['put/watch', ['put', 'watch']],
      ...FEATURES.map((f): [string, string[]] => [`+ ${f}`, ['put', 'watch', f]]),
      ['+ all four', ['put', 'watch', ...FEATURES]],
    ];
    const byRun = new Map<string, Row[]>(runs.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++)
      for (const [name, workloads] of roundOrder(runs, round))
        byRun.get(name)!.push(await measure(name, cluster, seconds, workloads, reports));
    console.log(
      `median (min–max) of ${rounds} interleaved rounds, ${seconds} s each${values.pin ? `; etcd on CPU ${values['etcd-cpus']}, generator on CPU ${values['generator-cpus']}` : ''}`,
    );
    const w = [12, 22, 22, 20, 40, 11];
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : ` ${c.padStart(w[i])}`)).join('');
    console.log(line(['run', 'generator cores', 'etcd cores', 'puts/s', 'feature ok ops/s', 'violations']));
    for (const [name] of runs) {
      const rs = byRun.get(name)!;
      const fig = (f: (r: Row) => number, digits = 0) => formatSpread(spread(rs.map(f)), digits);
      const feats = Object.keys(rs[0].opsPerSec)
        .map((k) => `${k} ${formatSpread(spread(rs.map((r) => r.opsPerSec[k])), 1)}`)
        .join(', ');
      console.log(
        line([
          name,
          fig((r) => r.cpuCores, 3),
          fig((r) => r.etcdCores, 3),
          fig((r) => r.puts),
          feats || '-',
          String(rs.reduce((a, r) => a + r.violations, 0)),
        ]),
      );
    }
    const base = spread(byRun.get('put/watch')!.map((r) => r.cpuCores))?.median ?? 0;
    for (const [name] of runs.slice(1)) {
      const m = spread(byRun.get(name)!.map((r) => r.cpuCores))?.median ?? 0;
      console.log(
        `${name}: ${m >= base ? '+' : ''}${(m - base).toFixed(3)} generator cores over put/watch alone (medians)`,
      );
    }
    console.log(`load average ${machineLoad().loadavg.join(' ')}`);
    const file = writeResults(
      packageRoot(import.meta.url),
      'features',
      {
        seconds,
        rounds,
        pinned: values.pin ? { etcd: values['etcd-cpus'], generator: values['generator-cpus'] } : null,
        rows: [...byRun.values()].flat(),
        load: machineLoad(),
        node: process.version,
      },
      values.out,
    );
    console.log(`results: ${file}`);
  } finally {
    await cluster.stop();
    fs.rmSync(reports, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

// Linearizability checker benchmark: a synthetic KV history from a seeded simulation of a correct etcd
// (by default 1.1 M operations: one hour at ~305 operations/s, 32 clients over 16 keys, 1% failed and
// 1% timed-out operations) streamed through the streaming checker as a live run would feed it. The
// simulation alone is timed first and subtracted, so the figures are the checker's: operations checked
// per second per core, CPU seconds, and peak heap and RSS. Prints a table and writes JSON.
//   npm run build && npm run bench:lincheck -- [--ops 1100000]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LinChecker } from '../src/loadgen/lin/checker.js';
import { simulate, type SimOptions } from '../src/loadgen/lin/simulate.js';
import { packageRoot, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:lincheck -- [options]

  --ops N        operations in the history (default 1100000)
  --rate N       operations per second of simulated time (default 305: 1.1 M in an hour)
  --clients N    concurrent clients (default 32)
  --keys N       keys (default 16)
  --settle MS    the checker's settle window (default 5000; the client timeout is a fifth of it)
  --seed N       simulation seed (default 1)
  --out FILE     JSON output (default bench/results/lincheck-<time>.json)
  -h, --help     this text`;

const MiB = 1024 * 1024;
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};
const gc = (globalThis as { gc?: () => void }).gc;

function main() {
  const { values } = parseArgs({
    options: {
      ops: { type: 'string', default: '1100000' },
      rate: { type: 'string', default: '305' },
      clients: { type: 'string', default: '32' },
      keys: { type: 'string', default: '16' },
      settle: { type: 'string', default: '5000' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const ops = Number(values.ops);
  const clients = Number(values.clients);
  const settle = Number(values.settle);
  const sim: SimOptions = {
    seed: Number(values.seed),
    ops,
    clients,
    keys: Number(values.keys),
    latency: 2,
    // each client's cycle (think, two ~2.4 ms legs, 1% timeouts) so that all make `rate` operations/s
    think: Math.max(0, (clients * 1000) / Number(values.rate) - 4.8 - settle / 500),
    fail: 0.01,
    indeterminate: 0.01,
    timeout: settle / 5,
    settleDelay: settle / 5,
    unsettled: 0.2,
  };

  // the simulation alone, to subtract
  gc?.();
  let t0 = process.cpuUsage();
  let w0 = performance.now();
  let events = 0;
  for (const _ of simulate(sim)) events++;
  const simCpu = cpuSeconds(t0);
  const simWall = (performance.now() - w0) / 1000;

  gc?.();
  const baseHeap = process.memoryUsage().heapUsed;
  const baseRss = process.memoryUsage().rss;
  const checker = new LinChecker({ settle });
  let peakHeap = baseHeap;
  let peakRss = baseRss;
  let peakRetained = 0;
  let liveHeap = baseHeap;
  let n = 0;
  let simEnd = 0;
  t0 = process.cpuUsage();
  w0 = performance.now();
  for (const e of simulate(sim)) {
    if ('op' in e) {
      checker.add(e.op);
      simEnd = e.op.ret ?? simEnd;
      if (++n % 20000 === 0) {
        const m = process.memoryUsage();
        peakHeap = Math.max(peakHeap, m.heapUsed);
        peakRss = Math.max(peakRss, m.rss);
        peakRetained = Math.max(peakRetained, checker.retained);
      }
      if (gc && n % 100000 === 0) {
        // what the checker holds, without the garbage a sample above may include
        gc();
        liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed);
      }
    } else checker.settle(e.settle.id, e.settle.rev);
  }
  const verdict = checker.finish();
  const totalCpu = cpuSeconds(t0);
  const totalWall = (performance.now() - w0) / 1000;
  const checkCpu = Math.max(1e-9, totalCpu - simCpu);
  const maxRssKiB = process.resourceUsage().maxRSS;
  const findings = Object.values(verdict.counts.findings).reduce((a, b) => a + b, 0);

  const result = {
    when: new Date().toISOString(),
    node: process.version,
    history: { ...sim, events, simulatedSeconds: simEnd / 1000 },
    settleMs: settle,
    counts: verdict.counts,
    findings,
    cpuSeconds: { simulation: simCpu, simulationAndCheck: totalCpu, check: checkCpu },
    wallSeconds: { simulation: simWall, simulationAndCheck: totalWall },
    opsPerSecondPerCore: ops / checkCpu,
    memory: {
      gcExposed: gc !== undefined,
      baselineHeapMiB: baseHeap / MiB,
      peakHeapMiB: peakHeap / MiB,
      liveHeapMiB: gc ? liveHeap / MiB : undefined,
      baselineRssMiB: baseRss / MiB,
      peakRssMiB: Math.max(peakRss, maxRssKiB * 1024) / MiB,
      peakRetained,
    },
  };
  console.log(
    [
      `history: ${ops} operations, ${(simEnd / 3600e3).toFixed(2)} h simulated, ${clients} clients, ${sim.keys} keys, settle ${settle} ms`,
      `  failed ${verdict.counts.failed}, indeterminate ${verdict.counts.indeterminate} (settled applied ${verdict.counts.settledApplied}, not applied ${verdict.counts.settledNotApplied}, never ${verdict.counts.unsettled})`,
      `findings: ${findings} (a correct history: expected 0)`,
      `check CPU: ${checkCpu.toFixed(2)} s (simulation ${simCpu.toFixed(2)} s subtracted)  →  ${(ops / checkCpu).toFixed(0)} operations/s per core`,
      `memory: peak heap ${result.memory.peakHeapMiB.toFixed(0)} MiB (live after GC ${gc ? result.memory.liveHeapMiB!.toFixed(0) : '?'}, baseline ${result.memory.baselineHeapMiB.toFixed(0)}), peak RSS ${result.memory.peakRssMiB.toFixed(0)} MiB, at most ${peakRetained} items retained`,
    ].join('\n'),
  );
  console.log(`wrote ${writeResults(packageRoot(), 'lincheck', result, values.out)}`);
  if (findings) process.exitCode = 1;
}

main();

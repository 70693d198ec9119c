// Scenario benchmark: a seeded random scenario (default config/scenarios/random-30m.yaml, 30 minutes) on
// the lab (3 members, TLS peers, the default load). Measures what a soak user relies on: how many fault
// windows of which kinds were applied, how late each step took effect after it was planned (skew p50,
// p99, max), whether every violation was attributed to a window, whether the generator kept up (its
// overloaded intervals, its CPU), and the members' health at the end. Prints a table and writes JSON.
//   npm run build && npm run bench:scenario -- [--scenario FILE] [--seed N] [--out FILE]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { expandScenario, parseScenario, planKinds } from '../src/scenario/index.js';
import { packageRoot, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:scenario -- [options]

  --scenario FILE   the scenario (default config/scenarios/random-30m.yaml)
  --seed N          replace its random seed
  --plain           plain-HTTP peers instead of TLS
  --out FILE        JSON output (default bench/results/scenario-<time>.json)
  -h, --help        this text`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: path.join(packageRoot(), 'config/scenarios/random-30m.yaml') },
      seed: { type: 'string' },
      plain: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const file = values.scenario!;
  const plan = expandScenario(parseScenario(fs.readFileSync(file, 'utf8'), file), {
    members: 3,
    seed: values.seed === undefined ? undefined : Number(values.seed),
  });
  const kinds = planKinds(plan);
  process.stdout.write(
    `scenario ${plan.name}: plan ${plan.hash} (seed ${plan.seed}), ${plan.tracks.length} tracks, ${Object.entries(kinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}\n`,
  );
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-bench-scenario-'));
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir,
      cluster: { launch: { members: 3, ports: 'ephemeral', peerTls: !values.plain } },
      load: {},
    }),
    { out: null },
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let lines = 0;
  lab.daemon.on('load-interval', (line: { elapsed: number; cpu: number; rssMB: number; overloaded: boolean }) => {
    // a status line a minute on a long run
    if (++lines % 12 === 0)
      process.stdout.write(
        `[${Math.round(line.elapsed)}s] cpu ${line.cpu.toFixed(2)} core, rss ${line.rssMB} MiB${line.overloaded ? ' OVERLOADED' : ''}, windows active ${lab.daemon.windows.active().length}\n`,
      );
  });
  const run = lab.daemon.scenarios.start(plan);
  await run.whenDone();
  const st = run.status();
  const cpu = process.cpuUsage(cpu0);
  const wallS = (performance.now() - t0) / 1000;
  const members = await lab.daemon.clusterStatus().catch(() => []);
  const summary = await lab.stop('bench done');
  await lab.daemon.close().catch(() => undefined);
  if (!summary) throw new Error('the load left no summary');
  const windows = summary.windows ?? [];
  const windowKinds: Record<string, number> = {};
  for (const w of windows) windowKinds[w.kind] = (windowKinds[w.kind] ?? 0) + 1;
  const violations = Object.values(summary.violations).reduce((a, b) => a + b, 0);
  const result = {
    scenario: { name: plan.name, hash: plan.hash, seed: plan.seed, tracks: plan.tracks.length, planKinds: kinds },
    state: st.state,
    steps: st.steps,
    errors: st.errors,
    skewMs: st.skew,
    windows: { total: windows.length, kinds: windowKinds, unended: windows.filter((w) => w.unended).length },
    violations: { total: violations, unattributed: summary.unattributed?.total ?? 0 },
    generator: {
      overloadedIntervals: summary.generator.overloadedIntervals,
      cpuCores: (cpu.user + cpu.system) / 1e6 / wallS,
    },
    puts: summary.counts,
    membersAtEnd: members.map((m) => ({ name: m.name, ok: m.ok, state: m.state, leader: m.leader })),
    reportDir: summary.reportDir,
  };
  process.stdout.write(
    [
      `state ${st.state}: ${st.steps.applied}/${st.steps.planned} steps applied, ${st.steps.failed} failed, ${st.errors.length} error(s)`,
      `skew (planned → applied): p50 ${st.skew.p50} ms, p99 ${st.skew.p99} ms, max ${st.skew.max} ms over ${st.skew.count} steps`,
      `windows ${windows.length} of ${Object.keys(windowKinds).length} kinds: ${Object.entries(windowKinds)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
      `violations ${violations} (unattributed ${result.violations.unattributed}); generator overloaded in ${summary.generator.overloadedIntervals} interval(s), daemon CPU ${result.generator.cpuCores.toFixed(2)} core`,
      `members at the end: ${members.map((m) => `${m.name} ${m.ok ? 'ok' : 'DOWN'}`).join(', ')}`,
      `report: ${summary.reportDir}/report.html`,
    ].join('\n') + '\n',
  );
  const out = writeResults(packageRoot(), 'scenario', result, values.out);
  process.stdout.write(`results: ${out}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

// The package installs anywhere: `npm pack` (of the built dist/), the tarball installed into an empty
// folder, and from there `npx etcd-soak --version`, `lab --help`, `npx etcd-proxy --help` and a short lab
// run that exits 0 with its report. The tarball carries the built code and the configs, and no dev
// dependency is installed or needed.
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from './helpers/proc.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-pack-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A command with a bound on its run time (killed past it: the test fails instead of hanging). */
function sh(cmd: string, args: string[], cwd: string, limitMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGINT'), limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};

t.test('npm pack → install into an empty folder → npx etcd-soak', async (t) => {
  // dist/ is built before the tests (npm test); the pack takes it as it is
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root, 120_000);
  t.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info.files.map((f) => f.path);
  for (const f of [
    'bin/etcd-soak.js',
    'bin/etcd-proxy.js',
    'dist/src/cli/etcd-soak.js',
    'dist/src/cli/ctl/index.js',
    'config/lab.yaml',
    'config/openapi.json',
    'config/grafana/etcd-soak.json',
    'config/scenarios/leader-isolation.yaml',
    'README.md',
  ])
    t.ok(files.includes(f), `the tarball carries ${f}`);
  t.notOk(
    files.some(
      (f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('dist/bench') || f.endsWith('.map'),
    ),
    'no sources, tests, benchmarks or source maps',
  );

  const dir = path.join(tmp, 'empty');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
  const tgz = path.join(tmp, info.filename);
  const installed = await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tgz], dir, 240_000);
  t.equal(installed.code, 0, installed.stderr);
  // a dev dependency may be there only as a runtime package's own dependency (protobufjs: etcd3's gRPC)
  const tree = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '.package-lock.json'), 'utf8')) as {
    packages: Record<string, { dependencies?: Record<string, string> }>;
  };
  const needed = new Set(
    Object.entries(tree.packages)
      .filter(([at]) => at !== 'node_modules/etcd-soak')
      .flatMap(([, p]) => Object.keys(p.dependencies ?? {})),
  );
  for (const dev of Object.keys(pkg.devDependencies).filter((d) => !needed.has(d)))
    t.notOk(fs.existsSync(path.join(dir, 'node_modules', dev)), `no dev dependency installed: ${dev}`);
  t.ok(fs.existsSync(path.join(dir, 'node_modules', 'uplot')), 'uplot, a runtime dependency');

  const version = await sh('npx', ['--no-install', 'etcd-soak', '--version'], dir, 60_000);
  t.equal(version.code, 0, version.stderr);
  t.equal(version.stdout, `etcd-soak ${pkg.version}\n`);
  const labHelp = await sh('npx', ['--no-install', 'etcd-soak', 'lab', '--help'], dir, 60_000);
  t.equal(labHelp.code, 0, labHelp.stderr);
  t.match(labHelp.stdout, /^Usage: etcd-soak lab \[options\]/);
  const proxyHelp = await sh('npx', ['--no-install', 'etcd-proxy', '--help'], dir, 60_000);
  t.equal(proxyHelp.code, 0, proxyHelp.stderr);
  t.match(proxyHelp.stdout + proxyHelp.stderr, /Usage of "etcd-proxy"/);

  // the API on a free port: the machine may run another lab on 8379
  const lab = await sh(
    'npx',
    ['--no-install', 'etcd-soak', 'lab', '--duration', '10s', '--ephemeral', '--api', '127.0.0.1:0'],
    dir,
    150_000,
  );
  t.equal(lab.code, 0, lab.stderr.slice(-3000));
  // the banner and the summary table, whichever stream carries them
  const said = lab.stdout + lab.stderr;
  t.match(said, /etcd-soak is running/);
  const report = /report: (\S+)/.exec(said)?.[1];
  t.ok(report && report.startsWith(path.join(dir, 'reports')), `the report under the folder: ${report}`);
  t.ok(report && fs.existsSync(path.join(report, 'summary.json')), 'summary.json written');
  t.ok(
    report && fs.existsSync(path.join(report, 'report.html')),
    'report.html written (uPlot from the installed dependencies)',
  );
});

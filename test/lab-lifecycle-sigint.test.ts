// Ctrl-C in a terminal, round after round: the lab leads its own process group (as a shell's foreground
// job does), SIGINT goes to the whole group, and the lab must stop cleanly within 10 s every time: exit 0,
// no member reported as crashed, every member pid gone, the members' temp data dir gone, every stderr
// line whole. ETCD_SOAK_SIGINT_ROUNDS sets the number of rounds (default 20).
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive, cmdline, root } from './helpers/proc.js';

const ROUNDS = Math.max(1, Number(process.env.ETCD_SOAK_SIGINT_ROUNDS ?? 20));
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-sigint-reports-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

interface Round {
  code: number | null;
  signal: NodeJS.Signals | null;
  stopMs: number;
  startMs: number;
  pids: number[];
  dataDir: string;
  stderr: string;
}

async function round(): Promise<Round> {
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'bin/etcd-soak.js'),
      'lab',
      '--ephemeral',
      '--api',
      '127.0.0.1:0',
      '--duration',
      '5m',
      '--rate',
      '50',
      '--watchers',
      '12',
      '--report-dir',
      reportDir,
      '--json-logs',
    ],
    { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stdout!.on('data', (b) => (stderr += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  try {
    const deadline = Date.now() + 60000;
    while (!/etcd-soak is running[\s\S]*curl .*\/load\n/.test(stderr)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no banner: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const startMs = Date.now() - t0;
    const pids = [...stderr.matchAll(/^ {2}s\d+\s.*\s(\d+)$/gm)].map((m) => Number(m[1]));
    // the member's own command line names its data dir: <baseDir>/s1.etcd
    const dd = /--data-dir (\S+)\/s1\.etcd/.exec(cmdline(pids[0]));
    const dataDir = dd?.[1] ?? '';
    // let the load run a little
    await new Promise((r) => setTimeout(r, 300));
    const tk = Date.now();
    process.kill(-child.pid!, 'SIGINT');
    const res = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10000))]);
    const stopMs = Date.now() - tk;
    if (res === 'timeout') return { code: null, signal: null, stopMs, startMs, pids, dataDir, stderr };
    return { ...res, stopMs, startMs, pids, dataDir, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

t.test(
  `Ctrl-C to the lab's process group stops it cleanly, ${ROUNDS} rounds in a row`,
  { timeout: ROUNDS * 30000 + 30000 },
  async (t) => {
    const began = Date.now();
    const stops: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const r = await round();
      stops.push(r.stopMs);
      const tag = `round ${i + 1}`;
      t.equal(r.code, 0, `${tag}: exit code 0 within 10 s (stopped in ${r.stopMs} ms)`, {
        stderr: r.code === 0 ? undefined : r.stderr.slice(-3000),
      });
      t.equal(r.pids.length, 3, `${tag}: banner lists 3 member pids`);
      t.ok(
        r.pids.every((p) => /\betcd\b/.test(cmdline(p)) || !alive(p)),
        `${tag}: each banner pid is etcd's own`,
      );
      t.notMatch(r.stderr, /exited unexpectedly/, `${tag}: no member reported as crashed`);
      const left = r.pids.filter(alive);
      t.same(left, [], `${tag}: every member pid is gone`);
      t.ok(r.dataDir && !fs.existsSync(r.dataDir), `${tag}: data dir ${r.dataDir} removed`);
      const broken = r.stderr.split('\n').filter((l) => l.includes('{"level"') && !l.startsWith('{"level"'));
      t.same(broken, [], `${tag}: no log record inside another line`);
      for (const p of left) process.kill(p, 'SIGKILL');
      if (r.code !== 0) break;
    }
    t.comment(
      `${stops.length} rounds in ${Math.round((Date.now() - began) / 1000)} s; stop took ${Math.min(...stops)}–${Math.max(...stops)} ms`,
    );
  },
);

t.test('Ctrl-C while the members start aborts the start cleanly', async (t) => {
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin/etcd-soak.js'), 'lab', '--ephemeral', '--api', '127.0.0.1:0', '--no-load', '--json-logs'],
    {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ETCD_SOAK_LOG_LEVEL: 'info' },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // the members are spawned (their pids are logged) but not healthy yet
  const deadline = Date.now() + 30000;
  let m: RegExpExecArray | null = null;
  while (!(m = /"msg":"etcd cluster starting"/.exec(stderr)) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 10));
  t.ok(m, 'members spawned');
  const rec = stderr.split('\n').find((l) => l.includes('"msg":"etcd cluster starting"'))!;
  const pids = (JSON.parse(rec) as { members: { pid: number }[] }).members.map((x) => x.pid);
  const dataDir = /--data-dir (\S+)\/s1\.etcd/.exec(cmdline(pids[0]))?.[1] ?? '';
  t.notMatch(stderr, /etcd-soak is running/, 'before the lab is up');
  process.kill(-child.pid!, 'SIGINT');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10000))]);
  t.equal(code, 0, 'exit 0 within 10 s');
  t.match(stderr, /SIGINT: aborting the start/);
  t.same(pids.filter(alive), [], 'every member pid is gone');
  t.ok(dataDir && !fs.existsSync(dataDir), 'the data dir is removed');
});

// Members never outlive the daemon, also when it is SIGKILLed (setpriv's PDEATHSIG; a watchdog on a pipe
// when setpriv is missing), and a new lab cleans what a crashed one left, by the crashed lab's own
// record: member pids that are alive and whose command line names their data dir are killed, the dir is
// removed; nothing else is touched.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { OWNER_FILE, type OwnerRecord } from '../src/cluster/owner.js';
import { processStartTime } from '../src/util/proc.js';
import { alive, cmdline, root } from './helpers/proc.js';

async function goneWithin(pids: number[], ms: number): Promise<{ left: number[]; took: number }> {
  const t0 = Date.now();
  let left = pids.filter(alive);
  while (left.length && Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(alive);
  }
  return { left, took: Date.now() - t0 };
}

function collect(child: ChildProcess): { text: () => string } {
  let s = '';
  child.stdout?.on('data', (b) => (s += b));
  child.stderr?.on('data', (b) => (s += b));
  return { text: () => s };
}

async function waitFor(get: () => string, re: RegExp, child: ChildProcess, ms = 60000): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(get());
    if (m) return m;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`timed out waiting for ${re}: ${get()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

let crashedLabDir = '';

t.test('SIGKILL of the lab process: every member is gone within 3 s, by PDEATHSIG', async (t) => {
  const lab = spawn(
    process.execPath,
    [path.join(root, 'bin/etcd-soak.js'), 'lab', '--ephemeral', '--api', '127.0.0.1:0', '--no-load', '--json-logs'],
    {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out = collect(lab);
  t.teardown(() => {
    if (lab.exitCode === null && lab.signalCode === null) lab.kill('SIGKILL');
  });
  await waitFor(out.text, /etcd-soak is running[\s\S]*curl .*\/load\n/, lab);
  const pids = [...out.text().matchAll(/^ {2}s\d+\s.*\s(\d+)$/gm)].map((m) => Number(m[1]));
  t.equal(pids.length, 3);
  t.ok(
    pids.every((p) => / --name s\d /.test(cmdline(p))),
    'the banner pids are the etcd processes themselves',
  );
  crashedLabDir = /--data-dir (\S+)\/s1\.etcd/.exec(cmdline(pids[0]))![1];
  const rec = JSON.parse(fs.readFileSync(path.join(crashedLabDir, OWNER_FILE), 'utf8')) as OwnerRecord;
  t.equal(rec.daemon.pid, lab.pid, 'the record names the daemon');
  t.same(
    rec.members.map((m) => m.pid),
    pids,
    'and each member pid',
  );

  process.kill(lab.pid!, 'SIGKILL');
  await exited(lab);
  const { left, took } = await goneWithin(pids, 3000);
  t.same(left, [], `every member gone ${took} ms after the daemon was killed`);
  t.ok(fs.existsSync(crashedLabDir), 'the crashed lab left its data dir (the next lab cleans it)');
});

t.test('watchdog (no setpriv): SIGKILL of the owner kills its members within 3 s', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-watchdog-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'owner.mjs');
  fs.writeFileSync(
    script,
    `const { startCluster } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/cluster/launch.js')).href)});
const c = await startCluster({ size: 1, tie: 'watchdog', baseDir: ${JSON.stringify(dir)} });
console.log(JSON.stringify({ mode: c.tie.mode, pids: c.members.map((m) => m.pid), watchdog: c.tie.watchdogPid, dir: c.baseDir }));
setInterval(() => {}, 1000);
`,
  );
  const owner = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(owner);
  t.teardown(() => {
    if (owner.exitCode === null && owner.signalCode === null) owner.kill('SIGKILL');
  });
  const info = JSON.parse((await waitFor(out.text, /^\{.*\}$/m, owner))[0]) as {
    mode: string;
    pids: number[];
    watchdog: number;
    dir: string;
  };
  t.equal(info.mode, 'watchdog');
  t.ok(alive(info.watchdog) && alive(info.pids[0]), 'member and watchdog run');
  t.match(cmdline(info.pids[0]), /etcd .*--name s1/, 'the member is etcd itself (no wrapper)');
  process.kill(owner.pid!, 'SIGKILL');
  await exited(owner);
  const { left, took } = await goneWithin([...info.pids, info.watchdog], 3000);
  t.same(left, [], `member and watchdog gone ${took} ms after the owner was killed`);
});

for (const tie of ['pdeathsig', 'watchdog'] as const) {
  t.test(`${tie}: a member restarted through its process handle dies with its owner too`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-restart-tie-test-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const script = path.join(dir, 'owner.mjs');
    fs.writeFileSync(
      script,
      `const { startCluster } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/cluster/launch.js')).href)});
const c = await startCluster({ size: 1, tie: '${tie}', baseDir: ${JSON.stringify(dir)} });
const m = c.members[0];
const before = m.pid;
await m.restart();
console.log(JSON.stringify({ before, after: m.pid, watchdog: c.tie.watchdogPid ?? null, dir: c.baseDir }));
setInterval(() => {}, 1000);
`,
    );
    const owner = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(owner);
    const started: number[] = [];
    t.teardown(() => {
      if (owner.exitCode === null && owner.signalCode === null) owner.kill('SIGKILL');
      // whatever the outcome, the member this test started is stopped by its pid
      for (const pid of started) if (alive(pid) && cmdline(pid).includes(dir)) process.kill(pid, 'SIGKILL');
    });
    const info = JSON.parse((await waitFor(out.text, /^\{.*\}$/m, owner))[0]) as {
      before: number;
      after: number;
      watchdog: number | null;
      dir: string;
    };
    started.push(info.before, info.after);
    t.not(info.after, info.before, 'restarted: a new process');
    t.notOk(alive(info.before), 'the old one is gone');
    t.ok(alive(info.after), 'the new one runs');
    const rec = JSON.parse(fs.readFileSync(path.join(info.dir, OWNER_FILE), 'utf8')) as OwnerRecord;
    t.equal(rec.members[0].pid, info.after, 'the owner record names the new pid');
    process.kill(owner.pid!, 'SIGKILL');
    await exited(owner);
    const { left, took } = await goneWithin([info.after, ...(info.watchdog ? [info.watchdog] : [])], 30000);
    t.same(left, [], 'the restarted member is gone after its owner was SIGKILLed');
    t.comment(`gone ${took} ms after the owner was killed`);
  });
}

t.test("a new lab cleans what a crashed one left, by the crashed lab's own record", async (t) => {
  // a planted leftover: a record whose daemon is dead, one "member" that is alive and names its data dir,
  // one pid that is alive but is not that member (its command line does not name the dir)
  const planted = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-cluster-'));
  const keepAlive = 'setTimeout(() => {}, 60000)';
  const member = spawn(process.execPath, ['-e', keepAlive, path.join(planted, 's1.etcd')], { stdio: 'ignore' });
  const bystander = spawn(process.execPath, ['-e', keepAlive], { stdio: 'ignore' });
  const deadOwner = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await exited(deadOwner);
  // a cluster whose owner is alive (this process) must stay
  const liveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-cluster-'));
  t.teardown(() => {
    for (const c of [member, bystander]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of [planted, liveDir]) fs.rmSync(d, { recursive: true, force: true });
  });
  const now = new Date().toISOString();
  const m = (name: string, pid: number, dir: string) => ({
    name,
    pid,
    dataDir: path.join(dir, `${name}.etcd`),
    clientPort: 1,
    peerPort: 2,
    advertiseClientPort: 3,
    advertisePeerPort: 4,
  });
  const rec: OwnerRecord = {
    version: 1,
    daemon: { pid: deadOwner.pid!, startTime: '1', argv: [] },
    baseDir: planted,
    keep: false,
    createdAt: now,
    updatedAt: now,
    members: [m('s1', member.pid!, planted), m('s2', bystander.pid!, planted)],
  };
  fs.writeFileSync(path.join(planted, OWNER_FILE), JSON.stringify(rec));
  fs.writeFileSync(
    path.join(liveDir, OWNER_FILE),
    JSON.stringify({
      ...rec,
      daemon: { pid: process.pid, startTime: processStartTime(process.pid), argv: [] },
      baseDir: liveDir,
      members: [m('s1', bystander.pid!, liveDir)],
    }),
  );
  const memberExit = new Promise<NodeJS.Signals | null>((r) => member.once('exit', (_c, sig) => r(sig)));

  const lines: string[] = [];
  const lab = await startLab(
    parseConfig({ api: { listen: '127.0.0.1:0' }, cluster: { launch: { members: 1, ports: 'ephemeral' } } }),
    { out: (l) => lines.push(l) },
  );
  t.teardown(() => lab.stop());
  t.equal(await memberExit, 'SIGKILL', 'the planted member (alive, its command line names its data dir) was SIGKILLed');
  t.notOk(fs.existsSync(planted), 'the planted leftover dir is removed');
  t.ok(alive(bystander.pid!), 'a listed pid whose command line does not name the dir is left alone');
  t.ok(fs.existsSync(liveDir), 'a cluster whose owner is alive is left alone');
  if (crashedLabDir) t.notOk(fs.existsSync(crashedLabDir), 'the SIGKILLed lab of the first test is cleaned too');
  const cleaned = lines.filter((l) => l.startsWith('cleaned up after a lab'));
  t.ok(
    cleaned.some(
      (l) =>
        l.includes(`pid ${deadOwner.pid}`) &&
        l.includes(`killed s1 (pid ${member.pid})`) &&
        l.includes(`removed ${planted}`),
    ),
    'one line names the dead daemon, the killed member and the removed dir',
    { lines },
  );
  t.equal(cleaned.filter((l) => l.includes(planted)).length, 1, 'one line per cleaned lab');
});

// `etcd-soak member` against a lab (the built command, as a user runs it): list, freeze and continue,
// kill and start, and the exit codes of mistakes (2, naming the field) and of a daemon that cannot be
// reached (3). And a daemon over an existing cluster it did not launch: 422 for a member or a role,
// since there is no process to act on.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { freePorts } from '../src/util/net.js';
import { api, labOverLocalCluster, localLayout } from './helpers/partition.js';
import { run } from './helpers/proc.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-member-cli-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

async function member(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = run('etcd-soak', ['member', ...args]);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

t.test('etcd-soak member on a lab', async (t) => {
  const lab = await startLab(
    parseConfig({ api: { listen: '127.0.0.1:0' }, reportDir, cluster: { launch: { members: 3, ports: 'ephemeral' } } }),
    { out: null },
  );
  t.teardown(() => lab.stop());
  const at = ['--api', lab.apiUrl];

  const list = await member(['list', ...at]);
  t.equal(list.code, 0, list.stderr);
  for (const name of ['s1', 's2', 's3']) t.match(list.stdout, new RegExp(`^${name} +running +pid \\d+$`, 'm'));

  // a long duration: the list below sees it frozen however slowly the commands start
  const frozen = await member(['freeze', 'follower', '--duration', '10m', '--json', ...at]);
  t.equal(frozen.code, 0, frozen.stderr);
  const r = JSON.parse(frozen.stdout);
  t.equal(r.state, 'stopped');
  const during = await member(['list', ...at]);
  t.match(during.stdout, new RegExp(`^${r.member} +stopped +pid \\d+  ${r.window} freeze since `, 'm'));
  const continued = await member(['continue', r.member, ...at]);
  t.equal(continued.code, 0, continued.stderr);
  t.match(
    continued.stdout,
    new RegExp(`^continue ${r.member}: running \\(pid \\d+\\) at \\S+, window ${r.window}\\n$`),
  );
  t.same((await api(lab, 'GET', '/members')).body.windows, []);

  const killed = await member(['kill', r.member, ...at]);
  t.equal(killed.code, 0, killed.stderr);
  t.match(killed.stdout, new RegExp(`^kill ${r.member}: exited at \\S+, window m\\d+\\n$`));
  const started = await member(['start', r.member, ...at]);
  t.equal(started.code, 0, started.stderr);
  t.match(started.stdout, new RegExp(`^start ${r.member}: running \\(pid \\d+\\) at \\S+, window m\\d+\\n$`));

  const badAction = await member(['explode', 's1', ...at]);
  t.equal(badAction.code, 2);
  t.match(badAction.stderr, /unknown action "explode"/);
  const badDuration = await member(['freeze', 's1', '--duration', 'soon', ...at]);
  t.equal(badDuration.code, 2);
  t.match(badDuration.stderr, /^etcd-soak member: --duration: /);
  const noTarget = await member(['kill', ...at]);
  t.equal(noTarget.code, 2);
  const unknown = await member(['kill', 's9', ...at]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /404 no member named "s9" \(target: /);
  t.same((await api(lab, 'GET', '/members')).body.windows, [], 'no mistake applied anything');

  const [port] = await freePorts(1);
  const away = await member(['list', '--api', `http://127.0.0.1:${port}`]);
  t.equal(away.code, 3);
  t.match(away.stderr, /cannot reach the daemon/);
});

t.test('top-level help lists the command', async (t) => {
  const p = run('etcd-soak', ['--help']);
  await p.exited;
  t.match(p.stdout(), /^ {2}member +kill, stop, freeze/m);
});

t.test('members the daemon did not launch: 422, by name or by role', async (t) => {
  const layout = await localLayout(['e1', 'e2', 'e3']);
  const { lab } = await labOverLocalCluster(t, layout, { peerTls: false, reportDir });
  for (const target of ['e2', 'leader', 'follower']) {
    const a = await api(lab, 'POST', `/members/${target}/kill`);
    t.equal(a.status, 422, target);
    t.equal(a.body.details[0].path, 'target');
    t.match(a.body.error, /not launched by this daemon/);
  }
  const list = (await api(lab, 'GET', '/members')).body;
  t.equal(list.members.length, 3);
  t.ok(
    list.members.every((m: { state?: string }) => m.state === undefined),
    'no process state to show',
  );
});

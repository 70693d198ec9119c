import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfigFile } from '../src/config/schema.js';
import { run } from './helpers/proc.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-config-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

t.test('the shipped configs load', async (t) => {
  const lab = loadConfigFile(new URL('../config/lab.yaml', import.meta.url).pathname);
  t.equal(lab.cluster?.launch?.members, 3);
  t.equal(lab.cluster?.launch?.peerTls, true);
  t.equal(lab.api.listen, '127.0.0.1:8379');
  t.equal(lab.load?.rate, 200);
  t.equal(lab.statusInterval, 5000, 'durations become milliseconds');
  const ex = loadConfigFile(new URL('../config/existing-cluster.example.yaml', import.meta.url).pathname);
  t.equal(ex.cluster?.existing?.members[0].client, '127.0.0.1:2379');
  t.equal(ex.cluster?.existing?.members[0].peer, '127.0.0.1:2380', "a member's peer URL (optional)");
  const json = write(
    'c.json',
    JSON.stringify({
      api: { listen: '127.0.0.1:0' },
      links: [{ name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:2379', kind: 'client' }],
    }),
  );
  t.equal(loadConfigFile(json).links[0].name, 'a', 'JSON works too');
});

t.test('each kind of invalid config fails with the file and the path named', async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      'unknown.yaml',
      'api:\n  listen: 127.0.0.1:1\n  bogus: 1\n',
      /unknown\.yaml: api: Unrecognized key\(s\) in object: 'bogus'/,
    ],
    ['type.yaml', 'load:\n  rate: fast\n', /type\.yaml: load\.rate: Expected number, received string/],
    ['duration.yaml', 'statusInterval: "5"\n', /duration\.yaml: statusInterval: time: missing unit in duration "5"/],
    [
      'both.yaml',
      'cluster:\n  launch: {}\n  existing: { members: [{ name: s1, client: "127.0.0.1:2379" }] }\n',
      /both\.yaml: cluster: expected exactly one of "launch" or "existing"/,
    ],
    [
      'member.yaml',
      'cluster:\n  existing:\n    members:\n      - { name: s1, client: "localhost" }\n',
      /member\.yaml: cluster\.existing\.members\[0\]\.client: expected "host:port", got "localhost"/,
    ],
    [
      'peer.yaml',
      'cluster:\n  existing:\n    members:\n      - { name: s1, client: "127.0.0.1:2379", peer: "2380" }\n',
      /peer\.yaml: cluster\.existing\.members\[0\]\.peer: expected "host:port"/,
    ],
    [
      'twice.yaml',
      'cluster:\n  existing:\n    members:\n      - { name: s1, client: "127.0.0.1:2379" }\n      - { name: s1, client: "127.0.0.1:3379" }\n',
      /twice\.yaml: cluster\.existing\.members\[1\]\.name: duplicate member name "s1"/,
    ],
    [
      'link.yaml',
      'links:\n  - { name: a, listen: "127.0.0.1:99999", upstream: "127.0.0.1:1" }\n',
      /link\.yaml: links\[0\]\.listen: port out of range/,
    ],
    [
      'huge.yaml',
      'load:\n  watchers: 1e12\n',
      /huge\.yaml: load\.watchers: Number must be less than or equal to 100000/,
    ],
    [
      'members.yaml',
      'cluster:\n  launch:\n    members: 0\n',
      /members\.yaml: cluster\.launch\.members: Number must be greater than or equal to 1/,
    ],
    ['syntax.yaml', 'api: [unclosed\n', /syntax\.yaml: line \d+: /],
    ['token.yaml', 'api:\n  token: short\n', /token\.yaml: api\.token: expected at least 8 characters/],
  ];
  for (const [name, text, re] of cases) {
    const f = write(name, text);
    let caught: unknown;
    try {
      loadConfigFile(f);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${name} is rejected`);
    t.match((caught as Error)?.message, re, name);
  }
  t.throws(() => loadConfigFile(path.join(dir, 'missing.yaml')), /missing\.yaml: cannot read: ENOENT/);
});

t.test('etcd-soak run with a bad config exits 2 naming the path; lab flags are checked too', async (t) => {
  const f = write('bad-run.yaml', 'load:\n  settle: soon\n');
  const p = run('etcd-soak', ['run', '--config', f]);
  t.equal((await p.exited).code, 2);
  t.match(p.stderr(), /invalid config: .*bad-run\.yaml: load\.settle: time: invalid duration "soon"/);
  const q = run('etcd-soak', ['run']);
  t.equal((await q.exited).code, 2);
  t.match(q.stderr(), /--config FILE is required/);
  const l = run('etcd-soak', ['lab', '--rate', 'lots']);
  t.equal((await l.exited).code, 2);
  t.match(l.stderr(), /--rate: expected a number, got "lots"/);
  const d = run('etcd-soak', ['lab', '--duration', '10']);
  t.equal((await d.exited).code, 2);
  t.match(d.stderr(), /--duration: time: missing unit in duration "10"/);
  const h = run('etcd-soak', ['lab', '--help']);
  t.equal((await h.exited).code, 0);
  t.match(h.stdout(), /Usage: etcd-soak lab/);
  const u = run('etcd-soak', ['frobnicate']);
  t.equal((await u.exited).code, 2);
  t.match(u.stderr(), /unknown command "frobnicate"/);
});

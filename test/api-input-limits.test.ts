// Oversized request bodies against a real daemon process (`etcd-soak run`): the JSON API answers 413
// without buffering more than its 1 MiB limit, a link's etcd-proxy admin port answers Go's
// `wrong form "http: POST too large"` without reading past 10 MiB, and the daemon keeps serving.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { freePorts } from '../src/util/net.js';
import { run, stop } from './helpers/proc.js';

const [apiPort, linkPort, upstreamPort, adminPort] = await freePorts(4);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-limits-'));
const config = path.join(dir, 'limits.yaml');
fs.writeFileSync(
  config,
  `api: { listen: "127.0.0.1:${apiPort}" }\n` +
    `reportDir: ${JSON.stringify(path.join(dir, 'reports'))}\n` +
    `links:\n  - { name: l1, listen: "127.0.0.1:${linkPort}", upstream: "127.0.0.1:${upstreamPort}", compatAdmin: "127.0.0.1:${adminPort}" }\n`,
);
const daemon = run('etcd-soak', ['run', '--config', config]);
t.teardown(async () => {
  await stop(daemon);
  fs.rmSync(dir, { recursive: true, force: true });
});
await daemon.waitFor(/API: http:\/\/127\.0\.0\.1:\d+/, 'stderr');
const pid = daemon.child.pid!;
const API = `http://127.0.0.1:${apiPort}`;

/** peak resident set of the daemon so far (VmHWM), bytes */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function* chunks(total: number, fill: string) {
  const block = Buffer.alloc(65536, fill);
  for (let sent = 0; sent < total; sent += block.length) yield block;
}

const tooLarge = {
  error: 'request body too large: limit 1 MiB',
  details: [{ path: 'body', message: 'expected at most 1048576 bytes' }],
};

/** Sends only the head of a request and whatever part of the body is given; resolves with the first response bytes. */
function rawHead(port: number, head: string, body: Buffer, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (got ${JSON.stringify(got)})`));
    }, timeoutMs);
    s.on('error', () => {});
    s.on('data', (b) => {
      got += b;
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      if (end >= 0 && len && got.length >= end + 4 + Number(len[1])) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.write(head);
    s.write(body);
  });
}

t.test('a Content-Length over the limit is answered 413 at once, before the body is sent', async (t) => {
  const head = `POST /links HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${300 * 1024 * 1024}\r\n\r\n`;
  const answer = await rawHead(apiPort, head, Buffer.from('{"name":'), 3000);
  t.match(answer, /^HTTP\/1\.1 413 /);
  t.same(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), tooLarge);
});

t.test('a 50 MB chunked JSON body: 413, the daemon does not buffer it and keeps serving', async (t) => {
  const before = peakRss();
  const res = await request(`${API}/links`, {
    method: 'POST',
    body: chunks(50 * 1024 * 1024, ' '),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(res.statusCode, 413);
  t.same(await res.body.json(), tooLarge);
  const growth = peakRss() - before;
  t.ok(growth < 32 * 1024 * 1024, `daemon peak RSS grew ${(growth / 1048576).toFixed(1)} MiB for a 50 MB body`);
  const health = await request(`${API}/healthz`);
  t.equal(health.statusCode, 200);
  await health.body.text();
  const links = await request(`${API}/links`);
  t.same(
    ((await links.body.json()) as { name: string }[]).map((l) => l.name),
    ['l1'],
    'still serving, nothing created',
  );
});

t.test("a link's etcd-proxy admin port: Go's form limit, 200 text, bounded memory", async (t) => {
  const before = peakRss();
  const res = await request(`http://127.0.0.1:${adminPort}/delay-tx`, {
    method: 'PUT',
    body: chunks(50 * 1024 * 1024, '='),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), 'wrong form "http: POST too large"\n');
  const growth = peakRss() - before;
  t.ok(
    growth < 40 * 1024 * 1024,
    `daemon peak RSS grew ${(growth / 1048576).toFixed(1)} MiB for a 50 MB form (Go reads up to 10 MiB too)`,
  );
  const head = `PUT /delay-rx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${300 * 1024 * 1024}\r\n\r\n`;
  const answer = await rawHead(adminPort, head, Buffer.from('latency=1s'), 3000);
  t.match(answer, /^HTTP\/1\.1 200 /, 'a huge Content-Length is refused without waiting for the body');
  t.ok(answer.endsWith('\r\n\r\nwrong form "http: POST too large"\n'));
  const big = await request(`http://127.0.0.1:${adminPort}/delay-tx`, {
    method: 'PUT',
    body: 'latency=200h&random-variable=1s',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(big.statusCode, 200);
  t.equal(await big.body.text(), 'added send latency 200h0m0s±1s (current latency 200h0m0s)\n', 'still serving');
  t.notMatch(daemon.stderr(), /TimeoutOverflowWarning/);
});

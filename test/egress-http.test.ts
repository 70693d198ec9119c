// The egress with plain-HTTP peers: absolute-form requests decided per request (one keep-alive proxy
// connection, several targets), streaming answers blackholed and released live, cut pairs refused, and
// bad input answered without taking the egress down.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { Egress } from '../src/proxy/egress.js';
import { Metrics } from '../src/metrics.js';
import { freePorts } from '../src/util/net.js';
import { pattern, sleep } from './helpers/net.js';
import { pairOf, readHead, until } from './helpers/egress.js';

type TapTest = Parameters<Parameters<(typeof import('tap'))['test']>[1]>[0];

/** Members s1..sN, each an HTTP peer server (POST echoes its name and body size, GET /stream ticks). */
async function members(t: TapTest, names: string[]) {
  const byPort = new Map<number, string>();
  const egress = new Egress({
    resolveTarget: (host, port) => (host === 'localhost.' ? byPort.get(port) : undefined),
    metrics: new Metrics({ defaultMetrics: false }),
    seed: 3,
  });
  const peers: Record<string, { port: number; egressPort: number; requests: number }> = {};
  const servers: http.Server[] = [];
  for (const name of names) {
    const peer = { port: 0, egressPort: 0, requests: 0 };
    const server = http.createServer((req, res) => {
      peer.requests++;
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.flushHeaders();
        let n = 0;
        const tick = setInterval(() => res.write(`tick ${n++}\n`), 10);
        res.on('close', () => clearInterval(tick));
        return;
      }
      let size = 0;
      req.on('data', (b: Buffer) => (size += b.length));
      req.on('end', () => res.end(`${name}:${size}`));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    peer.port = (server.address() as net.AddressInfo).port;
    byPort.set(peer.port, name);
    peer.egressPort = await egress.listen(name);
    peers[name] = peer;
  }
  t.teardown(async () => {
    await egress.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  return { egress, peers };
}

/** A request `from` makes to `to`'s peer URL through from's egress, as Go's transport sends it. */
function viaEgress(
  egressPort: number,
  targetPort: number,
  opts: { method?: string; path?: string; body?: Buffer; agent?: http.Agent },
): Promise<{ status: number; body: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const target = `localhost.:${targetPort}`;
    const req = http.request({
      host: '127.0.0.1',
      port: egressPort,
      method: opts.method ?? 'POST',
      path: `http://${target}${opts.path ?? '/raft'}`,
      headers: { host: target },
      agent: opts.agent,
    });
    let socket: net.Socket | undefined;
    req.on('socket', (s) => (socket = s));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, socket: socket! }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

t.test('requests to two targets over one keep-alive proxy connection each count for their own pair', async (t) => {
  const { egress, peers } = await members(t, ['s1', 's2', 's3']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const a = await viaEgress(peers.s1.egressPort, peers.s2.port, { body: pattern(1000), agent });
  const b = await viaEgress(peers.s1.egressPort, peers.s3.port, { body: pattern(2000), agent });
  t.equal(a.body, 's2:1000');
  t.equal(b.body, 's3:2000');
  t.equal(a.socket, b.socket, 'both requests rode one proxy connection');
  t.equal(pairOf(egress, 's1', 's2')?.bytes, 1000);
  t.equal(pairOf(egress, 's1', 's3')?.bytes, 2000);
  t.equal(pairOf(egress, 's2', 's1')?.bytes, 's2:1000'.length);
  t.equal(pairOf(egress, 's3', 's1')?.bytes, 's3:2000'.length);
});

t.test('a streaming answer keeps flowing, is blackholed live and released live; reset mode ends it', async (t) => {
  const { egress, peers } = await members(t, ['s1', 's2']);
  let received = 0;
  const ended = new Promise<string>((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port: peers.s1.egressPort,
      path: `http://localhost.:${peers.s2.port}/stream`,
      headers: { host: `localhost.:${peers.s2.port}` },
    });
    req.on('response', (res) => {
      res.on('data', (b: Buffer) => (received += b.length));
      res.on('error', () => resolve('error'));
      res.on('close', () => resolve(res.complete ? 'complete' : 'aborted'));
    });
    req.on('error', () => resolve('error'));
    req.end();
  });
  await until(() => received > 100);
  t.equal(pairOf(egress, 's1', 's2')?.tunnels, 1, 'one live exchange s1 made to s2');
  egress.setEffect('s2', 's1', { kind: 'cut', established: 'blackhole' });
  const cutAt = pairOf(egress, 's2', 's1')!.bytes;
  await until(() => pairOf(egress, 's2', 's1')!.blackholed > 100);
  const seenAt = received; // anything delivered before the cut has arrived by now
  await sleep(100);
  t.equal(pairOf(egress, 's2', 's1')!.bytes, cutAt, '0 bytes delivered s2→s1 while cut');
  t.ok(received - seenAt <= 0, 'the requester got nothing more while cut');
  egress.setEffect('s2', 's1', undefined);
  await until(() => received > seenAt + 100);
  t.pass('the stream flows again after the heal');
  egress.setEffect('s2', 's1', { kind: 'cut', established: 'reset' });
  t.not(await ended, 'complete', 'reset mode ends the stream');
  await until(() => pairOf(egress, 's1', 's2')!.tunnels === 0);
});

t.test('a cut pair refuses new requests; a cut answer direction holds the answer until healed', async (t) => {
  const { egress, peers } = await members(t, ['s1', 's2', 's3']);
  egress.setEffect('s1', 's2', { kind: 'cut', established: 'blackhole' });
  const refused = await viaEgress(peers.s1.egressPort, peers.s2.port, { body: pattern(10) });
  t.equal(refused.status, 502);
  t.match(refused.body, /partitioned/);
  t.equal(peers.s2.requests, 0, 's2 never saw the request');
  t.equal(pairOf(egress, 's1', 's2')?.refused, 1);
  t.equal((await viaEgress(peers.s1.egressPort, peers.s3.port, { body: pattern(10) })).body, 's3:10');
  egress.setEffect('s1', 's2', undefined);

  egress.setEffect('s2', 's1', { kind: 'cut', established: 'blackhole' });
  let answered = false;
  const pending = viaEgress(peers.s1.egressPort, peers.s2.port, { body: pattern(20) }).then((r) => {
    answered = true;
    return r;
  });
  await until(() => peers.s2.requests === 1);
  await sleep(100);
  t.notOk(answered, 's2 got the request, its answer is held');
  egress.setEffect('s2', 's1', undefined);
  t.equal((await pending).body, 's2:20', 'the answer arrives after the heal');
});

/** Sends raw bytes to the egress; resolves with the status line of its answer. */
async function raw(port: number, text: string): Promise<string> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  s.write(text);
  const head = await readHead(s);
  s.destroy();
  return head.split('\r\n')[0];
}

t.test('bad input is answered like a proxy would and the egress keeps forwarding', async (t) => {
  const { egress, peers } = await members(t, ['s1', 's2']);
  const [closed] = await freePorts(1);
  const p = peers.s1.egressPort;
  t.match(await raw(p, 'GET /not-absolute HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/, 'origin-form');
  t.match(await raw(p, 'NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400/, 'malformed request line');
  t.match(
    await raw(p, `GET http://localhost.:1/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`),
    /^HTTP\/1\.1 431/,
    'huge headers',
  );
  t.match(await raw(p, 'CONNECT no-port HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/, 'CONNECT without a port');
  t.match(
    await raw(p, `CONNECT 127.0.0.1:${closed} HTTP/1.1\r\n\r\n`),
    /^HTTP\/1\.1 502/,
    'CONNECT to a refusing target',
  );
  t.equal((await viaEgress(p, closed, { body: pattern(5) })).status, 502, 'plain request to a refusing target');
  t.match(egress.problems(), {
    'not-a-proxy-request': 1,
    'malformed-request': 1,
    'header-too-large': 1,
    'bad-connect': 1,
    'upstream-failed': 2,
  });
  t.equal((await viaEgress(p, peers.s2.port, { body: pattern(7) })).body, 's2:7', 'still forwarding');
});

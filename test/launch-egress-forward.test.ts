// The forwarding egress listener on its own: CONNECT tunnels and absolute-form requests (bodies,
// several targets over one proxy connection) to this machine, each dial reported; anything else refused.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ForwardProxy, loopbackTarget, type EgressDial } from '../src/proxy/forward.js';

t.test('loopback targets only', async (t) => {
  t.same(loopbackTarget('localhost.:2380'), { host: '127.0.0.1', port: 2380 });
  t.same(loopbackTarget('LOCALHOST:2380'), { host: '127.0.0.1', port: 2380 });
  t.same(loopbackTarget('127.0.0.2:1'), { host: '127.0.0.2', port: 1 });
  t.same(loopbackTarget('[::1]:2380'), { host: '::1', port: 2380 });
  for (const bad of ['example.com:443', '10.0.0.1:2380', 'localhost.:0', 'localhost.:70000', 'localhost.'])
    t.equal(loopbackTarget(bad), undefined, bad);
});

t.test('tunnels and forwards to this machine, refuses elsewhere', async (t) => {
  // two origins: each echoes its name, the method, the path and the body it got
  const origins = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const s = http.createServer((req, res) => {
        let body = '';
        req.on('data', (b) => (body += b));
        req.on('end', () =>
          res.end(`${name} ${req.method} ${req.url} ${req.headers['proxy-connection'] ?? '-'} ${body}`),
        );
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      t.teardown(() => s.close());
      return (s.address() as AddressInfo).port;
    }),
  );
  const proxy = new ForwardProxy('s1');
  t.teardown(() => proxy.close());
  const port = await proxy.listen();
  const dials: EgressDial[] = [];
  proxy.on('dial', (d: EgressDial) => dials.push(d));

  // absolute-form requests to two targets over one kept-alive proxy connection
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const viaProxy = (url: string, method = 'GET', body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method, path: url, agent, headers: { 'proxy-connection': 'keep-alive' } },
        (res) => {
          let text = '';
          res.on('data', (b) => (text += b));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  t.same(await viaProxy(`http://localhost.:${origins[0]}/raft/probing`), {
    status: 200,
    text: 'a GET /raft/probing - ',
  });
  t.same(await viaProxy(`http://localhost.:${origins[1]}/raft?x=1`, 'POST', 'msg'), {
    status: 200,
    text: 'b POST /raft?x=1 - msg',
  });
  t.equal((await viaProxy('http://example.com/')).status, 403, 'elsewhere: refused');
  t.equal((await viaProxy('/raft')).status, 400, 'an origin-form request: refused');
  t.same(
    dials,
    [
      { member: 's1', target: `localhost.:${origins[0]}`, kind: 'request' },
      { member: 's1', target: `localhost.:${origins[1]}`, kind: 'request' },
    ],
    'each request reported with its own target',
  );

  // CONNECT: a tunnel to the origin; a refused target and a closed port answer at once
  const connect = (target: string) =>
    new Promise<{ status: number; socket: net.Socket }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'CONNECT', path: target, agent: false });
      req.on('connect', (res, socket) => resolve({ status: res.statusCode!, socket }));
      req.on('response', (res) => resolve({ status: res.statusCode!, socket: res.socket }));
      req.on('error', reject);
      req.end();
    });
  const tunnel = await connect(`localhost.:${origins[0]}`);
  t.equal(tunnel.status, 200);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    tunnel.socket.on('data', (b) => (text += b));
    tunnel.socket.on('close', () => resolve(text));
    tunnel.socket.write('GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  });
  t.match(answer, /a GET \/x - $/);
  t.same(dials.at(-1), { member: 's1', target: `localhost.:${origins[0]}`, kind: 'connect' });
  const refused = await connect('example.com:443');
  t.equal(refused.status, 403);
  refused.socket.destroy();
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const bad = await connect(`localhost.:${closed}`);
  t.equal(bad.status, 502, 'a failed dial answers 502');
  bad.socket.destroy();
});

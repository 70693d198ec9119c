// An API client cannot crash the daemon or leak a load: parallel PUT/PATCH/DELETE /load against a real
// etcd member behind a client link, over real HTTP, while /healthz keeps answering.
import t from 'tap';
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../src/api/app.js';
import { closeServer, Daemon } from '../src/daemon.js';
import { startCluster } from '../src/cluster/launch.js';
import { Metrics } from '../src/metrics.js';
import { freePorts } from '../src/util/net.js';

const cluster = await startCluster({ size: 1 });
const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
const [linkPort] = await freePorts(1);
await daemon.addLink({
  name: 's1-client',
  listen: `127.0.0.1:${linkPort}`,
  upstream: cluster.clientEndpoints()[0],
  kind: 'client',
  member: 's1',
});
const server = createAdaptorServer({ fetch: buildApp(daemon).fetch }) as Server;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
t.teardown(async () => {
  await closeServer(server);
  await daemon.close();
  await cluster.stop();
});

const profile = { rate: 40, watchers: 8, keys: 4, connections: 2, settle: '1s', putTimeout: '1s', interval: '1s' };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(api + path, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** etcd's own count of open watch streams (a leaked runner keeps its streams open) */
async function etcdWatchStreams(): Promise<number> {
  const text = await (await fetch(`http://${cluster.clientEndpoints()[0]}/metrics`)).text();
  const m = /^etcd_debugging_mvcc_watch_stream_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : -1;
}

async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('PUT /load while a load runs is 409 naming the run; replace:true replaces it', async (t) => {
  let r = await call('PUT', '/load', { profile });
  t.equal(r.status, 201);
  const first = r.json.runId;
  r = await call('PUT', '/load', { profile });
  t.equal(r.status, 409);
  t.match(r.json.error, new RegExp(`run ${first}`));
  t.equal(r.json.details[0].path, 'replace');
  r = await call('PUT', '/load', { profile, replace: true });
  t.equal(r.status, 201);
  t.not(r.json.runId, first);
  r = await call('GET', '/load');
  t.equal(r.json.runId !== first, true, 'the new run is the current one');
  r = await call('DELETE', '/load');
  t.equal(r.status, 200);
  t.equal(r.json.reason, 'stopped by API');
  r = await call('DELETE', '/load');
  t.equal(r.status, 404);
});

t.test('10 rounds of 20 parallel PUT/PATCH/DELETE /load: no 5xx, /healthz always answers, nothing leaks', async (t) => {
  let healthFailures = 0;
  let healthOk = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      try {
        const res = await fetch(`${api}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) healthOk++;
        else healthFailures++;
      } catch {
        healthFailures++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const statuses = new Map<number, number>();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 10; round++) {
    const calls = Array.from({ length: 20 }, () => {
      const x = rnd();
      if (x < 0.45) return call('PUT', '/load', { profile, replace: rnd() < 0.5 });
      if (x < 0.7) return call('PATCH', '/load', { rate: Math.round(rnd() * 80) });
      return call('DELETE', '/load');
    });
    for (const r of await Promise.all(calls)) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 100));
  }
  const finalStop = await call('DELETE', '/load');
  t.ok([200, 404].includes(finalStop.status));
  polling = false;
  await poller;
  t.equal(healthFailures, 0, `/healthz answered every time (${healthOk} polls)`);
  const codes = [...statuses.keys()].sort();
  t.ok(
    codes.every((c) => [200, 201, 404, 409].includes(c)),
    `only expected codes: ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  t.ok((statuses.get(201) ?? 0) > 0, 'some loads started');
  t.equal(daemon.loadRunner, undefined, 'no load runs after the final stop');
  t.equal((await call('GET', '/load')).json.state, 'idle');
  await eventually(
    'every load connection through the link to close',
    () => daemon.getLink('s1-client').stats().connections === 0,
  );
  await eventually("etcd's watch streams to drop to 0", async () => (await etcdWatchStreams()) === 0);
  t.pass('no connection and no watch stream leaked');
});

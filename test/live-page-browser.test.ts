// The live page (GET /) in a real browser (Debian's chromium driven by puppeteer-core) against a lab with
// a token and a put/watch load: the page asks for the token and then works without asking anything
// outside the daemon; its figures and chart points move between two reads; a delay fault added from the
// form shows in GET /links, and its remove button removes it; isolating the leader from the page cuts a
// partition that GET /partitions lists and the heal button heals; no console or page error. The
// screenshot goes to /tmp/live-page.png.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openTab } from './helpers/browser.js';
import { createAdaptorServer } from '@hono/node-server';
import type { AddressInfo, Server } from 'node:net';
import { buildApp } from '../src/api/app.js';
import { parseConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon.js';
import { startLab } from '../src/lab/lab.js';
import { Metrics } from '../src/metrics.js';
import { sleep, until } from './helpers/partition.js';

const TOKEN = 'page-test-token-42';
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-live-page-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

const lab = await startLab(
  parseConfig({
    api: { listen: '127.0.0.1:0', token: TOKEN },
    reportDir,
    seed: 7,
    cluster: { launch: { members: 3, ports: 'ephemeral' } },
    load: { rate: 40, watchers: 6, keys: 4, connections: 2, settle: '5s', putTimeout: '3s', interval: '1s' },
  }),
  { out: null },
);
t.teardown(() => lab.stop());

async function api(method: string, p: string): Promise<any> {
  const res = await fetch(lab.apiUrl + p, { method, headers: { Authorization: `Bearer ${TOKEN}` } });
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

const { browser, tab, errors, outside } = await openTab((url) => url.startsWith(lab.apiUrl) || url.startsWith('data:'));
t.teardown(() => browser.close());

const text = (sel: string) => tab.$eval(sel, (e) => e.textContent ?? '');
/** the intervals the charts hold, and a fingerprint of what the latency chart shows */
const chart = () =>
  tab.evaluate(() => {
    const c = document.querySelector('#latency canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum = (sum * 31 + d[i] + d[i + 1] + d[i + 2] + d[i + 3]) % 1_000_000_007;
    return { rows: (window as any).soakLive.rows() as number, pixels: sum };
  });

t.test('the page asks for the token, then shows the lab', async (t) => {
  await tab.goto(lab.apiUrl + '/', { waitUntil: 'load' });
  await tab.waitForSelector('#token-box:not([hidden])');
  t.equal(await text('#conn'), 'token needed');
  await tab.type('#token-input', TOKEN);
  await tab.click('#token-form button');
  await tab.waitForFunction(() => document.getElementById('conn')!.textContent === 'live');
  await tab.waitForFunction(() => document.querySelectorAll('#members tr[data-member]').length === 3);
  t.ok(await tab.$('#token-box[hidden]'), 'the prompt is gone');
  t.equal(await tab.evaluate(() => sessionStorage.getItem('etcd-soak-token')), TOKEN, 'kept in sessionStorage');
  await tab.waitForFunction(() => document.querySelector('#members b')?.textContent === 'leader');
  const links = await tab.$$eval('#links tr[data-link]', (rows) => rows.map((r) => r.getAttribute('data-link')));
  t.same(links.sort(), (await api('GET', '/links')).map((l: { name: string }) => l.name).sort(), 'every link');
  t.equal(await tab.$$eval('.uplot canvas', (cs) => cs.length), 2, 'two charts');
});

t.test('the numbers move: puts/s shown and chart rows added between two reads', async (t) => {
  await tab.waitForFunction(() => Number(document.getElementById('put-rate')!.textContent) > 0, { timeout: 20000 });
  const before = await chart();
  await sleep(3000);
  const after = await chart();
  t.ok(after.rows > before.rows && before.rows > 0, `chart rows ${before.rows} → ${after.rows}`);
  t.not(after.pixels, before.pixels, 'the chart was redrawn with them');
  t.ok(Number(await text('#put-rate')) > 0, `puts/s ${await text('#put-rate')}`);
});

t.test('a delay fault added from the form is on the link, and removed from its button', async (t) => {
  const link = (await api('GET', '/links')).find((l: { kind: string }) => l.kind === 'client').name;
  await tab.select('#fault-target', JSON.stringify({ link }));
  await tab.select('#fault-type', 'delay');
  await tab.select('#fault-direction', 'tx');
  await tab.type('#fault-latency', '150ms');
  await tab.type('#fault-duration', '60s');
  await tab.click('#fault-add');
  const onLink = await until('the fault on the link', async () => {
    const l = (await api('GET', '/links')).find((x: { name: string }) => x.name === link);
    return l.faults.length ? l.faults : undefined;
  });
  t.equal(onLink.length, 1);
  t.match(onLink[0], { type: 'delay', spec: { direction: 'tx', latency: 150, duration: 60000 } });
  const id = onLink[0].id;
  await tab.waitForSelector(`#faults tr[data-fault="${id}"]`);
  await tab.waitForFunction(
    (id) => [...document.querySelectorAll('#windows td')].some((td) => td.textContent === 'active') && id,
    {},
    id,
  );
  t.match(await text('#links'), /delay tx 150ms/, 'the link row shows it');
  await tab.$eval(`#faults tr[data-fault="${id}"] button`, (b) => (b as HTMLButtonElement).click());
  await until('the fault removed', async () => {
    const l = (await api('GET', '/links')).find((x: { name: string }) => x.name === link);
    return l.faults.length === 0 ? true : undefined;
  });
  await tab.waitForFunction(() => !document.querySelector('#faults tr[data-fault]'));
  t.match(await text('#msg'), `removed ${id}`);
});

t.test('isolate the leader from the page, then heal it', async (t) => {
  await tab.click('#isolate-leader');
  const parts = await until('a partition', async () => {
    const p = await api('GET', '/partitions');
    return p.length ? p : undefined;
  });
  t.match(parts[0].summary, /isolate/);
  await tab.waitForSelector(`#partitions tr[data-partition="${parts[0].id}"]`);
  await tab.waitForFunction(() =>
    [...document.querySelectorAll('#windows tr')].some((tr) => /partition/.test(tr.textContent ?? '')),
  );
  await sleep(2500); // a few intervals with the shaded window
  await tab.screenshot({ path: '/tmp/live-page.png', fullPage: true });
  await tab.$eval(`#partitions tr[data-partition="${parts[0].id}"] button`, (b) => (b as HTMLButtonElement).click());
  await until('healed', async () => ((await api('GET', '/partitions')).length === 0 ? true : undefined));
  await tab.waitForFunction(() => !document.querySelector('#partitions tr[data-partition]'));
});

t.test('an idle daemon without a token: no prompt, no members, no load, no error', async (t) => {
  const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
  t.teardown(() => daemon.close());
  const server = createAdaptorServer({ fetch: buildApp(daemon).fetch }) as Server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise((r) => server.close(r)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const idle = await browser.newPage();
  t.teardown(() => idle.close());
  const idleErrors: string[] = [];
  idle.on('console', (m) => void (m.type() === 'error' && idleErrors.push(m.text())));
  idle.on('pageerror', (e) => void idleErrors.push(String(e)));
  await idle.goto(url + '/', { waitUntil: 'load' });
  await idle.waitForFunction(() => document.getElementById('conn')!.textContent === 'live');
  await idle.waitForFunction(() => /no members/.test(document.getElementById('members')!.textContent ?? ''));
  t.ok(await idle.$('#token-box[hidden]'), 'no prompt');
  t.match(await idle.$eval('#load-state', (e) => e.textContent), /no load running/);
  t.match(await idle.$eval('#links', (e) => e.textContent), /no links/);
  await sleep(2500); // a poll round more
  t.same(idleErrors, []);
});

t.test('no console or page error, nothing asked outside the daemon', async (t) => {
  t.same(errors, []);
  t.same(outside, []);
});

// report.html in a real browser (Debian's chromium driven by puppeteer-core, no network): a real load
// against one etcd member behind a link, two fault windows marked by hand; the page opened from disk
// has no console or page error, asks for nothing outside itself, its charts are drawn (not blank) and
// its window table has the rows. The screenshot goes to /tmp/report-shot.png.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openTab } from './helpers/browser.js';
import { startCluster } from '../src/cluster/launch.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import { finishRunReport } from '../src/report/run-files.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { sleep, startLink } from './helpers/net.js';

const cluster = await startCluster({ size: 1 });
t.teardown(() => cluster.stop());
const link = await startLink({ name: 's1-client', upstreamPort: Number(cluster.clientEndpoints()[0].split(':')[1]) });
t.teardown(() => link.close());
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-page-'));
t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));

const runner = new LoadRunner({
  profile: loadProfileSchema.parse({
    rate: 200,
    watchers: 10,
    keys: 10,
    connections: 2,
    duration: '16s',
    interval: '1s',
    settle: '2s',
    putTimeout: '2s',
  }),
  endpoints: [link.listenAddress()],
  reportDir: base,
  onReport: finishRunReport,
});
const done = new Promise<LoadSummary>((res) => runner.once('done', res));
await runner.start();
runner.mark({ mark: 'leader', at: Date.now(), leader: 's1', term: 2, previous: null });
/** a fault on the link for `ms`, marked as a window */
async function window(spec: object, kind: string, ms: number): Promise<void> {
  const f = link.addFault(fault(spec));
  const target = 'link s1-client';
  runner.mark({ mark: 'window', edge: 'start', id: f.id, kind, target, at: Date.now() });
  await sleep(ms);
  link.removeFault(f.id);
  runner.mark({ mark: 'window', edge: 'end', id: f.id, kind, target, at: Date.now() });
}
await sleep(4000);
await window({ type: 'delay', direction: 'tx', latency: '150ms' }, 'delay', 3000);
await sleep(3000);
await window({ type: 'delay', direction: 'rx', latency: '400ms' }, 'delay', 2000);
const summary = await done;
const page = path.join(summary.reportDir!, 'report.html');

t.test('report.html in chromium: no error, no network, charts drawn, window rows', async (t) => {
  const { browser, tab, errors, outside } = await openTab((url) => url.startsWith('file:'), { block: true });
  t.teardown(() => browser.close());
  await tab.goto(`file://${page}`, { waitUntil: 'load' });
  await tab.waitForSelector('.uplot canvas');
  t.same(errors, [], 'no console or page error');
  t.same(outside, [], 'nothing asked outside the file');
  const canvases = await tab.$$eval('.uplot canvas', (cs) =>
    cs.map((c) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let drawn = 0;
      const colors = new Set<number>();
      for (let i = 0; i < d.length; i += 4)
        if (d[i + 3] > 0) {
          drawn++;
          colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
      return { drawn, colors: colors.size, pixels: d.length / 4 };
    }),
  );
  t.equal(canvases.length, 2, 'two charts');
  for (const c of canvases)
    t.ok(c.drawn > c.pixels / 20 && c.colors > 20, `drawn: ${c.drawn} of ${c.pixels} pixels, ${c.colors} colours`);
  const rows = await tab.$$eval('#windows tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
  t.equal(rows.length, 2, 'one row per window');
  t.match(rows[0], /^delaylink s1-client/);
  t.match(await tab.$eval('h1', (h) => h.textContent), `etcd-soak run ${summary.runId}`);
  await tab.screenshot({ path: '/tmp/report-shot.png', fullPage: true });
});

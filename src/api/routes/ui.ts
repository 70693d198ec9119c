// The live page: GET / (the HTML), its assets under /ui/ (the page's one script, uPlot's script and
// style from the installed package; nothing from the network), GET /live (what the page starts from) and
// GET /events (the page's one Server-Sent Events stream).
//
// Why SSE for the load and polling for the tables: the intervals, window edges, leader changes and
// violations are events — a page that polled would miss or duplicate them and redraw from scratch — while
// members, links, faults, partitions and scenarios are state the JSON routes already answer whole; the
// page reads those every 2 s and right after each of its own actions (GET /cluster asks every member,
// so not faster). The stream is read with fetch (not EventSource) so the bearer token travels in the
// Authorization header like every other call: no token in a URL, no exception in the token check.
//
// GET / and /ui/* carry no secret (the page's code, and whether a token is needed) and are served
// without the token; /live and /events need it like every other route.
import { Hono, type Context } from 'hono';
import type { Daemon } from '../../daemon.js';
import { faultModules } from '../../proxy/faults/registry.js';
import { uplotAssets } from '../../report/chart-script.js';
import { LiveHub } from '../live/hub.js';
import { livePageHtml } from '../live/page.js';
import { LIVE_SCRIPT } from '../live/script.js';

/** Paths served without the token (GET only): the page and its static assets. */
export const PUBLIC_PAGE_PATHS: ReadonlySet<string> = new Set([
  '/',
  '/ui/app.js',
  '/ui/uPlot.iife.min.js',
  '/ui/uPlot.min.css',
]);

const enc = new TextEncoder();

export function uiRoutes(daemon: Daemon, opts: { token: boolean }): Hono {
  const app = new Hono();
  const hub = new LiveHub(daemon);
  let assets: { js: string; css: string } | undefined;
  const uplot = () => (assets ??= uplotAssets());
  const html = livePageHtml({
    token: opts.token,
    faultTypes: faultModules.map((m) => ({ type: m.type, scope: m.scope, params: Object.keys(m.params.shape) })),
  });
  const asset = (body: () => string, type: string) => (c: Context) =>
    c.body(body(), 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });

  app.get('/', (c) => c.html(html));
  app.get(
    '/ui/app.js',
    asset(() => LIVE_SCRIPT, 'text/javascript; charset=utf-8'),
  );
  app.get(
    '/ui/uPlot.iife.min.js',
    asset(() => uplot().js, 'text/javascript; charset=utf-8'),
  );
  app.get(
    '/ui/uPlot.min.css',
    asset(() => uplot().css, 'text/css; charset=utf-8'),
  );
  app.get('/live', (c) => c.json(hub.snapshot()));
  app.get('/events', (c) => {
    const q = hub.open();
    // pulled: the next event is taken only when the socket has drained the last one, so whatever a
    // slow reader has not taken waits in the bounded queue, never in the stream
    const body = new ReadableStream<Uint8Array>(
      {
        start: (ctl) => ctl.enqueue(enc.encode(': connected\n\n')),
        pull: async (ctl) => {
          const chunk = await q.next();
          if (chunk === undefined) ctl.close();
          else ctl.enqueue(enc.encode(chunk));
        },
        cancel: () => hub.drop(q),
      },
      { highWaterMark: 0 },
    );
    c.req.raw.signal.addEventListener('abort', () => hub.drop(q));
    return c.body(body, 200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
  });
  return app;
}

// A headless Debian chromium tab for the page tests, recording console errors, page errors and every
// request that leaves the allowed origins (a page served or opened from disk must need no network).
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export interface Tab {
  browser: Browser;
  tab: Page;
  errors: string[];
  outside: string[];
}

/** `allowed(url)`: requests it refuses are recorded in `outside` and, with `block`, aborted. */
export async function openTab(allowed: (url: string) => boolean, opts: { block?: boolean } = {}): Promise<Tab> {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--no-first-run'],
  });
  const tab = await browser.newPage();
  await tab.setViewport({ width: 1400, height: 1000 });
  const errors: string[] = [];
  const outside: string[] = [];
  tab.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  tab.on('pageerror', (e) => void errors.push(String(e)));
  if (opts.block) await tab.setRequestInterception(true);
  tab.on('request', (r) => {
    if (allowed(r.url())) return void (opts.block && r.continue());
    outside.push(r.url());
    if (opts.block) void r.abort();
  });
  return { browser, tab, errors, outside };
}

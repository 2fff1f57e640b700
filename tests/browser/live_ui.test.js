// live_ui.test.js — running workflows in the store's UI, in headless Chromium,
// during a real `extrace demo` run (redis-server, store with --live on the
// worker's admin address, the simulator at --time-scale 30 so that each
// workflow runs for seconds, the worker, the generator).
//
//   EXTRACE_BIN=build/extrace node --test tests/browser/live_ui.test.js
//
// Checks: the Running card equals the worker's own in-flight count (its
// GET /api/workflows read just before and after) and the Running table
// lists as many rows; a running workflow's page (opened from its row) has
// an open stage whose bar is wider in a second screenshot than in the
// first; the page turns into the finished trace without a reload; back on
// the dashboard (the header's link, no reload) the workflow is in the stored table
// and no longer in the Running one; stage spans stored without their
// root (and in flight nowhere) show as a partial trace; no console errors. Screenshots and
// the demo's output go to $EXTRACE_UI_ARTIFACTS (else a temp dir).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { sleep } = require('./store.js');

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.EXTRACE_BIN || path.join(ROOT, 'build', 'extrace');
const ARTIFACTS = process.env.EXTRACE_UI_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'extrace-live-ui-'));
fs.mkdirSync(ARTIFACTS, { recursive: true });

// Wait for fn() to return a truthy value (polled every `every` ms); its
// last value, or a failure naming what was awaited.
async function until(what, fn, ms, every = 100) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

// `extrace demo` on free ports; resolves to {ui, admin, output(), stop()}
// once it printed the UI's address and the worker's admin address.
async function startDemo() {
  const args = ['demo', '--ui-listen', '127.0.0.1:0', '--time-scale', '30', '--workflows', '5'];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let text = '';
  let exited = null;
  child.stdout.on('data', (d) => { text += d; });
  child.stderr.on('data', (d) => { text += d; });
  child.on('exit', (code, sig) => { exited = sig || code; });
  const demo = {
    output: () => text,
    async stop() {
      if (exited === null) child.kill('SIGTERM');
      for (let i = 0; i < 300 && exited === null; i++) await sleep(50);
      if (exited === null) child.kill('SIGKILL');
      fs.writeFileSync(path.join(ARTIFACTS, 'live-demo.log'), text);
      return exited;
    },
  };
  await until('the demo to start its worker', () => {
    if (exited !== null) throw new Error(`extrace ${args.join(' ')} exited (${exited}):\n${text}`);
    const ui = /UI and query API (http:\/\/\S+?)\/?,/.exec(text);
    const admin = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(text);
    const otlp = /OTLP\/HTTP (127\.0\.0\.1:\d+)/.exec(text);
    if (!ui || !admin || !otlp) return false;
    demo.otlp = `http://${otlp[1]}`;
    demo.ui = ui[1];
    demo.admin = `http://127.0.0.1:${admin[1]}`;
    return true;
  }, 40000);
  return demo;
}

const getJSON = async (url) => {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return res.json();
};

describe('running workflows in the UI during a demo', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing` }, () => {
  let demo, browser, page;
  const consoleErrors = [];

  before(async () => {
    assert.ok(fs.existsSync(BIN), `extrace binary ${BIN} not found (set EXTRACE_BIN)`);
    demo = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  });

  after(async () => {
    if (browser) await browser.close();
    if (demo) await demo.stop();
  });

  it('the Running card and table follow the worker; a running trace grows and becomes the stored one', async () => {
    await page.goto(`${demo.ui}/`);

    // The card equals the worker's own count, read just before and after it.
    const seen = await until('the Running card to equal the worker\'s in-flight count', async () => {
      const a = (await getJSON(`${demo.admin}/api/workflows?limit=1000`)).worker.inFlight;
      const card = await page.$eval('[data-stat=running] .stat-value', (e) => Number(e.textContent.replace(/,/g, ''))).catch(() => -1);
      const rows = await page.$$eval('#running tbody tr[data-trace-id]', (r) => r.length);
      const b = (await getJSON(`${demo.admin}/api/workflows?limit=1000`)).worker.inFlight;
      return a === b && a > 0 && card === a && rows === a ? a : false;
    }, 30000, 200);
    assert.ok(seen > 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'live-dashboard.png'), fullPage: true });

    // A running workflow's page (the first from its row in the Running
    // table, then by address when one ended too soon): an open stage (not
    // the root: it starts after the workflow's start) is wider after the
    // page's next redraw.
    const tried = new Set();
    let pick = null, grown = null;
    const openBars = () => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.waterfall .wf-row')].slice(1)
      .map((r) => r.querySelector('.bar.open')).filter((b) => b && parseFloat(b.style.left) > 0)
      .map((b) => [b.dataset.spanId, b.getBoundingClientRect().width])));
    for (const end = Date.now() + 30000; !grown && Date.now() < end;) {
      const list = (await getJSON(`${demo.admin}/api/workflows?limit=1000`)).workflows
        .filter((w) => w.status === 'running' && !tried.has(w.key)).sort((x, y) => (x.submitted < y.submitted ? 1 : -1));
      assert.ok(list.length, 'no running workflow left to look at');
      pick = list[0];
      tried.add(pick.key);
      const row = `#running tbody tr[data-key="${pick.key}"] a`;
      if (tried.size === 1 && await page.$(row)) await page.click(row);
      else await page.goto(`${demo.ui}/trace/${pick.traceId}`);
      try {
        await page.waitForSelector('section.trace[data-live=running]', { timeout: 5000 });
      } catch (_) { continue; } // ended meanwhile
      await page.evaluate(() => { window.__sameDocument = 1; }); // gone if the page reloads
      const before = await openBars();
      await page.screenshot({ path: path.join(ARTIFACTS, 'live-trace-1.png') });
      await sleep(1300); // the page redraws every second
      const after = await openBars();
      await page.screenshot({ path: path.join(ARTIFACTS, 'live-trace-2.png') });
      const id = Object.keys(before).find((k) => after[k] > before[k] + 1);
      if (id) grown = { id, before: before[id], after: after[id] };
    }
    assert.ok(grown, `no open stage grew on the pages of ${[...tried].join(', ')}`);
    const head = await page.textContent('section.trace');
    assert.match(head, /Current stage/);

    // It ends: the stored trace replaces the live view, without a reload.
    await page.waitForSelector('section.trace[data-live=ended]', { timeout: 60000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), 1, 'the page was reloaded');
    assert.equal(await page.$$eval('.bar.open', (b) => b.length), 0);
    const rootStatus = await page.$eval('.waterfall .wf-row .bar', (b) => b.className);
    assert.match(rootStatus, /status-(ok|error)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'live-trace-ended.png') });

    // Back on the dashboard (the header's link: no reload): stored, no longer running.
    await page.click('header a[data-nav=dashboard]');
    await until('the ended workflow in the stored table and not in the running one', async () => {
      const stored = await page.$$eval('#workflows tbody tr', (r) => r.map((x) => x.textContent));
      const running = await page.$$eval('#running tbody tr[data-key]', (r) => r.map((x) => x.dataset.key));
      return stored.some((t) => t.includes(pick.key)) && !running.includes(pick.key);
    }, 20000, 200);
    assert.equal(await page.evaluate(() => window.__sameDocument), 1, 'the page was reloaded');

    // Stage spans stored without their root, and no worker has the
    // workflow: a partial trace, not a missing one.
    const traceId = 'feed'.repeat(8), now = BigInt(Date.now()) * 1000000n;
    const span = { traceId, spanId: 'abcdef0123456789', parentSpanId: '0123456789abcdef', name: 'DataLoader', kind: 1,
      startTimeUnixNano: String(now - 3000000000n), endTimeUnixNano: String(now - 1000000000n), status: { code: 1 } };
    const body = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'Tracing.Worker' } }] },
      scopeSpans: [{ spans: [span] }] }] };
    const res = await fetch(`${demo.otlp}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200);
    await page.goto(`${demo.ui}/trace/${traceId}`);
    await page.waitForSelector('section.trace[data-live=partial]', { timeout: 10000 });
    assert.match(await page.textContent('section.trace'), /Partial trace/);
    assert.equal(await page.$$eval('.waterfall .bar', (b) => b.length), 1);
    assert.deepEqual(consoleErrors, []);
  });
});

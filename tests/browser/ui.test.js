// ui.test.js — the store's web UI in headless Chromium (the Grafana data
// source and dashboards are grafana.test.js's).
//
//   EXTRACE_BIN=build/extrace node --test tests/browser/ui.test.js
//
// Starts `extrace store` on free ports with a temp data dir, ingests six
// detailed workflows over OTLP/HTTP JSON, then 100,000 more workflow root
// spans (bulk.js), then drives Debian's /usr/bin/chromium through
// playwright-core at 360, 800 and 1400 px in light and dark colour
// schemes. Screenshots (and the store's log) go to $EXTRACE_UI_ARTIFACTS,
// else a new temp dir; their paths are printed. EXTRACE_UI_SCREENSHOTS=<dir>
// also writes the size × scheme screenshots there
// (tests/browser/screenshots/ holds the committed ones).
// EXTRACE_UI_WORKFLOWS changes the bulk count (default 100000). The
// browser part is skipped only when /usr/bin/chromium is missing.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { sixWorkflows, otlpRequest, MARKUP } = require('./fixtures.js');
const { startStore, sleep } = require('./store.js');
const { sendBulk } = require('./bulk.js');

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.EXTRACE_BIN || path.join(ROOT, 'build', 'extrace');
const ARTIFACTS = process.env.EXTRACE_UI_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'extrace-ui-artifacts-'));
fs.mkdirSync(ARTIFACTS, { recursive: true });

const DASH_QUERY = '{resource.service.name="Tracing.Worker" && name="Workflow"}';
const BULK = Number(process.env.EXTRACE_UI_WORKFLOWS || 100000);
const SHOTS = process.env.EXTRACE_UI_SCREENSHOTS || '';
const TZ = 'Asia/Kolkata'; // the browser's zone: UTC+05:30, no daylight saving
const WIDTHS = [360, 800, 1400];
const SCHEMES = ['light', 'dark'];

// /api/search on the store; the parsed answer (asserts 200).
async function apiSearch(base, q, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  const qs = new URLSearchParams({ q, start: now - 3600, end: now + 1, limit: 5000, ...extra });
  const res = await fetch(`${base}/api/search?${qs}`);
  const body = await res.text();
  assert.equal(res.status, 200, `search ${q}: ${res.status} ${body}`);
  return JSON.parse(body);
}

// /api/ui/workflows over the last hour (as the dashboard asks it).
async function apiWorkflows(base, params = {}) {
  const now = Math.floor(Date.now() / 1000);
  const qs = new URLSearchParams({ start: now - 3600, end: now + 1, ...params });
  const res = await fetch(`${base}/api/ui/workflows?${qs}`);
  const body = await res.text();
  assert.equal(res.status, 200, `workflows ${qs}: ${res.status} ${body}`);
  return JSON.parse(body);
}

describe('store with six workflows, then 100,000 more', () => {
  let store, workflows, bulk;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `extrace binary ${BIN} not found (set EXTRACE_BIN)`);
    store = await startStore(BIN);
    workflows = sixWorkflows(Date.now());
    const res = await fetch(`${store.otlp}/v1/traces`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(otlpRequest(workflows, 'demo')),
    });
    assert.equal(res.status, 200, `OTLP/HTTP JSON export: ${res.status} ${await res.text()}`);
    // Ingest may be asynchronous: wait until all six are searchable.
    for (let i = 0; i < 100; i++) {
      if ((await apiSearch(store.base, DASH_QUERY)).traces.length === 6) return;
      await sleep(100);
    }
    assert.fail('the six workflows never became searchable');
  });

  after(async () => {
    if (!store) return;
    const log = path.join(ARTIFACTS, 'store.log');
    const exit = await store.stop(log);
    process.stdout.write(`store log: ${log}\n`);
    assert.equal(exit, 0, `extrace store exit on SIGTERM (log: ${log})`);
  });

  it(`takes ${BULK.toLocaleString('en-US')} more workflows over OTLP/HTTP in batches`, async () => {
    bulk = await sendBulk(store.otlp, BULK);
    process.stdout.write(`bulk: ${JSON.stringify(bulk)}\n`);
    const all = await apiWorkflows(store.base, { limit: 1 });
    assert.equal(all.counts.total, BULK + 6);
  });

  describe('UI in Chromium', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing (scripts/install-deps installs it)` }, () => {
    let context, userDir;
    const consoleErrors = [];
    const foreign = [];
    const shots = [];

    before(async () => {
      userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'extrace-ui-chromium-'));
      context = await chromium.launchPersistentContext(userDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1400, height: 800 },
        timezoneId: TZ,
        locale: 'en-US',
      });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: store.base });
      context.on('request', (r) => {
        const u = new URL(r.url());
        if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && !['data:', 'about:', 'blob:'].includes(u.protocol))
          foreign.push(r.url());
      });
      context.on('page', watch);
      context.pages().forEach(watch);
    });

    // Chromium logs every non-2xx fetch as a console error: only the two
    // answers this test provokes on purpose (a 400 query, a 404 trace) are expected.
    const provoked = [/\/api\/search\?q=%7Bspan\.workflowId\+%3D\+%7D&/, /\/api\/v2\/traces\/0123456789abcdef0123456789abcdef$/];
    function watch(page) {
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        if (/^Failed to load resource/.test(m.text()) && provoked.some((re) => re.test(m.location().url))) return;
        consoleErrors.push(`${page.url()}: ${m.text()} (${m.location().url})`);
      });
      page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    }

    after(async () => {
      if (context) await context.close();
      if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
      for (const s of shots) process.stdout.write(`screenshot: ${s}\n`);
      process.stdout.write(`artifacts: ${ARTIFACTS}\n`);
    });

    async function shot(page, name, fullPage = true) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage });
      shots.push(file);
      if (SHOTS) fs.copyFileSync(file, path.join(SHOTS, `${name}.png`));
    }

    async function openPage(p) {
      const page = context.pages()[0] || (await context.newPage());
      await page.goto(store.base + p);
      return page;
    }

    // The dashboard has answered its last request (aria-busy is set while one runs).
    async function settled(page) {
      await page.waitForFunction(() => {
        const d = document.querySelector('.dashboard');
        return d && !d.hasAttribute('aria-busy') && document.querySelector('.pager-info');
      });
    }
    // The UI's duration text below a minute ("850 ms", "7.00 s", "12.4 s").
    const fmtDurationMs = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 10000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`);
    // The stage chart has drawn (it loads after the table, on its own: its scans take longer).
    async function chartDrawn(page) {
      await page.waitForFunction(() => {
        const c = document.querySelector('.chart-panel');
        return c && !c.hasAttribute('aria-busy') && document.querySelector('#chart-p90 ul.legend li');
      }, null, { timeout: 120000 });
    }
    const rowIds = (page) => page.locator('#workflows tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.traceId));
    const utc = (ns) => new Date(Number(BigInt(ns) / 1000000n)).toISOString().replace('T', ' ').slice(0, 19);
    const ist = (ns) => utc(`${BigInt(ns) + 19800000000000n}`); // UTC+05:30

    it(`dashboard at ${(BULK + 6).toLocaleString('en-US')} workflows: counts, sort, status filter, pages, id prefix, keyboard`, async () => {
      const page = await openPage('/');
      const total = (BULK + 6).toLocaleString('en-US');
      // The first query after the bulk load may wait for the store's checkpoint (slow under ASan).
      await page.locator('[data-stat="total"] .stat-value').filter({ hasText: new RegExp(`^${total}$`) }).waitFor({ timeout: 120000 });
      await settled(page);
      const ui = {};
      for (const k of ['total', 'ok', 'error', 'timeout'])
        ui[k] = Number((await page.locator(`[data-stat="${k}"] .stat-value`).textContent()).replace(/,/g, ''));
      const api = await apiWorkflows(store.base, { limit: 50 });
      const { ok, error, timeout } = api.counts;
      assert.deepEqual(ui, { total: api.counts.total, ok, error, timeout }, 'UI counts vs API');
      assert.deepEqual(ui, { total: BULK + 6, ok: bulk.byResult.ok + 3, error: bulk.byResult.error + 2,
        timeout: bulk.byResult.timeout + 1 }, 'UI counts vs ingested');
      assert.equal(await page.locator('[data-rows]').textContent(), `1–50 of ${total}`);
      assert.deepEqual(await rowIds(page), api.workflows.map((w) => w.traceID), 'first page, newest first');
      await shot(page, 'dashboard', false);

      // Sort by duration: longest first, then shortest first.
      await page.click('button[data-sort="duration"]');
      await settled(page);
      assert.match(page.url(), /sort=duration&order=desc/);
      assert.deepEqual(await rowIds(page), (await apiWorkflows(store.base, { sort: 'duration', order: 'desc' })).workflows.map((w) => w.traceID));
      await page.click('button[data-sort="duration"]');
      await settled(page);
      assert.equal(await page.locator('th[aria-sort="ascending"] button').getAttribute('data-sort'), 'duration');
      assert.deepEqual(await rowIds(page), (await apiWorkflows(store.base, { sort: 'duration', order: 'asc' })).workflows.map((w) => w.traceID));

      // Status filter from the "Timed out" card; pages through it.
      await page.click('[data-stat="timeout"]');
      await settled(page);
      assert.match(page.url(), /status=timeout/);
      const n = ui.timeout;
      assert.equal(await page.locator('[data-rows]').textContent(), `1–50 of ${n.toLocaleString('en-US')}`);
      assert.deepEqual([...new Set(await page.locator('#workflows tbody .badge').allTextContents())], ['timeout']);
      await page.getByRole('button', { name: 'Next page' }).click();
      await settled(page);
      assert.match(page.url(), /page=2/);
      const p2 = await apiWorkflows(store.base, { status: 'timeout', sort: 'duration', order: 'asc', offset: 50 });
      assert.deepEqual(await rowIds(page), p2.workflows.map((w) => w.traceID), 'page 2');
      await page.getByRole('button', { name: 'Last page' }).click();
      await settled(page);
      const last = Math.ceil(n / 50);
      assert.equal(await page.locator('#workflows tbody tr').count(), n - (last - 1) * 50);
      assert.equal(await page.locator('[data-rows]').textContent(),
        `${((last - 1) * 50 + 1).toLocaleString('en-US')}–${n.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}`);

      // Workflow id prefix (any case), with the status filter back to any.
      await page.selectOption('#dash-status', '');
      await settled(page);
      const w = workflows[0];
      const prefix = w.workflowId.slice(0, 5).toUpperCase();
      await page.fill('#dash-id', prefix);
      await page.waitForURL(/id=/);
      await settled(page);
      const byPrefix = await apiWorkflows(store.base, { id: prefix, sort: 'duration', order: 'asc' });
      assert.ok(byPrefix.total >= 1);
      assert.deepEqual(await rowIds(page), byPrefix.workflows.map((x) => x.traceID));
      assert.ok((await rowIds(page)).includes(w.traceId));
      await page.fill('#dash-id', 'zz-no-such');
      await page.locator('.notice', { hasText: 'No workflow id starts with "zz-no-such"' }).waitFor();

      // Keyboard: the first row takes focus, ↓ ↓ then Enter opens the third.
      await page.goto(`${store.base}/`);
      await settled(page);
      const ids = await rowIds(page);
      await page.locator('#workflows tbody tr').first().focus();
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      assert.equal(await page.evaluate(() => document.activeElement.dataset.traceId), ids[2]);
      await page.keyboard.press('Enter');
      await page.waitForURL(new RegExp(`/trace/${ids[2]}`));
      await page.locator('.bar').first().waitFor();
    });

    it('time zone: UTC by default, local kept in the address and on every page', async () => {
      const page = await openPage('/');
      await settled(page);
      const first = (await apiWorkflows(store.base, { limit: 1 })).workflows[0];
      assert.equal(await page.locator('th button[data-sort="start"]').textContent(), 'Start (UTC) ▼');
      assert.equal(await page.locator('#workflows tbody tr td').nth(1).textContent(), utc(first.startTimeUnixNano));
      await page.click('[data-tz="local"]');
      await settled(page);
      assert.match(page.url(), /tz=local/);
      assert.equal(await page.locator('[data-tz="local"]').getAttribute('aria-pressed'), 'true');
      assert.equal(await page.locator('th button[data-sort="start"]').textContent(), 'Start (UTC+05:30) ▼');
      assert.equal(await page.locator('#workflows tbody tr td').nth(1).textContent(), ist(first.startTimeUnixNano));
      assert.match(await page.locator('.refreshed').textContent(), /Last refreshed \d\d:\d\d:\d\d UTC\+05:30 · every 30 s/);
      await shot(page, 'dashboard-local-time', false);

      // A row keeps the zone into the trace view; the header names it.
      await page.locator('#workflows tbody tr a').first().click();
      await page.waitForURL(/\/trace\/[0-9a-f]{32}\?.*tz=local/);
      await page.locator('[data-start]').waitFor();
      assert.equal(await page.locator('[data-start]').textContent(), `${ist(first.startTimeUnixNano)} UTC+05:30`);
      // …and the Search page, through the header's link.
      await page.click('a[data-nav="search"]');
      await page.waitForURL(/\/search\?tz=local/);
      assert.equal(await page.locator('[data-tz="local"]').getAttribute('aria-pressed'), 'true');
      assert.equal(await page.locator('#results th').nth(5).textContent(), 'Start (UTC+05:30)');
      await page.click('[data-tz="utc"]');
      assert.doesNotMatch(page.url(), /tz=/);
      assert.equal(await page.locator('#results th').nth(5).textContent(), 'Start (UTC)');
    });

    it('stage chart: failed stages and p90 per stage over the range, as ingested and as the API answers', async () => {
      const page = await openPage('/');
      await settled(page);
      await chartDrawn(page);
      const legend = async (fig) => Object.fromEntries(await page.locator(`${fig} ul.legend li`).evaluateAll((lis) =>
        lis.map((li) => [li.dataset.stage, li.querySelector('.legend-value').textContent])));
      // Brute force over the six workflows' stage spans (the bulk ones have none).
      const stages = workflows.flatMap((w) => w.spans).filter((sp) => sp.name !== 'Workflow');
      const names = [...new Set(stages.map((sp) => sp.name))].sort();
      const failed = (n) => stages.filter((sp) => sp.name === n && sp.status.code === 2).length;
      // p90 (nearest rank) of each 1-minute step a stage started in; the legend shows the highest.
      const p90 = (n) => {
        const steps = new Map();
        for (const sp of stages.filter((x) => x.name === n)) {
          const k = BigInt(sp.startTimeUnixNano) / 60000000000n;
          steps.set(k, (steps.get(k) || []).concat(Number(BigInt(sp.endTimeUnixNano) - BigInt(sp.startTimeUnixNano)) / 1e6));
        }
        return Math.max(...[...steps.values()].map((d) => d.sort((a, b) => a - b)[Math.ceil(0.9 * d.length) - 1]));
      };
      assert.deepEqual(await legend('#chart-failures'), Object.fromEntries(names.map((n) => [n, String(failed(n))])));
      assert.deepEqual(await legend('#chart-p90'), Object.fromEntries(names.map((n) => [n, fmtDurationMs(p90(n))])));
      // One bar segment per stage and step with failures, one point per stage and step with a p90.
      const now = Math.floor(Date.now() / 1000);
      const range = async (q) => {
        const qs = new URLSearchParams({ q, start: now - 3600, end: now + 1, step: '60s' });
        const res = await fetch(`${store.base}/api/metrics/query_range?${qs}`);
        assert.equal(res.status, 200, await res.clone().text());
        return (await res.json()).series;
      };
      const samples = (series) => series.reduce((a, s) => a + s.samples.filter((x) => Number(x.value) > 0).length, 0);
      const fq = '{rootName = "Workflow" && name != "Workflow" && status = error} | count_over_time() by (name)';
      assert.equal(await page.locator('#chart-failures rect.bar-seg').count(), samples(await range(fq)));
      assert.ok(await page.locator('#chart-failures rect.bar-seg').count() > 0, 'failure bars drawn');
      const pq = '{rootName = "Workflow" && name != "Workflow"} | quantile_over_time(duration, 0.9) by (name)';
      assert.equal(await page.locator('#chart-p90 circle').count(), samples(await range(pq)));
      assert.equal(await page.locator('.chart-panel svg[role="img"]').count(), 2);
      assert.equal(await page.locator('.chart-note').isHidden(), true, 'no "unavailable" note');
      await shot(page, 'dashboard-chart', false);
    });

    it('trace header: the same start and duration as the workflow\'s dashboard row', async () => {
      for (const w of workflows) {
        const page = await openPage(`/?id=${w.workflowId}`);
        await settled(page);
        const cells = await page.locator('#workflows tbody tr td').allTextContents();
        assert.equal(cells[0], w.workflowId);
        await page.locator('#workflows tbody tr').first().click();
        await page.locator('[data-start]').waitFor();
        assert.equal(await page.locator('[data-start]').textContent(), `${cells[1]} UTC`, `start of ${w.workflowId}`);
        assert.equal(await page.locator('[data-duration]').textContent(), cells[4], `duration of ${w.workflowId}`);
        assert.equal(await page.locator('[data-trace-id]').textContent(), w.traceId);
      }
    });

    it('search: full trace ids with a copy button, status and error columns, the true matched count', async () => {
      const q = '{resource.service.namespace="demo"} | select(span.workflowId, span.extrace.result, status, statusMessage)';
      const page = await openPage(`/search?${new URLSearchParams({ q, range: '15m', limit: '20' })}`);
      await page.locator('.summary', { hasText: /^6 traces$/ }).waitFor();
      const answer = await apiSearch(store.base, q, { spss: 3, start: Math.floor(Date.now() / 1000) - 900 });
      for (const w of workflows) {
        const row = page.locator(`#results tbody tr[data-trace-id="${w.traceId}"]`);
        assert.equal(await row.locator('td.trace-id a').textContent(), w.traceId);
        const t = answer.traces.find((x) => x.traceID === w.traceId);
        assert.equal(Number(await row.locator('td.matched').textContent()), t.spanSets[0].matched);
        assert.equal(t.spanSets[0].matched, w.spans.length, `matched spans of ${w.workflowId}`);
        assert.equal(await row.locator('td.status').textContent(), w.result);
        assert.equal(await row.locator('td.message').textContent(), w.message || '');
      }
      assert.ok(workflows.some((w) => w.spans.length > 3), 'a trace with more matches than spss');
      const target = workflows[1];
      await page.locator(`#results tr[data-trace-id="${target.traceId}"] button.copy`).click();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), target.traceId);
      await shot(page, 'search-matched');

      // A pasted full id opens its trace.
      await page.goto(`${store.base}/trace/${target.traceId}`);
      await page.locator('.bar').first().waitFor();
    });

    it('search: a partial workflow id lists the workflows it starts; a wrong one says so', async () => {
      const w = workflows[3];
      const page = await openPage('/search');
      await page.fill('#wf', w.workflowId.slice(0, 8));
      await page.click('button[type="submit"]');
      const hint = page.locator('#wf-hint');
      await hint.waitFor();
      assert.match(await hint.textContent(), new RegExp(`No workflow id is exactly "${w.workflowId.slice(0, 8)}"\\. \\d+ workflows? starts? with it`));
      assert.ok((await hint.locator('a').allTextContents()).includes(w.workflowId));
      await shot(page, 'search-prefix-hint');
      await hint.locator('a', { hasText: w.workflowId }).click();
      await page.waitForURL(new RegExp(`/trace/${w.traceId}`));
      await page.goto(`${store.base}/search`);
      await page.fill('#wf', 'zzzz-not-an-id');
      await page.click('button[type="submit"]');
      await page.locator('#wf-hint', { hasText: 'No workflow id is exactly "zzzz-not-an-id", and none starts with it' }).waitFor();
    });

    it('search: by workflow id finds exactly it; a bad query shows the API\'s message', async () => {
      const page = await openPage('/search');
      const target = workflows[2];
      await page.fill('#wf', target.workflowId);
      assert.equal(await page.inputValue('#q'),
        `{span.workflowId="${target.workflowId}"} | select(span.workflowId, span.extrace.result, status, statusMessage)`);
      await page.click('button[type="submit"]');
      await page.locator('.summary', { hasText: /^1 trace$/ }).waitFor();
      const rows = page.locator('#results tbody tr');
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getAttribute('data-trace-id'), target.traceId);
      assert.equal(await rows.first().locator('td.wf').textContent(), target.workflowId);
      await shot(page, 'search');

      // Reloading the address runs the same search (deep link).
      await page.reload();
      await page.locator('.summary', { hasText: /^1 trace$/ }).waitFor();

      const bad = '{span.workflowId = }';
      const res = await fetch(`${store.base}/api/search?${new URLSearchParams({ q: bad })}`);
      assert.equal(res.status, 400);
      const apiMsg = (await res.text()).trim();
      await page.fill('#q', bad);
      await page.click('button[type="submit"]');
      const err = page.locator('#query-error');
      await err.waitFor();
      const shown = await err.textContent();
      assert.ok(shown.includes(apiMsg), `"${shown}" lacks "${apiMsg}"`);
      // The caret under the query points at the position the message names.
      const pos = Number(/position (\d+)/.exec(apiMsg)[1]);
      const [line, caret] = (await page.locator('pre.caret').textContent()).split('\n');
      assert.equal(line, bad);
      assert.equal(caret.indexOf('^'), pos - 1);
      await shot(page, 'search-error');
    });

    it('trace view: 4 bars, one marker per event, details on click, deep link', async () => {
      const w = workflows.find((x) => x.failedStage === 'OutputGenerator');
      const page = await openPage(`/trace/${w.traceId}`);
      const bars = page.locator('.waterfall .bar');
      await bars.first().waitFor();
      assert.equal(await bars.count(), 4);
      const events = w.spans.reduce((n, s) => n + s.events.length, 0);
      assert.equal(await page.locator('.waterfall .marker').count(), events);
      for (const s of w.spans) {
        const row = page.locator(`.wf-row[data-span-id="${s.spanId}"]`);
        assert.equal(await row.locator('.marker').count(), s.events.length, `markers of ${s.name}`);
        assert.deepEqual(await row.locator('.marker').evaluateAll((m) => m.map((x) => x.dataset.event)),
          s.events.map((e) => e.name), `marker names of ${s.name}`);
      }
      assert.ok((await page.locator('.tick').count()) >= 3, 'time axis has ticks');

      const og = w.spans.find((s) => s.name === 'OutputGenerator');
      await page.locator(`.bar[data-span-id="${og.spanId}"]`).click();
      const details = page.locator('.details');
      await details.locator('h2', { hasText: 'OutputGenerator' }).waitFor();
      assert.equal(await details.locator('[data-status-message]').textContent(), 'Failed. Error code: 42');
      const attrs = await details.locator('.attrs th').allTextContents();
      assert.deepEqual(attrs, og.attributes.map((a) => a.key));
      assert.equal(await details.locator('ol.events li').count(), og.events.length);
      // Markup from the API is shown as text, never parsed.
      assert.equal(await details.locator('.attrs tr', { hasText: 'api.note' }).locator('td').textContent(), MARKUP);
      assert.equal(await page.locator('main img, main b').count(), 0);
      assert.equal(await page.evaluate(() => window.__injected), undefined);

      // A marker selects its event; its name and zone show on hover (title).
      const failedMarker = page.locator(`.wf-row[data-span-id="${og.spanId}"] .marker[data-event="Failed"]`);
      assert.match(await failedMarker.getAttribute('title'), /^Failed · \d\d:\d\d:\d\d\.\d{3} UTC · /);
      await failedMarker.click();
      assert.equal(await details.locator('ol.events li.selected').getAttribute('data-event'), 'Failed');
      await shot(page, 'trace');

      // Deep link with the selected span survives a reload.
      assert.match(page.url(), new RegExp(`/trace/${w.traceId}\\?span=${og.spanId}$`));
      await page.reload();
      await details.locator('h2', { hasText: 'OutputGenerator' }).waitFor();
      assert.equal(await page.locator('.waterfall .bar').count(), 4);

      await page.goto(`${store.base}/trace/0123456789abcdef0123456789abcdef`);
      await page.locator('h1', { hasText: 'Trace not found' }).waitFor();
    });

    it('every page at 360, 800 and 1400 px, light and dark: no page-wide scroll, header values readable, waterfall in view', async () => {
      const w = workflows.find((x) => x.failedStage === 'OutputGenerator');
      const q = '{resource.service.namespace="demo"} | select(span.workflowId, span.extrace.result, status, statusMessage)';
      const pages = [
        ['dashboard', '/', '#workflows tbody tr.link-row'],
        ['search', `/search?${new URLSearchParams({ q, range: '15m' })}`, '#results tbody tr.link-row'],
        ['trace', `/trace/${w.traceId}`, '.waterfall .bar'],
      ];
      const page = context.pages()[0] || (await context.newPage());
      for (const scheme of SCHEMES) {
        await page.emulateMedia({ colorScheme: scheme });
        for (const width of WIDTHS) {
          await page.setViewportSize({ width, height: 800 });
          for (const [name, url, ready] of pages) {
            const where = `${name} at ${width} px, ${scheme}`;
            await page.goto(store.base + url);
            await page.locator(ready).first().waitFor();
            if (name === 'dashboard') {
              await settled(page);
              // The committed screenshots show the chart drawn; other runs
              // spare its scans (the stage chart test checks it).
              if (SHOTS) await chartDrawn(page);
            }
            const m = await page.evaluate(() => ({
              scroll: document.documentElement.scrollWidth,
              bg: getComputedStyle(document.documentElement).backgroundColor,
              tz: [...document.querySelectorAll('[data-tz]')].every((b) => b.getBoundingClientRect().width > 0),
            }));
            assert.ok(m.scroll <= width, `${where}: the page scrolls sideways (${m.scroll} px wide)`);
            assert.ok(m.tz, `${where}: the time-zone toggle is visible`);
            const [r, g, b] = m.bg.match(/\d+/g).map(Number);
            const lum = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
            assert.ok(scheme === 'dark' ? lum < 0.2 : lum > 0.8, `${where}: background ${m.bg}`);
            if (name === 'trace') {
              // Header values keep their width (no one-character-per-line column)…
              const tds = await page.locator('.trace-head table.kv td').evaluateAll((els) => els.map((e) => {
                const box = e.getBoundingClientRect();
                return { w: box.width, h: box.height, text: e.textContent };
              }));
              for (const td of tds) {
                assert.ok(td.w >= 120, `${where}: header value "${td.text}" is ${td.w} px wide`);
                assert.ok(td.h <= 60, `${where}: header value "${td.text}" is ${td.h} px tall`);
              }
              // …and the waterfall's bars are on the first screen, inside it.
              for (const box of await page.locator('.waterfall .bar').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()))) {
                assert.ok(box.top < 800 && box.bottom > 0, `${where}: a bar is below the fold (top ${box.top})`);
                assert.ok(box.left >= 0 && box.right <= width, `${where}: a bar leaves the screen (${box.left}–${box.right})`);
              }
            }
            await shot(page, `${name}-${width}-${scheme}`, false);
          }
        }
      }
      await page.emulateMedia({ colorScheme: 'light' });
      await page.setViewportSize({ width: 1400, height: 800 });
    });

    it('the browser logged no errors and asked no other host', () => {
      assert.deepEqual(consoleErrors, []);
      assert.deepEqual(foreign, []);
    });
  });
});

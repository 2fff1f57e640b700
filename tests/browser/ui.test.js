// ui.test.js — the store's web UI in headless Chromium, and the Grafana
// provisioning files against the same store.
//
//   EXTRACE_BIN=build/extrace node --test tests/browser/ui.test.js
//
// Starts `extrace store` on free ports with a temp data dir, ingests six
// workflows over OTLP/HTTP JSON, then drives Debian's /usr/bin/chromium
// through playwright-core. Screenshots (and the store's log) go to
// $EXTRACE_UI_ARTIFACTS, else a new temp dir; their paths are printed.
// The browser part is skipped only when /usr/bin/chromium is missing.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const YAML = require('yaml');
const { chromium } = require('playwright-core');
const { sixWorkflows, otlpRequest, MARKUP } = require('./fixtures.js');
const { startStore, sleep } = require('./store.js');

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.EXTRACE_BIN || path.join(ROOT, 'build', 'extrace');
const ARTIFACTS = process.env.EXTRACE_UI_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'extrace-ui-artifacts-'));
fs.mkdirSync(ARTIFACTS, { recursive: true });

const DASH_QUERY = '{resource.service.name="Tracing.Worker" && name="Workflow"}';

// /api/search on the store; the parsed answer (asserts 200).
async function apiSearch(base, q, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  const qs = new URLSearchParams({ q, start: now - 3600, end: now + 1, limit: 5000, ...extra });
  const res = await fetch(`${base}/api/search?${qs}`);
  const body = await res.text();
  assert.equal(res.status, 200, `search ${q}: ${res.status} ${body}`);
  return JSON.parse(body);
}

// Value of a selected attribute in a search span (scope dropped or kept).
function spanAttr(span, key) {
  const kv = (span.attributes || []).find((a) => a.key === key || a.key === `span.${key}`);
  return kv && (kv.value.stringValue ?? kv.value.intValue);
}

describe('Grafana provisioning files', () => {
  const dir = path.join(ROOT, 'deploy', 'grafana');

  it('datasource: the store as Tempo on :3200 with streaming off', () => {
    const doc = YAML.parse(fs.readFileSync(path.join(dir, 'datasources', 'extrace.yaml'), 'utf8'));
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.datasources.length, 1);
    const ds = doc.datasources[0];
    assert.equal(ds.type, 'tempo');
    assert.equal(ds.uid, 'extrace');
    assert.equal(ds.url, 'http://localhost:3200');
    assert.equal(ds.access, 'proxy');
    assert.deepEqual(ds.jsonData.streamingEnabled, { search: false, metrics: false });
  });

  it('dashboard provider loads the dashboards folder', () => {
    const doc = YAML.parse(fs.readFileSync(path.join(dir, 'dashboards', 'provider.yaml'), 'utf8'));
    assert.equal(doc.apiVersion, 1);
    const p = doc.providers[0];
    assert.equal(p.type, 'file');
    assert.equal(p.options.path, '/etc/grafana/provisioning/dashboards');
  });

  it('Workflows dashboard: table + total/OK/failed stats on the extrace source, 30 s refresh', () => {
    const d = JSON.parse(fs.readFileSync(path.join(dir, 'dashboards', 'workflows.json'), 'utf8'));
    assert.equal(d.title, 'Workflows');
    assert.equal(d.refresh, '30s');
    const byTitle = Object.fromEntries(d.panels.map((p) => [p.title, p]));
    for (const t of ['Total', 'OK', 'Failed']) assert.equal(byTitle[t] && byTitle[t].type, 'stat', `stat panel ${t}`);
    assert.equal(byTitle.Workflows.type, 'table');
    assert.equal(byTitle.Workflows.targets[0].query,
      `${DASH_QUERY} | select(span.workflowId, span.startTime, span.endTime, status)`);
    for (const p of d.panels) {
      assert.deepEqual(p.datasource, { type: 'tempo', uid: 'extrace' }, `panel ${p.title} data source`);
      for (const t of p.targets) assert.equal(t.queryType, 'traceql', `panel ${p.title} query type`);
    }
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });
});

describe('store with six workflows', () => {
  let store, workflows;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `extrace binary ${BIN} not found (set EXTRACE_BIN)`);
    store = await startStore(BIN);
    workflows = sixWorkflows(Date.now());
    const res = await fetch(`${store.otlp}/v1/traces`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(otlpRequest(workflows)),
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

  it('answers each Grafana dashboard query with the expected count', async () => {
    const d = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy', 'grafana', 'dashboards', 'workflows.json'), 'utf8'));
    const want = { Total: 6, OK: 3, Failed: 3, 'Timed out': 1, Workflows: 6 };
    for (const p of d.panels) {
      const answer = await apiSearch(store.base, p.targets[0].query, { spss: p.targets[0].spss });
      assert.equal(answer.traces.length, want[p.title], `panel ${p.title}: ${p.targets[0].query}`);
    }
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
        viewport: { width: 1366, height: 768 },
      });
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

    async function shot(page, name) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
    }

    async function openPage(p) {
      const page = context.pages()[0] || (await context.newPage());
      await page.goto(store.base + p);
      return page;
    }

    it('dashboard: counts equal the API\'s and the ingested outcomes; rows open traces', async () => {
      const page = await openPage('/');
      await page.locator('[data-stat="total"] .stat-value').filter({ hasText: /^6$/ }).waitFor();
      const ui = {};
      for (const k of ['total', 'ok', 'error', 'timeout'])
        ui[k] = Number(await page.locator(`[data-stat="${k}"] .stat-value`).textContent());

      // The same query straight from the API, counted here by extrace.result.
      const q = await page.locator('[data-query]').textContent();
      assert.match(q, /select\(span\.workflowId, span\.startTime, span\.endTime, span\.extrace\.result, status, statusMessage\)/);
      const answer = await apiSearch(store.base, q, { spss: 1 });
      const api = { total: answer.traces.length, ok: 0, error: 0, timeout: 0 };
      for (const t of answer.traces) api[spanAttr(t.spanSets[0].spans[0], 'extrace.result')]++;
      assert.deepEqual(ui, api, 'UI counts vs API');
      assert.deepEqual(ui, { total: 6, ok: 3, error: 2, timeout: 1 }, 'UI counts vs ingested');

      const rows = page.locator('#workflows tbody tr');
      assert.equal(await rows.count(), 6);
      const failed = workflows.find((w) => w.failedStage === 'OutputGenerator');
      const row = page.locator('#workflows tbody tr', { hasText: failed.workflowId });
      assert.match(await row.textContent(), /Entity failed: OutputGenerator/);
      assert.match(await page.locator('.refreshed').textContent(), /Last refreshed \d\d:\d\d:\d\d · every 30 s/);
      await page.getByRole('button', { name: 'Pause auto-refresh' }).click();
      assert.match(page.url(), /paused=1/);
      await page.getByRole('button', { name: 'Resume auto-refresh' }).click();
      await shot(page, 'dashboard');

      await row.locator('td').nth(2).click();
      await page.waitForURL(new RegExp(`/trace/${failed.traceId}`));
      await page.locator('.bar').first().waitFor();
    });

    it('search: by workflow id finds exactly it; a bad query shows the API\'s message', async () => {
      const page = await openPage('/search');
      const target = workflows[2];
      await page.fill('#wf', target.workflowId);
      assert.equal(await page.inputValue('#q'), `{span.workflowId="${target.workflowId}"} | select(span.workflowId)`);
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

      // A marker selects its event; its name shows on hover (title).
      const failedMarker = page.locator(`.wf-row[data-span-id="${og.spanId}"] .marker[data-event="Failed"]`);
      assert.match(await failedMarker.getAttribute('title'), /^Failed · /);
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

    it('the browser logged no errors and asked no other host', () => {
      assert.deepEqual(consoleErrors, []);
      assert.deepEqual(foreign, []);
    });
  });
});

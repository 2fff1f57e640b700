// bench/ui.js — timings of the Workflows table over a store already
// holding N workflows (bench/ui.sh starts it and fills it).
//   node bench/ui.js <store base url> <N>
'use strict';

const { chromium } = require('playwright-core');

const [base, n] = process.argv.slice(2);
const REPEAT = Number(process.env.REPEAT || 15);
const now = () => Math.floor(Date.now() / 1000);

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] };
}

async function timeGet(url, repeat = REPEAT) {
  const ms = [];
  let body;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    body = await res.text();
    if (!res.ok) throw new Error(`${url}: ${res.status} ${body}`);
    ms.push(performance.now() - t0);
  }
  return { ...stats(ms), bytes: body.length, body };
}

const fmt = (x) => x.toFixed(1).padStart(8);

async function api() {
  const w = (p) => `${base}/api/ui/workflows?${new URLSearchParams({ start: now() - 3600, end: now() + 1, ...p })}`;
  const cases = [
    ['default page (newest first)', {}],
    ['sort by duration, longest first', { sort: 'duration', order: 'desc' }],
    ['sort by status', { sort: 'status', order: 'asc' }],
    ['sort by workflow id', { sort: 'id', order: 'asc' }],
    ['sort by error message', { sort: 'message', order: 'asc' }],
    ['filter status=timeout', { status: 'timeout' }],
    ['filter status=error, sort by duration', { status: 'error', sort: 'duration' }],
    ['page 2', { offset: 50 }],
    ['page 1000 (offset 49,950)', { offset: 49950 }],
    ['last page, sorted by duration', { offset: Number(n) - 50, sort: 'duration' }],
    ['workflow id prefix "ab"', { id: 'ab' }],
    ['namespace dev1', { namespace: 'dev1' }],
  ];
  console.log(`\n/api/ui/workflows, ${REPEAT} requests each (ms)`);
  console.log('                                          median      p95');
  const out = {};
  for (const [name, p] of cases) {
    const r = await timeGet(w({ limit: 50, ...p }));
    out[name] = r.median;
    console.log(`${name.padEnd(40)}${fmt(r.median)} ${fmt(r.p95)}`);
  }
  // The peer: what the dashboard asked before (Tempo's search, 5000 traces at most).
  const q = '{resource.service.name="Tracing.Worker" && name="Workflow"} | select(span.workflowId, span.startTime, span.endTime, span.extrace.result, status, statusMessage)';
  const peer = await timeGet(`${base}/api/search?${new URLSearchParams({ q, start: now() - 3600, end: now() + 1, limit: 5000, spss: 1 })}`, 3);
  const shown = JSON.parse(peer.body).traces.length;
  console.log(`\npeer: /api/search, old dashboard query, limit=5000: median ${peer.median.toFixed(0)} ms, ${(peer.bytes / 1e6).toFixed(1)} MB, ${shown} of ${n} workflows`);
  console.log(`ratio peer / default page: ${(peer.median / out['default page (newest first)']).toFixed(0)}x`);
}

async function browser() {
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  const page = await (await b.newContext({ viewport: { width: 1400, height: 800 } })).newPage();
  const settled = () => page.waitForFunction(() => {
    const d = document.querySelector('.dashboard');
    return d && !d.hasAttribute('aria-busy') && document.querySelector('.pager-info');
  });
  const steps = [
    ['sort: Duration header', () => page.click('button[data-sort="duration"]')],
    ['sort: Workflow ID header', () => page.click('button[data-sort="id"]')],
    ['filter: Failed card', () => page.click('[data-stat="error"]')],
    ['filter: Timed out card', () => page.click('[data-stat="timeout"]')],
    ['filter: Total card (all)', () => page.click('[data-stat="total"]')],
    ['page: Next', () => page.click('button[aria-label="Next page"]')],
    ['page: Last', () => page.click('button[aria-label="Last page"]')],
    ['page: First', () => page.click('button[aria-label="First page"]')],
  ];
  const times = Object.fromEntries(steps.map(([k]) => [k, []]));
  const inPage = Object.fromEntries(steps.map(([k]) => [k, []])); // request sent → rows drawn, timed by the page
  const load = [];
  const rounds = Math.max(3, Math.floor(REPEAT / 3));
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await page.goto(`${base}/`);
    await settled();
    load.push(performance.now() - t0);
    for (const [name, act] of steps) {
      const t1 = performance.now();
      await act();
      await settled();
      times[name].push(performance.now() - t1);
      inPage[name].push(Number(await page.locator('.dashboard').getAttribute('data-load-ms')));
    }
  }
  console.log(`\nChromium 1400 px, ${rounds} rounds (ms): click → table redrawn (as the test driver sees it), and`);
  console.log('request → rows drawn (timed in the page)');
  console.log('                                          median      p95   in page median');
  console.log(`${'page load (/ until the table shows)'.padEnd(40)}${fmt(stats(load).median)} ${fmt(stats(load).p95)}`);
  for (const [name, ms] of Object.entries(times))
    console.log(`${name.padEnd(40)}${fmt(stats(ms).median)} ${fmt(stats(ms).p95)} ${fmt(stats(inPage[name]).median)}`);
  await b.close();
}

(async () => {
  await api();
  await browser();
})().catch((e) => { console.error(e); process.exit(1); });

// dashboard.js — the Workflows page (/): counts by outcome, the stage chart
// (chart.js: failures and p90 per stage over the range) and one page of the
// workflow table, sorted, filtered and paged by the store
// (/api/ui/workflows), refreshed every 30 s unless paused; and, when the
// store has --live workers, the Running card and table (/api/live), read
// every second: a workflow that ends leaves it and the stored table is
// read again until it shows there. Every setting lives in the address.

import { workflows, tagValues, live as fetchLive } from './api.js';
import { summary as liveSummary, row as liveRow, rowId } from './live.js';
import { h, replace, badge, tableKeys } from './dom.js';
import { stageChart } from './chart.js';
import { RANGES, rangeSeconds, toLocalInput, fmtDateTime, fmtDuration, fmtClock, zoneShort, withZone } from './time.js';

const REFRESH_MS = 30000;
const LIVE_MS = 1000;        // the Running table's refresh
const LIVE_ROWS = 200;       // rows of it drawn at most
const ENDED_WAIT_MS = 20000; // an ended workflow is looked for in the stored table this long
const SIZES = [25, 50, 100, 200];

const STATS = [
  { key: 'total', label: 'Total', status: '' },
  { key: 'ok', label: 'OK', status: 'ok' },
  { key: 'error', label: 'Failed', status: 'error' },
  { key: 'timeout', label: 'Timed out', status: 'timeout' },
];

const STATUSES = [['', 'Any'], ['ok', 'OK'], ['error', 'Failed'], ['timeout', 'Timed out'], ['unset', 'Unset']];

// The table's columns: label, sort key (the API's), class.
const COLUMNS = [
  { label: 'Workflow ID', sort: 'id', cls: 'mono' },
  { label: 'Start', sort: 'start', zone: true },
  { label: 'End', sort: 'end', zone: true },
  { label: 'Status', sort: 'status' },
  { label: 'Duration', sort: 'duration', cls: 'num' },
  { label: 'Error message', sort: 'message', cls: 'message' },
];

const nsToMs = (v) => Number(BigInt(v || 0) / 1000000n);
const fmtInt = (n) => Number(n).toLocaleString('en-US');

// Settings from the address (defaults: last hour, newest first, page 1 of 50).
function readState(query) {
  const size = Number(query.get('size'));
  return {
    range: query.get('range') || '1h',
    from: query.get('from') || toLocalInput(Date.now() - 3600e3),
    to: query.get('to') || toLocalInput(Date.now() + 60e3),
    namespace: query.get('ns') || '',
    status: query.get('status') || '',
    id: query.get('id') || '',
    sort: COLUMNS.some((c) => c.sort === query.get('sort')) ? query.get('sort') : 'start',
    order: query.get('order') === 'asc' ? 'asc' : 'desc',
    page: Math.max(1, Number.parseInt(query.get('page'), 10) || 1),
    size: SIZES.includes(size) ? size : 50,
    paused: query.get('paused') === '1',
  };
}

// Mount the page into el; returns the function that unmounts it.
export function mount(el, { query, navigate }) {
  const state = readState(query);
  let inflight = null;
  let pages = 1;

  const sel = (id, options, value, onchange, label) => {
    const s = h('select', { id, onchange: () => onchange(s.value) },
      options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value) }, text)));
    return label ? h('label', null, `${label} `, s) : s;
  };
  const rangeSel = sel('dash-range', RANGES.map((r) => [r.id, r.label]), state.range, (v) => { state.range = v; changed(); }, 'Time range');
  const fromIn = h('input', { type: 'datetime-local', value: state.from, 'aria-label': `From (${zoneShort()})`, onchange: () => { state.from = fromIn.value; changed(); } });
  const toIn = h('input', { type: 'datetime-local', value: state.to, 'aria-label': `To (${zoneShort()})`, onchange: () => { state.to = toIn.value; changed(); } });
  const custom = h('span', { class: 'custom' }, fromIn, ' – ', toIn, h('span', { class: 'muted' }, ` ${zoneShort()}`));
  const nsSel = h('select', { id: 'dash-ns', onchange: () => { state.namespace = nsSel.value; changed(); } }, h('option', { value: '' }, 'All'));
  const statusSel = sel('dash-status', STATUSES, state.status, (v) => { state.status = v; changed(); }, 'Status');
  let idTimer = null;
  const idIn = h('input', {
    id: 'dash-id', type: 'search', value: state.id, size: 24, placeholder: 'starts with…', spellcheck: 'false', autocomplete: 'off',
    oninput: () => { clearTimeout(idTimer); idTimer = setTimeout(() => { state.id = idIn.value.trim(); changed(); }, 250); },
  });
  const pauseBtn = h('button', { type: 'button', class: 'toggle', onclick: () => { state.paused = !state.paused; changed(false); } });
  const refreshed = h('span', { class: 'refreshed', 'aria-live': 'polite' });
  const stats = h('div', { class: 'stats' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const hint = h('p', { class: 'notice', hidden: true });
  const tbody = h('tbody');
  const headRow = h('tr');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of workflows' });
  const chart = stageChart();
  const runningValue = h('span', { class: 'stat-value' }, '0');
  const runningLabel = h('span', { class: 'stat-label' }, 'Running');
  const runningCard = h('button', {
    type: 'button', class: 'stat stat-running', 'data-stat': 'running', title: 'Workflows in flight on the workers',
    onclick: () => runningSection.scrollIntoView({ block: 'start' }),
  }, runningValue, runningLabel);
  const runningBody = h('tbody');
  const runningHead = h('tr');
  const liveInfo = h('span', { class: 'live-info', 'aria-live': 'polite' });
  const downBox = h('div');
  const runningSection = h('section', { class: 'running', hidden: true, 'aria-label': 'Running workflows' },
    h('div', { class: 'toolbar' }, h('h2', null, 'Running'), liveInfo),
    downBox,
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id: 'running', 'aria-label': 'Running workflows' }, h('thead', null, runningHead), runningBody)));
  let liveOn = false, liveIds = null, liveTimer = null;
  const ended = new Map(); // traceId → time after which it is no longer looked for

  replace(el, h('section', { class: 'page dashboard' },
    h('div', { class: 'toolbar' },
      h('h1', null, 'Workflows'),
      rangeSel, custom,
      h('label', null, 'Namespace ', nsSel),
      h('button', { type: 'button', onclick: () => refresh() }, 'Refresh'),
      pauseBtn, refreshed),
    stats,
    runningSection,
    chart.el,
    h('div', { class: 'toolbar filters' }, statusSel, h('label', null, 'Workflow ID ', idIn)),
    error, hint,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid', id: 'workflows', 'aria-label': 'Workflows' }, h('thead', null, headRow), tbody)),
    pager));

  tableKeys(tbody, (tr) => navigate(`/trace/${tr.dataset.traceId}`));
  tableKeys(runningBody, (tr) => navigate(`/trace/${tr.dataset.traceId}`));

  // Namespaces for the filter: best effort, the page works without them.
  const ctl = new AbortController();
  tagValues('resource.service.namespace', ctl.signal).then((values) => {
    for (const v of values.sort()) nsSel.append(h('option', { value: v, selected: v === state.namespace }, v));
  }).catch(() => {});

  // Keep the settings in the address, so reload and links keep them.
  function changed(reload = true, keepPage = false) {
    if (!keepPage) state.page = 1;
    const q = new URLSearchParams();
    if (state.range !== '1h') q.set('range', state.range);
    if (state.range === 'custom') { q.set('from', state.from); q.set('to', state.to); }
    if (state.namespace) q.set('ns', state.namespace);
    if (state.status) q.set('status', state.status);
    if (state.id) q.set('id', state.id);
    if (state.sort !== 'start' || state.order !== 'desc') { q.set('sort', state.sort); q.set('order', state.order); }
    if (state.page > 1) q.set('page', String(state.page));
    if (state.size !== 50) q.set('size', String(state.size));
    if (state.paused) q.set('paused', '1');
    history.replaceState(null, '', withZone(q.toString() ? `/?${q}` : '/'));
    custom.hidden = state.range !== 'custom';
    pauseBtn.textContent = state.paused ? 'Resume auto-refresh' : 'Pause auto-refresh';
    pauseBtn.setAttribute('aria-pressed', String(state.paused));
    renderHead();
    if (reload) refresh();
  }

  function renderHead() {
    replace(headRow, COLUMNS.map((c) => {
      const active = state.sort === c.sort;
      const label = c.zone ? `${c.label} (${zoneShort()})` : c.label;
      return h('th', { scope: 'col', class: c.cls === 'num' ? 'num' : null, 'aria-sort': active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none' },
        h('button', {
          type: 'button', class: 'sort', dataset: { sort: c.sort },
          onclick: () => {
            state.order = active && state.order === 'desc' ? 'asc' : active ? 'desc' : c.sort === 'start' || c.sort === 'end' || c.sort === 'duration' ? 'desc' : 'asc';
            state.sort = c.sort;
            changed();
          },
        }, label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '')));
    }));
  }

  async function refresh(withChart = true) {
    if (inflight) inflight.abort();
    const req = (inflight = new AbortController());
    const started = performance.now();
    el.querySelector('.dashboard').setAttribute('aria-busy', 'true');
    try {
      const { start, end } = rangeSeconds(state.range, state.from, state.to);
      const answer = await workflows({
        start, end, namespace: state.namespace, status: state.status, id: state.id, sort: state.sort, order: state.order,
        offset: (state.page - 1) * state.size, limit: state.size,
      }, req.signal);
      render(answer);
      error.hidden = true;
      // The chart after the table: its scans take longer and the store
      // answers one request at a time.
      if (withChart) chart.refresh({ start, end, namespace: state.namespace });
    } catch (e) {
      if (e.name === 'AbortError') return;
      error.textContent = `Could not load workflows: ${e.message}`;
      error.hidden = false;
    } finally {
      if (inflight === req) {
        inflight = null;
        el.querySelector('.dashboard').removeAttribute('aria-busy');
        el.querySelector('.dashboard').dataset.loadMs = String(Math.round(performance.now() - started));
      }
    }
    refreshed.textContent = `Last refreshed ${fmtClock(Date.now())} ${zoneShort()}${state.paused ? ' · paused' : ' · every 30 s'}`;
  }

  function render(answer) {
    const c = answer.counts || {};
    replace(stats, STATS.map((s) => h('button', {
      type: 'button', class: `stat stat-${s.key}`, 'data-stat': s.key, 'aria-pressed': String(state.status === s.status && (s.status !== '' || !state.status)),
      title: s.status ? `Show only ${s.label.toLowerCase()} workflows` : 'Show every workflow',
      onclick: () => { state.status = s.status; statusSel.querySelector('select').value = s.status; changed(); },
    }, h('span', { class: 'stat-value' }, fmtInt(c[s.key] || 0)), h('span', { class: 'stat-label' }, s.label))), liveOn ? runningCard : null);
    stats.classList.toggle('has-live', liveOn);
    const total = Number(answer.total) || 0;
    pages = Math.max(1, Math.ceil(total / state.size));
    const rows = answer.workflows || [];
    for (const r of rows) ended.delete(r.traceID);
    hint.hidden = !(state.id && total === 0);
    hint.textContent = hint.hidden ? '' : `No workflow id starts with "${state.id}" in this time range and namespace. Ids are matched from their first character, in any letter case.`;
    if (!rows.length) {
      replace(tbody, h('tr', null, h('td', { colspan: COLUMNS.length, class: 'empty' },
        total ? `Page ${state.page} is past the last page (${pages}).` : 'No workflows match in this time range.')));
    } else {
      replace(tbody, rows.map((r, i) => {
        const startMs = nsToMs(r.startTimeUnixNano), endMs = nsToMs(r.endTimeUnixNano);
        return h('tr', {
          class: 'link-row', tabindex: i === 0 ? 0 : -1, dataset: { traceId: r.traceID },
          onclick: (e) => { if (!e.target.closest('a')) navigate(`/trace/${r.traceID}`); },
        },
        h('td', { class: 'mono' }, h('a', { href: withZone(`/trace/${r.traceID}`), tabindex: -1 }, r.workflowId || '(no workflowId)')),
        h('td', { class: 'time' }, fmtDateTime(startMs)),
        h('td', { class: 'time' }, fmtDateTime(endMs)),
        h('td', null, badge(r.result)),
        h('td', { class: 'num' }, fmtDuration(Number(BigInt(r.durationNanos || 0)) / 1e6)),
        h('td', { class: 'message' }, r.statusMessage || ''));
      }));
    }
    renderPager(total);
  }

  function renderPager(total) {
    const first = total ? (state.page - 1) * state.size + 1 : 0;
    const last = Math.min(total, state.page * state.size);
    const go = (p) => { state.page = Math.min(Math.max(1, p), pages); changed(true, true); };
    const btn = (text, p, disabled, label) => h('button', { type: 'button', disabled, 'aria-label': label, onclick: () => go(p) }, text);
    const pageIn = h('input', {
      type: 'number', min: 1, max: pages, value: state.page, class: 'page-in', 'aria-label': `Page (1 to ${pages})`,
      onchange: () => go(Number.parseInt(pageIn.value, 10) || 1),
    });
    replace(pager,
      h('span', { class: 'pager-info', 'data-rows': '' }, total ? `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(total)}` : '0 workflows'),
      btn('« First', 1, state.page <= 1, 'First page'),
      btn('‹ Prev', state.page - 1, state.page <= 1, 'Previous page'),
      h('label', null, 'Page ', pageIn, ` of ${fmtInt(pages)}`),
      btn('Next ›', state.page + 1, state.page >= pages, 'Next page'),
      btn('Last »', pages, state.page >= pages, 'Last page'),
      sel('dash-size', SIZES.map((n) => [n, `${n} per page`]), state.size, (v) => { state.size = Number(v); changed(); }));
  }

  // The Running card and table, from the workers' live lists.
  async function pollLive() {
    liveTimer = null;
    try {
      const doc = await fetchLive({}, ctl.signal);
      const sm = liveSummary(doc);
      if (!sm.configured) { // no --live: nothing to show, nothing to ask again
        liveOn = false;
        runningSection.hidden = true;
        runningCard.remove();
        stats.classList.remove('has-live');
        return;
      }
      if (!liveOn) {
        liveOn = true;
        stats.classList.add('has-live');
        if (stats.childElementCount) stats.append(runningCard);
      }
      renderLive(doc, sm);
    } catch (e) {
      if (e.name === 'AbortError') return;
      liveInfo.textContent = `Could not read the running workflows: ${e.message}`;
    }
    liveTimer = setTimeout(pollLive, LIVE_MS);
  }

  function renderLive(doc, sm) {
    const now = Date.now();
    const list = doc.workflows || [];
    const ids = new Set(list.map(rowId));
    // Those that left the list ended: read the stored table until they show.
    if (liveIds) for (const w of liveIds.values()) if (!ids.has(rowId(w)) && w.traceId) ended.set(w.traceId, now + ENDED_WAIT_MS);
    liveIds = new Map(list.map((w) => [rowId(w), w]));
    for (const [t, until] of ended) if (until < now) ended.delete(t);
    if (ended.size && !state.paused && !inflight) refresh(false);
    runningSection.hidden = false;
    runningValue.textContent = fmtInt(sm.running);
    replace(runningLabel, 'Running', sm.down.length ? h('span', { class: 'warn' }, ` · ${sm.down.length} of ${sm.workers} workers not answering`) : null);
    runningCard.title = sm.down.length ? `In flight on the workers that answer; not answering: ${sm.down.map((d) => d.url).join(', ')}` : 'Workflows in flight on the workers';
    replace(downBox, sm.down.map((d) => h('p', { class: 'worker-down', role: 'alert', 'data-worker-down': d.url }, `Worker ${d.url} is not answering: ${d.error}`)));
    const multi = sm.workers > 1;
    replace(runningHead, ['Workflow', 'Status', 'Current stage', `Started (${zoneShort()})`, 'Elapsed', `Last poll (${zoneShort()})`, 'Polls', multi ? 'Worker' : null]
      .filter(Boolean).map((t) => h('th', { scope: 'col', class: t === 'Elapsed' || t === 'Polls' ? 'num' : null }, t)));
    const shown = list.slice(0, LIVE_ROWS);
    liveInfo.textContent = `${fmtInt(sm.running)} in flight on ${sm.workers - sm.down.length} of ${sm.workers} worker${sm.workers > 1 ? 's' : ''}${list.length > shown.length ? ` · first ${shown.length} shown` : ''} · ${fmtClock(now)} ${zoneShort()}`;
    if (!shown.length) {
      replace(runningBody, h('tr', null, h('td', { colspan: multi ? 8 : 7, class: 'empty' },
        sm.down.length === sm.workers ? 'No worker answers: the running workflows are unknown.' : 'No workflow is running.')));
      return;
    }
    replace(runningBody, shown.map((w, i) => {
      const r = liveRow(w, now);
      return h('tr', {
        class: 'link-row', tabindex: i === 0 ? 0 : -1, dataset: { traceId: r.traceId, key: r.key },
        onclick: (e) => { if (!e.target.closest('a')) navigate(`/trace/${r.traceId}`); },
      },
      h('td', { class: 'mono' }, h('a', { href: withZone(`/trace/${r.traceId}`), tabindex: -1 }, r.key)),
      h('td', null, badge(r.status)),
      h('td', { 'data-stage': '' }, r.stage || '—'),
      h('td', { class: 'time' }, fmtDateTime(r.startMs)),
      h('td', { class: 'num', 'data-elapsed': '' }, fmtDuration(r.elapsedMs)),
      h('td', { class: 'time' }, Number.isFinite(r.lastPollMs) ? fmtClock(r.lastPollMs) : '—'),
      h('td', { class: 'num' }, r.pollErrors ? `${r.polls} (${r.pollErrors} failed)` : String(r.polls)),
      multi ? h('td', { class: 'mono' }, r.worker) : null);
    }));
  }

  changed(false, true);
  refresh();
  pollLive();
  const timer = setInterval(() => { if (!state.paused && !document.hidden) refresh(); }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    clearTimeout(liveTimer);
    clearTimeout(idTimer);
    chart.stop();
    ctl.abort();
    if (inflight) inflight.abort();
  };
}

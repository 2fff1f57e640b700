// dashboard.js — the Workflows page (/): counts and a table of workflows,
// refreshed every 30 s unless paused.

import { search, tagValues } from './api.js';
import { h, replace, badge } from './dom.js';
import { RANGES, rangeSeconds, toLocalInput, fmtDateTime, fmtDuration, fmtClock } from './time.js';
import { workflowQuery, workflowRows, countRows } from './workflows.js';

const REFRESH_MS = 30000;
const LIMIT = 5000; // traces asked for; more than this is reported as truncated

const STATS = [
  { key: 'total', label: 'Total' },
  { key: 'ok', label: 'OK' },
  { key: 'error', label: 'Failed' },
  { key: 'timeout', label: 'Timed out' },
];

// Mount the page into el; returns the function that unmounts it.
export function mount(el, { query, navigate }) {
  const state = {
    range: query.get('range') || '1h',
    from: query.get('from') || toLocalInput(Date.now() - 3600e3),
    to: query.get('to') || toLocalInput(Date.now() + 60e3),
    namespace: query.get('ns') || '',
    paused: query.get('paused') === '1',
    inflight: null,
  };

  const rangeSel = h('select', { id: 'dash-range', onchange: () => { state.range = rangeSel.value; changed(); } },
    RANGES.map((r) => h('option', { value: r.id, selected: r.id === state.range }, r.label)));
  const fromIn = h('input', { type: 'datetime-local', value: state.from, 'aria-label': 'From', onchange: () => { state.from = fromIn.value; changed(); } });
  const toIn = h('input', { type: 'datetime-local', value: state.to, 'aria-label': 'To', onchange: () => { state.to = toIn.value; changed(); } });
  const custom = h('span', { class: 'custom' }, fromIn, ' – ', toIn);
  const nsSel = h('select', { id: 'dash-ns', onchange: () => { state.namespace = nsSel.value; changed(); } },
    h('option', { value: '' }, 'All'));
  const pauseBtn = h('button', { type: 'button', class: 'toggle', onclick: () => { state.paused = !state.paused; changed(false); } });
  const refreshed = h('span', { class: 'refreshed', 'aria-live': 'polite' });
  const stats = h('div', { class: 'stats' });
  const notice = h('p', { class: 'notice', hidden: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const tbody = h('tbody');
  const queryCode = h('code', { 'data-query': '' });

  replace(el, h('section', { class: 'page dashboard' },
    h('div', { class: 'toolbar' },
      h('h1', null, 'Workflows'),
      h('label', null, 'Time range ', rangeSel), custom,
      h('label', null, 'Namespace ', nsSel),
      h('button', { type: 'button', onclick: () => refresh() }, 'Refresh'),
      pauseBtn, refreshed),
    stats, notice, error,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid', id: 'workflows' },
        h('thead', null, h('tr', null, ['Workflow ID', 'Start', 'End', 'Status', 'Duration', 'Error message']
          .map((c) => h('th', { scope: 'col', class: c === 'Duration' ? 'num' : null }, c)))),
        tbody)),
    h('p', { class: 'query' }, 'TraceQL: ', queryCode)));

  // Namespaces for the filter: best effort, the page works without them.
  const ctl = new AbortController();
  tagValues('resource.service.namespace', ctl.signal).then((values) => {
    for (const v of values.sort()) nsSel.append(h('option', { value: v, selected: v === state.namespace }, v));
  }).catch(() => {});

  // Keep the settings in the address, so reload and links keep them.
  function changed(reload = true) {
    const q = new URLSearchParams();
    if (state.range !== '1h') q.set('range', state.range);
    if (state.range === 'custom') { q.set('from', state.from); q.set('to', state.to); }
    if (state.namespace) q.set('ns', state.namespace);
    if (state.paused) q.set('paused', '1');
    history.replaceState(null, '', q.toString() ? `/?${q}` : '/');
    custom.hidden = state.range !== 'custom';
    pauseBtn.textContent = state.paused ? 'Resume auto-refresh' : 'Pause auto-refresh';
    pauseBtn.setAttribute('aria-pressed', String(state.paused));
    if (reload) refresh();
  }

  async function refresh() {
    if (state.inflight) state.inflight.abort();
    const req = (state.inflight = new AbortController());
    const q = workflowQuery(state.namespace);
    queryCode.textContent = q;
    try {
      const { start, end } = rangeSeconds(state.range, state.from, state.to);
      const answer = await search({ q, start, end, limit: LIMIT, spss: 1 }, req.signal);
      const rows = workflowRows(answer);
      render(rows, (answer.traces || []).length >= LIMIT);
      error.hidden = true;
    } catch (e) {
      if (e.name === 'AbortError') return;
      error.textContent = `Could not load workflows: ${e.message}`;
      error.hidden = false;
    } finally {
      if (state.inflight === req) state.inflight = null;
    }
    refreshed.textContent = `Last refreshed ${fmtClock(Date.now())}${state.paused ? ' · paused' : ' · every 30 s'}`;
  }

  function render(rows, truncated) {
    const c = countRows(rows);
    replace(stats, STATS.map((s) => h('div', { class: `stat stat-${s.key}`, 'data-stat': s.key },
      h('span', { class: 'stat-value' }, c[s.key]), h('span', { class: 'stat-label' }, s.label))));
    notice.hidden = !truncated;
    notice.textContent = truncated ? `Only the first ${LIMIT} workflows were returned: counts and table cover those. Narrow the time range to see all.` : '';
    if (!rows.length) {
      replace(tbody, h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No workflows in this time range.')));
      return;
    }
    replace(tbody, rows.map((r) => h('tr', {
      class: 'link-row', tabindex: 0, dataset: { traceId: r.traceId },
      onclick: (e) => { if (!e.target.closest('a')) navigate(`/trace/${r.traceId}`); },
      onkeydown: (e) => { if (e.key === 'Enter') navigate(`/trace/${r.traceId}`); },
    },
    h('td', { class: 'mono' }, h('a', { href: `/trace/${r.traceId}` }, r.workflowId || '(no workflowId)')),
    h('td', null, fmtDateTime(r.startMs)),
    h('td', null, fmtDateTime(r.endMs)),
    h('td', null, badge(r.result)),
    h('td', { class: 'num' }, fmtDuration(r.durationMs)),
    h('td', { class: 'message' }, r.message))));
  }

  changed(false);
  refresh();
  const timer = setInterval(() => { if (!state.paused && !document.hidden) refresh(); }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    ctl.abort();
    if (state.inflight) state.inflight.abort();
  };
}

// search.js — the Search page (/search): fields that build a TraceQL query,
// or a query typed by hand; results link to the trace view.

import { search, tagValues, attrs, workflows } from './api.js';
import { h, replace, badge, copyButton, tableKeys } from './dom.js';
import { RANGES, rangeSeconds, toLocalInput, fmtDateTime, fmtDuration, zoneShort, withZone } from './time.js';
import { quote, outcome } from './workflows.js';

const LIMITS = [20, 100, 500];
const FIELDS = ['wf', 'status', 'svc', 'ns']; // kept in the address with q, range, from, to, limit

// TraceQL for the fields (otlp-tempo.md §5): conditions joined by &&.
export function buildQuery(f) {
  const conds = [];
  if (f.wf) conds.push(`span.workflowId=${quote(f.wf)}`);
  if (f.status) conds.push(`status=${f.status}`);
  if (f.svc) conds.push(`resource.service.name=${quote(f.svc)}`);
  if (f.ns) conds.push(`resource.service.namespace=${quote(f.ns)}`);
  return `{${conds.join(' && ')}} | select(span.workflowId, span.extrace.result, status, statusMessage)`;
}

// A selected attribute of a search span: Tempo drops the scope
// ("workflowId"), other stores may keep it ("span.workflowId").
function pick(a, name) {
  return a.has(name) ? a.get(name) : a.get(`span.${name}`);
}

// What a result row shows of its matched spans: the workflow id, and the
// status and error message of the first span that has them.
export function summarize(spans) {
  const as = spans.map((s) => attrs(s.attributes));
  const wfId = as.map((a) => pick(a, 'workflowId')).find(Boolean);
  const withStatus = as.find((a) => pick(a, 'extrace.result') || pick(a, 'status'));
  if (!withStatus) return { wfId, status: '', message: '' };
  const message = String(pick(withStatus, 'statusMessage') || '');
  return { wfId, status: outcome(pick(withStatus, 'extrace.result'), pick(withStatus, 'status'), message), message };
}

// Mount the page into el; returns the function that unmounts it.
export function mount(el, { query, navigate }) {
  const ctl = new AbortController();
  let inflight = null;
  const input = (id, label, props = {}) => h('label', null, label, ' ', h('input', { id, name: id, ...props }));

  const wf = input('wf', 'Workflow ID', { type: 'search', size: 36, placeholder: 'e.g. 3c0c…' });
  const status = h('label', null, 'Status ', h('select', { id: 'status', name: 'status' },
    h('option', { value: '' }, 'Any'), h('option', { value: 'ok' }, 'OK'), h('option', { value: 'error' }, 'Error')));
  const svc = input('svc', 'Service', { type: 'text', list: 'svc-values', size: 14 });
  const ns = input('ns', 'Namespace', { type: 'text', list: 'ns-values', size: 8 });
  const range = h('select', { id: 'range', name: 'range' }, RANGES.map((r) => h('option', { value: r.id }, r.label)));
  const from = h('input', { type: 'datetime-local', name: 'from', 'aria-label': 'From', value: toLocalInput(Date.now() - 3600e3) });
  const to = h('input', { type: 'datetime-local', name: 'to', 'aria-label': 'To', value: toLocalInput(Date.now() + 60e3) });
  const custom = h('span', { class: 'custom' }, from, ' – ', to);
  const limit = h('select', { id: 'limit', name: 'limit' }, LIMITS.map((n) => h('option', { value: n }, n)));
  const q = h('input', { id: 'q', name: 'q', type: 'text', class: 'mono', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'query-error' });
  const qError = h('p', { id: 'query-error', class: 'error', role: 'alert', hidden: true });
  const qCaret = h('pre', { class: 'caret', 'aria-hidden': 'true', hidden: true });
  const summary = h('p', { class: 'summary', 'aria-live': 'polite' });
  const hint = h('div', { class: 'notice', id: 'wf-hint', hidden: true });
  const tbody = h('tbody');
  const field = (k) => el.querySelector(`[name="${k}"]`);

  const form = h('form', { class: 'search-form', onsubmit: (e) => { e.preventDefault(); run(true); } },
    h('div', { class: 'toolbar' }, wf, status, svc, ns, h('label', null, 'Time range ', range), custom),
    h('div', { class: 'query-row' }, h('label', { for: 'q' }, 'TraceQL'), q, h('label', null, 'Limit ', limit),
      h('button', { type: 'submit' }, 'Search')),
    qError, qCaret,
    h('datalist', { id: 'svc-values' }), h('datalist', { id: 'ns-values' }));

  replace(el, h('section', { class: 'page search' }, h('h1', null, 'Search'), form, summary, hint,
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id: 'results', 'aria-label': 'Search results' },
      h('thead', null, h('tr', null, ['Trace ID', 'Root span', 'Workflow ID', 'Status', 'Error', `Start (${zoneShort()})`, 'Duration', 'Matched spans']
        .map((c) => h('th', { scope: 'col', class: c === 'Duration' || c === 'Matched spans' ? 'num' : null }, c)))), tbody))));
  tableKeys(tbody, (tr) => navigate(`/trace/${tr.dataset.traceId}`));

  for (const [tag, list] of [['resource.service.name', 'svc-values'], ['resource.service.namespace', 'ns-values']]) {
    tagValues(tag, ctl.signal).then((vals) => el.querySelector(`#${list}`).append(...vals.sort().map((v) => h('option', { value: v }))))
      .catch(() => {});
  }

  // Restore from the address; a field change rewrites the query box.
  for (const k of FIELDS) if (query.has(k)) field(k).value = query.get(k);
  range.value = query.get('range') || '1h';
  if (query.has('from')) from.value = query.get('from');
  if (query.has('to')) to.value = query.get('to');
  limit.value = query.get('limit') || '20';
  const fields = () => Object.fromEntries(FIELDS.map((k) => [k, field(k).value.trim()]));
  q.value = query.get('q') || buildQuery(fields());
  for (const k of FIELDS) field(k).addEventListener('input', () => { q.value = buildQuery(fields()); });
  const showCustom = () => { custom.hidden = range.value !== 'custom'; };
  range.addEventListener('change', showCustom);
  showCustom();

  async function run(push) {
    const p = new URLSearchParams();
    p.set('q', q.value);
    for (const [k, v] of Object.entries(fields())) if (v) p.set(k, v);
    p.set('range', range.value);
    if (range.value === 'custom') { p.set('from', from.value); p.set('to', to.value); }
    p.set('limit', limit.value);
    if (push) history.pushState(null, '', withZone(`/search?${p}`));
    if (inflight) inflight.abort();
    const req = (inflight = new AbortController());
    qError.hidden = qCaret.hidden = hint.hidden = true;
    summary.textContent = 'Searching…';
    try {
      const { start, end } = rangeSeconds(range.value, from.value, to.value);
      const answer = await search({ q: q.value, start, end, limit: limit.value, spss: 3 }, req.signal);
      render(answer.traces || [], Number(limit.value));
      const wfId = field('wf').value.trim();
      if (!(answer.traces || []).length && wfId) await prefixHint(wfId, start, end, req.signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      summary.textContent = '';
      replace(tbody);
      qError.textContent = e.status === 400 ? `Query error: ${e.message}` : `Search failed: ${e.message}`;
      qError.hidden = false;
      showCaret(e.status === 400 ? e.message : '', q.value);
    }
  }

  // Under the query, a caret at the position the store's message names
  // ("position 20: …", 1-based, in characters of q).
  function showCaret(message, text) {
    const m = /position (\d+)/.exec(message);
    const at = m ? Number(m[1]) : 0;
    qCaret.hidden = !(at >= 1 && at <= text.length + 1);
    if (!qCaret.hidden) qCaret.textContent = `${text}\n${' '.repeat(at - 1)}^`;
  }

  // A workflow id that finds nothing: list the workflows whose id starts
  // with it (the store's /api/ui/workflows), or say that none does.
  async function prefixHint(wfId, start, end, signal) {
    const page = await workflows({ id: wfId, start, end, limit: 10, sort: 'start', order: 'desc' }, signal);
    const n = Number(page.total) || 0;
    if (!n) {
      replace(hint, `No workflow id is exactly "${wfId}", and none starts with it in this time range. `,
        'Check the id, or widen the time range.');
    } else {
      replace(hint, h('p', null, `No workflow id is exactly "${wfId}". ${n} workflow${n === 1 ? '' : 's'} start${n === 1 ? 's' : ''} with it`,
        n > 10 ? ' (the newest 10):' : ':'),
      h('ul', { class: 'candidates' }, page.workflows.map((w) => h('li', null,
        h('a', { class: 'mono', href: withZone(`/trace/${w.traceID}`) }, w.workflowId), ' ', badge(w.result),
        h('span', { class: 'muted' }, ` ${fmtDateTime(Number(BigInt(w.startTimeUnixNano) / 1000000n), { withZoneName: true })}`)))));
    }
    hint.hidden = false;
  }

  function render(traces, max) {
    summary.textContent = `${traces.length} trace${traces.length === 1 ? '' : 's'}${traces.length >= max ? ` (limit ${max} reached: there may be more)` : ''}`;
    if (!traces.length) {
      replace(tbody, h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'No traces match.')));
      return;
    }
    replace(tbody, traces.map((t, i) => {
      const sets = t.spanSets || (t.spanSet ? [t.spanSet] : []);
      const spans = sets.flatMap((s) => s.spans || []);
      const matched = sets.reduce((n, s) => n + (Number.isFinite(Number(s.matched)) ? Number(s.matched) : (s.spans || []).length), 0);
      const { wfId, status, message } = summarize(spans);
      const startMs = Number(BigInt(t.startTimeUnixNano || 0) / 1000000n);
      const names = spans.map((s) => s.name).join(', ');
      return h('tr', {
        class: 'link-row', tabindex: i === 0 ? 0 : -1, dataset: { traceId: t.traceID },
        onclick: (e) => { if (!e.target.closest('a, button')) navigate(`/trace/${t.traceID}`); },
      },
      h('td', { class: 'mono trace-id' }, h('a', { href: withZone(`/trace/${t.traceID}`), tabindex: -1 }, t.traceID), ' ', copyButton(t.traceID, 'trace id')),
      h('td', null, `${t.rootServiceName || '?'}: ${t.rootTraceName || '?'}`),
      h('td', { class: 'mono wf' }, wfId || '—'),
      h('td', { class: 'status' }, status ? badge(status) : '—'),
      h('td', { class: 'message' }, message),
      h('td', { class: 'time' }, fmtDateTime(startMs)),
      h('td', { class: 'num' }, fmtDuration(Number(t.durationMs))),
      h('td', { class: 'num matched', title: names ? `Shown: ${names}` : null }, String(matched)));
    }));
  }

  if (query.has('q')) run(false);
  return () => { ctl.abort(); if (inflight) inflight.abort(); };
}

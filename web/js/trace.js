// trace.js — the trace view (/trace/<id>): a waterfall of the workflow and
// its stages on a time axis, status-change events as markers on each bar,
// and the details of the selected span (or event).

import { trace as fetchTrace, showValue } from './api.js';
import { h, replace, badge, kvTable, copyButton } from './dom.js';
import { fmtDateTime, fmtClock, fmtDuration, fmtOffset, tickStep, zoneShort, withZone } from './time.js';
import { outcome } from './workflows.js';

// Most intervals on the time axis, fewer on a narrow screen.
const maxTicks = () => (window.innerWidth < 600 ? 3 : window.innerWidth < 1000 ? 5 : 8);

// Spans in tree order (parents before children, siblings by start), with depth.
function treeOrder(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const kids = new Map();
  for (const s of spans) {
    const p = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(s);
  }
  const out = [];
  const walk = (parent, depth) => {
    const list = (kids.get(parent) || []).sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
    for (const s of list) {
      if (out.some((o) => o.span === s)) continue; // a cycle of parent ids: show each span once
      out.push({ span: s, depth });
      walk(s.spanId, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

// The time window covering every span and every event.
function timeWindow(spans) {
  let t0 = null, t1 = null;
  const see = (t) => { if (t > 0n) { if (t0 === null || t < t0) t0 = t; if (t1 === null || t > t1) t1 = t; } };
  for (const s of spans) { see(s.startNs); see(s.endNs); s.events.forEach((e) => see(e.timeNs)); }
  if (t0 === null) t0 = t1 = 0n;
  if (t1 === t0) t1 = t0 + 1000000n;
  return { t0, t1 };
}

const ms = (ns) => Number(ns / 1000000n) + Number(ns % 1000000n) / 1e6;
const eventClass = (name) => (/fail|error/i.test(name) ? 'ev-error' : /complet/i.test(name) ? 'ev-ok' : 'ev-info');

// Mount the page into el; returns the function that unmounts it.
export function mount(el, { params, query }) {
  const ctl = new AbortController();
  const id = params.id || '';
  if (!/^[0-9a-fA-F]{1,32}$/.test(id)) {
    replace(el, h('section', { class: 'page' }, h('h1', null, 'Trace'),
      h('p', { class: 'error', role: 'alert' }, `"${id}" is not a trace id: expected up to 32 hex digits.`)));
    return () => {};
  }
  replace(el, h('section', { class: 'page' }, h('p', { class: 'summary' }, `Loading trace ${id}…`)));
  fetchTrace(id, ctl.signal).then((t) => {
    if (!t || !t.spans.length) {
      replace(el, h('section', { class: 'page' }, h('h1', null, 'Trace not found'),
        h('p', { class: 'error', role: 'alert' }, `The store has no trace ${id}.`), h('p', null, h('a', { href: '/' }, 'Back to workflows'))));
      return;
    }
    render(el, id, t.spans, query.get('span'));
  }).catch((e) => {
    if (e.name === 'AbortError') return;
    replace(el, h('section', { class: 'page' }, h('h1', null, 'Trace'),
      h('p', { class: 'error', role: 'alert' }, `Could not load trace ${id}: ${e.message}`)));
  });
  return () => ctl.abort();
}

function render(el, id, spans, selectedId) {
  const rows = treeOrder(spans);
  const { t0, t1 } = timeWindow(spans);
  const total = Number(t1 - t0);
  const pct = (ns) => `${(Number(ns - t0) / total) * 100}%`;
  const root = rows[0].span;
  const details = h('aside', { class: 'details', 'aria-label': 'Span details' });
  const buttons = new Map(); // spanId → bar button

  function select(span, eventIndex) {
    for (const [sid, b] of buttons) b.classList.toggle('selected', sid === span.spanId);
    history.replaceState(null, '', withZone(`/trace/${id}?span=${span.spanId}`));
    showDetails(details, span, eventIndex, t0);
  }

  const totalMs = total / 1e6;
  const step = tickStep(totalMs, maxTicks());
  const ticks = [];
  for (let off = 0; off <= totalMs + 1e-9; off += step) ticks.push(off);
  const tickPos = (off) => `${(off / totalMs) * 100}%`;

  const axis = h('div', { class: 'wf-axis' }, h('div', { class: 'wf-label' }, h('span', null, 'Span'), h('span', { class: 'zone' }, `times in ${zoneShort(ms(t0))}`)),
    h('div', { class: 'wf-track' }, ticks.map((off) => h('div', { class: 'tick', style: { left: tickPos(off) } },
      h('span', { class: 'tick-offset' }, fmtOffset(Math.round(off))),
      h('span', { class: 'tick-clock' }, fmtClock(ms(t0) + off, step < 1000))))));

  const rowEls = rows.map(({ span, depth }) => {
    const dur = ms(span.endNs - span.startNs);
    const bar = h('button', {
      type: 'button', class: `bar status-${span.status}`, dataset: { spanId: span.spanId },
      style: { left: pct(span.startNs), width: `${(Number(span.endNs - span.startNs) / total) * 100}%` },
      title: `${span.name}: ${fmtDuration(dur)} (${span.status})`, 'aria-label': `${span.name}, ${fmtDuration(dur)}, status ${span.status}`,
      onclick: () => select(span, -1),
    });
    buttons.set(span.spanId, bar);
    const markers = span.events.map((e, i) => h('button', {
      type: 'button', class: `marker ${eventClass(e.name)}`, dataset: { event: e.name },
      style: { left: pct(e.timeNs) },
      title: `${e.name} · ${fmtClock(ms(e.timeNs), true)} ${zoneShort(ms(e.timeNs))} · ${fmtOffset(Math.round(ms(e.timeNs - t0)))}`,
      'aria-label': `event ${e.name} on ${span.name}`,
      onclick: (ev) => { ev.stopPropagation(); select(span, i); },
    }));
    return h('div', { class: 'wf-row', dataset: { spanId: span.spanId } },
      h('div', { class: 'wf-label', style: { paddingLeft: `${8 + depth * 16}px` }, onclick: () => select(span, -1) },
        h('span', { class: 'wf-name' }, span.name), h('span', { class: 'wf-dur' }, fmtDuration(dur))),
      h('div', { class: 'wf-track' },
        ticks.map((off) => h('div', { class: 'gridline', style: { left: tickPos(off) } })), bar, markers));
  });

  const a = root.attrs;
  const result = outcome(a.get('extrace.result'), root.status, root.statusMessage);
  const title = a.has('workflowId') ? h('span', null, 'Workflow ', h('span', { class: 'mono wf-id' }, a.get('workflowId'))) : root.name;
  const fullId = id.toLowerCase().padStart(32, '0');
  // Start and duration of the root span: what the Workflows table shows.
  const rootStart = ms(root.startNs);
  replace(el, h('section', { class: 'page trace' },
    h('div', { class: 'trace-head' },
      h('h1', null, title, ' ', badge(result)),
      kvTable([
        ['Trace ID', h('span', { class: 'id-copy' }, h('span', { class: 'mono', 'data-trace-id': '' }, fullId), ' ', copyButton(fullId, 'trace id'))],
        ['Service', `${showValue(root.resource.get('service.name'))} (${showValue(root.resource.get('service.namespace')) || 'no namespace'})`],
        ['Start', h('span', { 'data-start': '' }, fmtDateTime(rootStart, { withZoneName: true }))],
        ['Duration', h('span', { 'data-duration': '' }, fmtDuration(ms(root.endNs - root.startNs)))],
        ['Spans', String(spans.length)],
      ], 'Trace summary'),
      h('a', { class: 'raw', href: `/api/v2/traces/${id}`, target: '_blank', rel: 'noopener' }, 'Trace JSON')),
    h('div', { class: 'trace-body' },
      h('div', { class: 'waterfall', role: 'group', 'aria-label': 'Waterfall' }, axis, rowEls),
      details)));

  select(spans.find((s) => s.spanId === selectedId) || root, -1);
}

const sinceStart = (off) => (Math.round(off) === 0 ? 'at span start' : `${fmtOffset(Math.round(off))} from span start`);

// The details panel of one span; eventIndex ≥ 0 highlights that event.
function showDetails(panel, span, eventIndex, t0) {
  const start = ms(span.startNs), end = ms(span.endNs);
  const events = span.events.map((e, i) => h('li', { class: i === eventIndex ? 'selected' : null, dataset: { event: e.name } },
    h('div', { class: 'ev-head' }, h('span', { class: `dot ${eventClass(e.name)}` }), h('strong', null, e.name),
      ` ${fmtDateTime(ms(e.timeNs), { millis: true, withZoneName: true })}`, h('span', { class: 'muted' }, ` (${sinceStart(ms(e.timeNs - span.startNs))})`)),
    e.attrs.size ? kvTable([...e.attrs].map(([k, v]) => [k, showValue(v)]), `${e.name} attributes`) : null));
  replace(panel,
    h('div', { class: 'details-head' }, h('h2', null, span.name, ' ', badge(span.status)),
      span.statusMessage ? h('p', { class: `status-msg status-${span.status}`, 'data-status-message': '' }, span.statusMessage) : null),
    kvTable([
      ['Span ID', h('span', { class: 'mono' }, span.spanId)],
      ['Parent', h('span', { class: 'mono' }, span.parentSpanId || '(root)')],
      ['Start', `${fmtDateTime(start, { millis: true, withZoneName: true })} (${fmtOffset(Math.round(ms(span.startNs - t0)))})`],
      ['End', fmtDateTime(end, { millis: true, withZoneName: true })],
      ['Duration', fmtDuration(end - start)],
      ['Kind', span.kind || 'unspecified'],
    ], 'Span'),
    h('h3', null, `Attributes (${span.attrs.size})`),
    h('div', { class: 'attrs' }, kvTable([...span.attrs].map(([k, v]) => [k, showValue(v)]), 'Attributes')),
    h('h3', null, `Events (${span.events.length})`),
    events.length ? h('ol', { class: 'events' }, events) : h('p', { class: 'muted' }, 'No events.'),
    h('details', null, h('summary', null, `Resource (${span.resource.size})`),
      kvTable([...span.resource].map(([k, v]) => [k, showValue(v)]), 'Resource')));
  const sel = panel.querySelector('li.selected');
  if (sel) sel.scrollIntoView({ block: 'nearest' });
}

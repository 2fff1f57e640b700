// trace.js — the trace view (/trace/<id>): a waterfall of the workflow and
// its stages on a time axis, status-change events as markers on each bar,
// and the details of the selected span (or event). While the workflow runs
// (a --live worker has it in flight) the page merges the stored spans with
// the worker's view every second: open stages grow to now, events appear
// as they come, and the finished trace replaces it without a reload.

import { getJSON, normalizeTrace, showValue } from './api.js';
import { mergeSpans, hasRoot, isoMs } from './live.js';
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

// How often a trace that may still grow is read again (ms): while its
// workflow runs, and while a partial trace waits for its root span.
const LIVE_MS = 1000;
const PARTIAL_MS = 2000;
const PARTIAL_POLLS = 150; // about 5 minutes, then the page stops asking
const ENDED_POLLS = 60;    // ended on the worker: wait this many polls for the stored trace

// Mount the page into el; returns the function that unmounts it.
export function mount(el, { params }) {
  const ctl = new AbortController();
  const id = params.id || '';
  if (!/^[0-9a-fA-F]{1,32}$/.test(id)) {
    replace(el, h('section', { class: 'page' }, h('h1', null, 'Trace'),
      h('p', { class: 'error', role: 'alert' }, `"${id}" is not a trace id: expected up to 32 hex digits.`)));
    return () => {};
  }
  replace(el, h('section', { class: 'page' }, h('p', { class: 'summary' }, `Loading trace ${id}…`)));
  let timer = null, polls = 0, wasLive = false, endedPolls = 0;
  const again = (ms) => { timer = setTimeout(load, ms); };

  // One read of the stored trace and of the workflow in flight (the store's
  // /api/ui/trace/<id> answers both, 200 either way); draw what is known.
  async function load() {
    let doc;
    try {
      doc = await getJSON(`/api/ui/trace/${encodeURIComponent(id)}`, ctl.signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(el, h('section', { class: 'page' }, h('h1', null, 'Trace'),
        h('p', { class: 'error', role: 'alert' }, `Could not load trace ${id}: ${e.message}`)));
      return;
    }
    const stored = doc.stored ? normalizeTrace(doc.stored).spans : [];
    const live = doc.live || {};
    const w = live.workflow || null;
    const nowNs = BigInt(Date.now()) * 1000000n;
    polls++;
    if (stored.length && hasRoot(stored)) {
      render(el, id, mergeSpans(stored, null, null, nowNs), { mode: wasLive ? 'ended' : 'done' });
      return; // complete: nothing more will come
    }
    if (w) {
      wasLive = true;
      render(el, id, mergeSpans(stored, w, w.events, nowNs), { mode: 'running', w, nowNs });
      again(LIVE_MS);
      return;
    }
    const down = (live.workers || []).filter((x) => !x.ok);
    if (wasLive && endedPolls++ < ENDED_POLLS) {
      // Ended on its worker: its last spans are on their way to the store.
      if (stored.length) render(el, id, mergeSpans(stored, null, null, nowNs), { mode: 'partial', ending: true, down });
      again(LIVE_MS);
      return;
    }
    if (stored.length) {
      render(el, id, mergeSpans(stored, null, null, nowNs), { mode: 'partial', down });
      if (polls < PARTIAL_POLLS) again(PARTIAL_MS);
      return;
    }
    replace(el, h('section', { class: 'page' }, h('h1', null, 'Trace not found'),
      h('p', { class: 'error', role: 'alert' }, `The store has no trace ${id}, and no worker it watches has it in flight.`),
      down.map((x) => h('p', { class: 'notice', 'data-worker-down': x.url }, `Not answering: ${x.error}`)),
      h('p', null, h('a', { href: '/' }, 'Back to workflows'))));
  }
  load();
  return () => { ctl.abort(); clearTimeout(timer); };
}

// info.mode: 'done' (stored, complete), 'ended' (was running on this
// page, now stored), 'running' (info.w: the worker's view at info.nowNs)
// or 'partial' (stage spans stored, the root not yet).
function render(el, id, spans, info) {
  const selectedId = new URLSearchParams(location.search).get('span');
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
      type: 'button', class: `bar status-${span.status}${span.open ? ' open' : ''}`, dataset: { spanId: span.spanId, open: span.open ? '1' : null },
      style: { left: pct(span.startNs), width: `${(Number(span.endNs - span.startNs) / total) * 100}%` },
      title: `${span.name}: ${fmtDuration(dur)}${span.open ? ' so far' : ''} (${span.status})`, 'aria-label': `${span.name}, ${fmtDuration(dur)}${span.open ? ' so far, still running' : ''}, status ${span.status}`,
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
        h('span', { class: 'wf-name' }, span.name), h('span', { class: 'wf-dur' }, span.open ? `${fmtDuration(dur)} …` : fmtDuration(dur))),
      h('div', { class: 'wf-track' },
        ticks.map((off) => h('div', { class: 'gridline', style: { left: tickPos(off) } })), bar, markers));
  });

  const a = root.attrs;
  const mode = info.mode;
  const result = mode === 'running' ? 'running' : mode === 'partial' ? 'partial' : outcome(a.get('extrace.result'), root.status, root.statusMessage);
  const w = info.w;
  const title = a.has('workflowId') ? h('span', null, 'Workflow ', h('span', { class: 'mono wf-id' }, a.get('workflowId'))) : root.name;
  const fullId = id.toLowerCase().padStart(32, '0');
  // Start and duration of the root span: what the Workflows table shows.
  const rootStart = ms(root.startNs);
  replace(el, h('section', { class: 'page trace', dataset: { live: mode } },
    h('div', { class: 'trace-head' },
      h('h1', null, title, ' ', badge(result)),
      kvTable([
        ['Trace ID', h('span', { class: 'id-copy' }, h('span', { class: 'mono', 'data-trace-id': '' }, fullId), ' ', copyButton(fullId, 'trace id'))],
        ['Service', root.live ? `not stored yet (source ${w ? w.source : '?'})` : `${showValue(root.resource.get('service.name'))} (${showValue(root.resource.get('service.namespace')) || 'no namespace'})`],
        ['Start', h('span', { 'data-start': '' }, fmtDateTime(rootStart, { withZoneName: true }))],
        ['Duration', h('span', { 'data-duration': '' }, `${fmtDuration(ms(root.endNs - root.startNs))}${root.open ? ' so far' : ''}`)],
        ['Spans', String(spans.length)],
        ...(w ? liveRows(w) : []),
      ], 'Trace summary'),
      liveNote(info),
      h('a', { class: 'raw', href: `/api/v2/traces/${id}`, target: '_blank', rel: 'noopener' }, 'Trace JSON')),
    h('div', { class: 'trace-body' },
      h('div', { class: 'waterfall', role: 'group', 'aria-label': 'Waterfall' }, axis, rowEls),
      details)));

  select(spans.find((s) => s.spanId === selectedId) || root, -1);
}

// The worker's view of a running workflow, for the summary table.
function liveRows(w) {
  const last = isoMs(w.lastPoll), next = isoMs(w.nextPoll);
  return [
    ['Current stage', h('span', { 'data-current-stage': '' }, w.currentStage || '—')],
    ['Source status', w.sourceStatus || '—'],
    ['Last poll', Number.isFinite(last) ? `${fmtDateTime(last, { withZoneName: true })}${Number.isFinite(next) ? `, next ${fmtClock(next)}` : ''}` : 'not polled yet'],
    ['Polls', `${w.polls || 0}${w.pollErrors ? ` (${w.pollErrors} failed)` : ''}`],
    ['Worker', h('span', { class: 'mono' }, w.worker || '')],
  ];
}

// What the page says about a trace that is not complete.
function liveNote(info) {
  const down = (info.down || []).map((x) => h('p', { class: 'notice', 'data-worker-down': x.url }, `Not answering: ${x.error}`));
  if (info.mode === 'running') {
    return h('p', { class: 'live-note', role: 'status' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
      'Running: finished spans as stored or seen by the worker, open ones up to now; updated every second.');
  }
  if (info.mode === 'partial') {
    return h('div', null, h('p', { class: 'notice', role: 'status' }, info.ending
      ? 'The workflow has just ended on its worker: waiting for its last spans to be stored.'
      : 'Partial trace: its stage spans are stored, its workflow span is not yet. The workflow is still running (no worker this store watches lists it), or its worker stopped before the end.'), down);
  }
  return null;
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

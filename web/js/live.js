// live.js — workflows in flight (the store's /api/live, fed by the workers'
// live APIs) as the pages draw them. Pure: no DOM, no fetch; "now" comes in.

// Unix ms of an RFC 3339 time ("2025-12-02T18:26:40.123456Z"); NaN when none.
export function isoMs(s) {
  if (typeof s !== 'string') return NaN;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(s.trim());
  if (!m) return NaN;
  return Date.parse(`${m[1]}.${(m[2] || '').padEnd(3, '0').slice(0, 3)}${m[3] || 'Z'}`);
}

// The same in ns as BigInt, with every fractional digit; null when none.
export function isoNs(s) {
  const ms = isoMs(s);
  if (!Number.isFinite(ms)) return null;
  const frac = /\.(\d+)/.exec(s);
  const sub = frac ? BigInt(frac[1].padEnd(9, '0').slice(3, 9)) : 0n;
  return BigInt(ms) * 1000000n + sub;
}

// The "Running" count: in flight on the workers that answer; and the
// workers that do not ({url, error}).
export function summary(doc) {
  const workers = (doc && doc.workers) || [];
  const down = workers.filter((w) => !w.ok).map((w) => ({ url: w.url, error: w.error || 'no answer' }));
  let running = 0;
  for (const w of workers) if (w.ok && Number.isFinite(w.inFlight)) running += w.inFlight;
  return { configured: workers.length > 0, running, down, workers: workers.length };
}

// A live workflow as a table row: key, status, current stage, start (ms),
// elapsed (ms at nowMs), last poll (ms), worker, trace id.
export function row(w, nowMs) {
  const started = isoMs(w.started), submitted = isoMs(w.submitted);
  const from = Number.isFinite(started) ? started : submitted;
  return {
    key: w.key, source: w.source || '', traceId: w.traceId || '', status: w.status || 'pending',
    stage: w.currentStage || '', startMs: from, elapsedMs: Number.isFinite(from) ? Math.max(0, nowMs - from) : NaN,
    lastPollMs: isoMs(w.lastPoll), polls: w.polls || 0, pollErrors: w.pollErrors || 0, worker: w.worker || '',
  };
}

// Keys (source + key) of a list, to see which workflows ended between two polls.
export const rowId = (w) => `${w.source || ''}\u0000${w.key}`;

// The live status of a node or workflow as a bar's status class.
export function barStatus(s) {
  if (s === 'ok' || s === 'error') return s;
  if (s === 'running' || s === 'pending') return 'running';
  return 'unset';
}

// Whether a stored trace has its root span (the workflow ended and was exported).
export const hasRoot = (spans) => spans.some((s) => !s.parentSpanId);

// The id a missing root has: the parent the stored stage spans share.
function missingParent(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const parents = new Set(spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId)).map((s) => s.parentSpanId));
  return parents.size === 1 ? [...parents][0] : '';
}

// Stored spans merged with a live workflow W (its events when fetched) at
// nowNs: every stored span as it is; each node not stored yet drawn from
// the worker's view (open ones end at now, `open` set); the root, while not
// stored, from W (submitted or started to now). Spans as api.js's
// normalizeTrace makes them, plus `open` and `live`.
export function mergeSpans(stored, w, events, nowNs) {
  const spans = stored.map((s) => ({ ...s, open: false, live: false }));
  if (!w) return spans;
  const byId = new Set(spans.map((s) => s.spanId));
  const evs = (events || []).map((e) => ({ node: e.node === undefined ? null : e.node, name: e.name || '', timeNs: isoNs(e.time), attrs: new Map() }))
    .filter((e) => e.timeNs !== null).sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0));
  const nodeEvents = (key) => evs.filter((e) => e.node === key).map(({ name, timeNs, attrs }) => ({ name, timeNs, attrs }));
  const storedRoot = spans.find((s) => !s.parentSpanId);
  const rootId = storedRoot ? storedRoot.spanId : missingParent(spans) || 'live-root';
  if (!storedRoot) {
    const start = isoNs(w.submitted) ?? isoNs(w.started) ?? nowNs;
    spans.push({
      traceId: w.traceId || '', spanId: rootId, parentSpanId: '', name: 'Workflow', kind: '',
      startNs: start, endNs: nowNs > start ? nowNs : start, open: true, live: true,
      attrs: new Map([['workflowId', w.key], ['live.status', w.status], ['live.sourceStatus', w.sourceStatus || '']]),
      events: nodeEvents(null), status: barStatus(w.status), statusMessage: '', resource: new Map([['source', w.source || '']]),
    });
  }
  const spanOf = new Map((w.nodes || []).map((n) => [n.key, n.spanId]));
  for (const n of w.nodes || []) {
    if (!n.spanId || byId.has(n.spanId)) continue;
    const start = isoNs(n.start);
    if (start === null) continue; // not started: nothing to draw
    const end = isoNs(n.end);
    const open = end === null;
    spans.push({
      traceId: w.traceId || '', spanId: n.spanId, parentSpanId: (n.parent && spanOf.get(n.parent)) || rootId,
      name: n.name || n.key, kind: '', startNs: start, endNs: open ? (nowNs > start ? nowNs : start) : end, open, live: true,
      attrs: new Map([['node', n.key], ['live.status', n.status], ['live.sourceStatus', n.sourceStatus || '']]),
      events: nodeEvents(n.key), status: barStatus(n.status), statusMessage: '', resource: new Map(),
    });
  }
  return spans;
}

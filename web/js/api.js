// api.js — the store's Tempo-style query API, and decoding of its JSON.

// An HTTP error from the API: status and the server's message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET a JSON document; throws ApiError with the server's message on a
// non-2xx answer (its body is text, or JSON with "error" or "message").
export async function getJSON(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach the store (${url}): ${e.message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, errorText(text) || `${res.status} ${res.statusText}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(res.status, `${url}: answer is not JSON (${e.message})`);
  }
}

function errorText(body) {
  const t = body.trim();
  try {
    const j = JSON.parse(t);
    if (j && typeof j === 'object') return String(j.error || j.message || t);
  } catch (_) { /* plain text */ }
  return t;
}

// /api/search: {q, start, end (unix s), limit, spss} → the parsed answer.
export function search(params, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
  return getJSON(`/api/search?${qs}`, signal);
}

// /api/ui/workflows (the store's own, docs/query.md): one page of workflow
// root spans with counts by outcome. params: start, end, namespace, status,
// id (prefix), sort, order, offset, limit.
export function workflows(params, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
  return getJSON(`/api/ui/workflows?${qs}`, signal);
}

// TraceQL metrics (Tempo's /api/metrics/query_range): q over [start, end)
// (unix s) in steps of `step` seconds → the parsed QueryRangeResponse.
export function metricsRange(q, start, end, step, signal) {
  const qs = new URLSearchParams({ q, start: String(start), end: String(end), step: `${step}s` });
  return getJSON(`/api/metrics/query_range?${qs}`, signal);
}

// Values seen for a scoped tag, e.g. "resource.service.namespace".
export async function tagValues(tag, signal) {
  const j = await getJSON(`/api/v2/search/tag/${encodeURIComponent(tag)}/values`, signal);
  return (j.tagValues || []).map((v) => (typeof v === 'string' ? v : v.value)).filter((v) => v !== undefined);
}

// The workflows in flight (/api/live: the workers' live lists merged by
// the store); params: traceId, status.
export function live(params, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  return getJSON(`/api/live${qs.toString() ? `?${qs}` : ''}`, signal);
}

// One workflow in flight with its events so far; null once it is no
// longer in flight (404).
export async function liveWorkflow(key, source, signal) {
  const qs = source ? `?${new URLSearchParams({ source })}` : '';
  try {
    return await getJSON(`/api/live/workflows/${encodeURIComponent(key)}${qs}`, signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// One trace, normalized (see normalizeTrace); null when the store has none.
export async function trace(id, signal) {
  try {
    return normalizeTrace(await getJSON(`/api/v2/traces/${encodeURIComponent(id)}`, signal));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// The value of an OTLP AnyValue as a JS value (int64 stays a string).
export function anyValue(v) {
  if (!v || typeof v !== 'object') return v;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return String(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
  if ('kvlistValue' in v) return Object.fromEntries(attrs(v.kvlistValue.values).entries());
  if ('bytesValue' in v) return v.bytesValue;
  return '';
}

// KeyValue list → Map key → value.
export function attrs(list) {
  const m = new Map();
  for (const kv of list || []) m.set(kv.key, anyValue(kv.value));
  return m;
}

// A value as display text.
export function showValue(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// An id as lowercase hex: Tempo's JSON writes ids base64, OTLP/JSON hex.
export function idHex(id) {
  if (!id) return '';
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  try {
    return Array.from(atob(id), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch (_) {
    return String(id);
  }
}

// Nanoseconds (string or number) as BigInt; 0n when absent.
export function nanos(v) {
  try { return BigInt(v || 0); } catch (_) { return 0n; }
}

// OTLP status → 'ok' | 'error' | 'unset' (enum names, numbers, or none).
export function statusOf(st) {
  const c = st && st.code;
  if (c === 1 || c === 'STATUS_CODE_OK') return 'ok';
  if (c === 2 || c === 'STATUS_CODE_ERROR') return 'error';
  return 'unset';
}

// /api/v2/traces/<id> ({trace:{resourceSpans}}), /api/traces/<id>
// ({batches}) or plain OTLP TracesData → {spans: [...]}, each span with
// hex ids, BigInt start/end ns, attrs Map, events [{name, timeNs, attrs}],
// status, statusMessage, resource Map.
export function normalizeTrace(doc) {
  const t = doc && doc.trace ? doc.trace : doc || {};
  const spans = [];
  for (const rs of t.resourceSpans || t.batches || []) {
    const resource = attrs(rs.resource && rs.resource.attributes);
    for (const ss of rs.scopeSpans || rs.instrumentationLibrarySpans || []) {
      for (const s of ss.spans || []) {
        spans.push({
          traceId: idHex(s.traceId),
          spanId: idHex(s.spanId),
          parentSpanId: idHex(s.parentSpanId),
          name: s.name || '',
          kind: String(s.kind || '').replace(/^SPAN_KIND_/, '').toLowerCase(),
          startNs: nanos(s.startTimeUnixNano),
          endNs: nanos(s.endTimeUnixNano),
          attrs: attrs(s.attributes),
          events: (s.events || []).map((e) => ({ name: e.name || '', timeNs: nanos(e.timeUnixNano), attrs: attrs(e.attributes) }))
            .sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0)),
          status: statusOf(s.status),
          statusMessage: (s.status && s.status.message) || '',
          resource,
        });
      }
    }
  }
  return { spans };
}

// requests.js — the HTTP requests Grafana 10/11's Tempo data source sends
// to Tempo, rebuilt here so a test can send exactly them to `extrace store`.
//
// Two senders in Grafana:
//  - the browser part (search, tags, tag values, metrics summary, echo,
//    buildinfo) calls `${instanceSettings.url}${path}?${params}` through
//    Grafana's data source proxy: parameters in the order the code lists
//    them, each encoded with encodeURIComponent; the proxy keeps the query
//    string, decodes the path once, drops cookies, Origin and Referer and
//    sets User-Agent Grafana/<version>;
//  - the Go backend (trace by id, TraceQL metrics) builds the URL with
//    net/url: parameters sorted by name, form-encoded (space as "+"),
//    Accept application/protobuf (traces) or application/json (metrics).
'use strict';

const GRAFANA_VERSION = '11.0.0';
const DEFAULT_LIMIT = 20; // the data source's defaults when a query sets none
const DEFAULT_SPSS = 3;

// Headers a request through the data source proxy arrives with.
function proxyHeaders() {
  return {
    Accept: 'application/json, text/plain, */*',
    'Accept-Encoding': 'gzip',
    'User-Agent': `Grafana/${GRAFANA_VERSION}`,
    'X-Grafana-Org-Id': '1',
    'X-Datasource-Uid': 'tempo',
    'X-Plugin-Id': 'tempo',
    'X-Forwarded-For': '127.0.0.1',
  };
}

// Headers of the backend's own HTTP client.
function backendHeaders(accept) {
  return { Accept: accept, 'Accept-Encoding': 'gzip', 'User-Agent': `Grafana/${GRAFANA_VERSION}` };
}

// The browser's query string: [key, value] pairs in order, encodeURIComponent.
function browserQuery(pairs) {
  const s = pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return s ? `?${s}` : '';
}

// Go's url.Values.Encode: sorted keys, QueryEscape (space → "+").
function goQuery(obj) {
  const esc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
  const s = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
    .map((k) => `${esc(k)}=${esc(String(obj[k]))}`).join('&');
  return s ? `?${s}` : '';
}

// One request: {path, headers} as it reaches Tempo.
const proxy = (path, pairs = []) => ({ path: path + browserQuery(pairs), headers: proxyHeaders() });
const backend = (path, obj, accept) => ({ path: path + goQuery(obj), headers: backendHeaders(accept) });

// A TraceQL or builder search (queryType traceql / traceqlSearch, streaming off).
function search(q, target, range) {
  return proxy('/api/search', [['q', q], ['limit', target.limit ?? DEFAULT_LIMIT], ['spss', target.spss ?? DEFAULT_SPSS],
    ['start', range.start], ['end', range.end]]);
}

// Trace by id: v2 first; v1 when v2 answers 404. The range is sent only
// when the data source shifts it (traceQuery.timeShiftEnabled); else 0/0,
// which the backend leaves out.
function traceById(id, version, range = { start: 0, end: 0 }) {
  const path = version === 1 ? `/api/traces/${id}` : `/api/v2/traces/${id}`;
  const params = range.start && range.end ? { start: range.start, end: range.end } : {};
  return backend(path, params, 'application/protobuf');
}

// Tag names (v2 first, then v1) and values. The browser encodes the tag
// twice, the proxy decodes it once: Tempo sees it encoded once.
const tagsV2 = () => proxy('/api/v2/search/tags');
const tagsV1 = () => proxy('/api/search/tags');
const tagValuesV2 = (tag, q) => proxy(`/api/v2/search/tag/${encodeURIComponent(tag)}/values`, q ? [['q', q]] : []);
const tagValuesV1 = (tag) => proxy(`/api/search/tag/${encodeURIComponent(tag)}/values`);

// Metrics summary ("Aggregate by" in the search builder).
const metricsSummary = (q, groupBy, range) =>
  proxy('/api/metrics/summary', [['q', q], ['groupBy', groupBy], ['start', range.start], ['end', range.end]]);

// A TraceQL metrics query (query_range; instant: /api/metrics/query).
function metricsQuery(target, range, instant = false) {
  const params = { q: target.query, start: range.start || undefined, end: range.end || undefined, step: target.step };
  if (target.exemplars !== undefined) params.exemplars = target.exemplars;
  return backend(instant ? '/api/metrics/query' : '/api/metrics/query_range', params, 'application/json');
}

const echo = () => proxy('/api/echo');
const buildinfo = () => proxy('/api/status/buildinfo');

// The search builder's query from a target's filters, as Grafana writes it:
// filters without tag, operator or value are left out; intrinsic tags (the
// "intrinsic" scope of /api/v2/search/tags) get no scope; strings are
// quoted, keywords and numbers are not; several values become an || group.
function queryFromFilters(filters, intrinsics) {
  const scope = (f) => (intrinsics.includes(f.tag) ? ''
    : `${['event', 'instrumentation', 'link', 'resource', 'span'].includes(f.scope) ? f.scope : ''}.`);
  const value = (f, v) => (f.valueType === 'string' ? `"${v}"` : `${v}`);
  const one = (f) => {
    const vs = Array.isArray(f.value) ? f.value : [f.value];
    if (vs.length > 1 && !['=~', '!~'].includes(f.operator)) return `(${vs.map((v) => `${scope(f)}${f.tag}${f.operator}${value(f, v)}`).join(' || ')})`;
    return `${scope(f)}${f.tag}${f.operator}${value(f, vs.length > 1 ? vs.join('|') : vs[0])}`;
  };
  return `{${(filters || []).filter((f) => f.tag && f.operator && f.value && f.value.length).map(one).join(' && ')}}`;
}

module.exports = {
  GRAFANA_VERSION, DEFAULT_LIMIT, DEFAULT_SPSS, search, traceById, tagsV2, tagsV1, tagValuesV2, tagValuesV1,
  metricsSummary, metricsQuery, echo, buildinfo, queryFromFilters, proxyHeaders, backendHeaders,
};

// grafana.test.js — Grafana's Tempo data source against a real `extrace store`.
//
//   EXTRACE_BIN=build/extrace node --test tests/browser/grafana.test.js
//
// 1. The provisioning files (deploy/grafana): the data source is uid
//    "tempo", name "Tempo", every dashboard (ours and the seed's, kept as
//    the fixture grafana/seed-workflows.json) reads it.
// 2. Every request Grafana 10/11 sends to Tempo (grafana/requests.js:
//    same path, parameters, encoding and headers), sent to a store holding
//    six workflows (3 OK, 2 failed, 1 timed out), each answer checked
//    against Tempo's documented shape and the ingested spans.
// 3. The seed's dashboard: its four panel queries, built as Grafana builds
//    them, answer with the ingested counts.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const protobuf = require('protobufjs');
const { sixWorkflows, otlpRequest, STAGES } = require('./fixtures.js');
const { startStore, sleep } = require('./store.js');
const G = require('./grafana/requests.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.EXTRACE_BIN || path.join(ROOT, 'build', 'extrace');
const DEPLOY = path.join(ROOT, 'deploy', 'grafana');
const SEED = path.join(__dirname, 'grafana', 'seed-workflows.json');
const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const dashboards = () => fs.readdirSync(path.join(DEPLOY, 'dashboards')).filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, dash: readJson(path.join(DEPLOY, 'dashboards', f)) }));

// Every data source reference in a dashboard (panels and targets).
function datasourceRefs(dash) {
  const refs = [];
  JSON.stringify(dash, (k, v) => { if (k === 'datasource' && v && v.type !== 'grafana') refs.push(v); return v; });
  return refs;
}

describe('Grafana provisioning', () => {
  const doc = YAML.parse(fs.readFileSync(path.join(DEPLOY, 'datasources', 'tempo.yaml'), 'utf8'));
  const ds = doc.datasources[0];

  it('data source: Tempo, uid "tempo", URL from EXTRACE_TEMPO_URL, streaming off', () => {
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.datasources.length, 1);
    assert.deepEqual([ds.type, ds.uid, ds.name, ds.access], ['tempo', 'tempo', 'Tempo', 'proxy']);
    assert.equal(ds.url, '${EXTRACE_TEMPO_URL}');
    assert.deepEqual(ds.jsonData.streamingEnabled, { search: false, metrics: false });
  });

  it('dashboard provider loads the dashboards folder', () => {
    const p = YAML.parse(fs.readFileSync(path.join(DEPLOY, 'dashboards', 'provider.yaml'), 'utf8')).providers[0];
    assert.equal(p.type, 'file');
    assert.equal(p.options.path, '/etc/grafana/provisioning/dashboards');
  });

  it("every dashboard, ours and the seed's, reads the provisioned data source", () => {
    for (const { file, dash } of [...dashboards(), { file: 'seed-workflows.json', dash: readJson(SEED) }]) {
      const refs = datasourceRefs(dash);
      assert.ok(refs.length > 0, `${file}: no data source reference`);
      // Server-side expressions (a ratio of two queries) name Grafana's own "__expr__".
      for (const r of refs) if (r.type !== '__expr__') assert.deepEqual(r, { type: 'tempo', uid: ds.uid }, `${file}`);
      const ids = dash.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids are unique`);
    }
  });

  it("the seed's dashboard fixture: Workflows, now-12h, 30 s, a table and three builder stats", () => {
    const d = readJson(SEED);
    assert.deepEqual([d.title, d.time.from, d.time.to, d.refresh], ['Workflows', 'now-12h', 'now', '30s']);
    const [table, ...stats] = d.panels;
    assert.equal(table.type, 'table');
    assert.deepEqual(table.targets.map((t) => [t.queryType, t.query, t.limit, t.tableType]), [['traceql',
      '{resource.service.name="Tracing.Worker" && name="Workflow"} | select(span.id, span.workflowId, span.startTime, span.endTime, status)',
      20, 'spans']]);
    assert.deepEqual(stats.map((p) => p.type), ['stat', 'stat', 'stat']);
    for (const p of stats) {
      assert.deepEqual(p.options.reduceOptions, { calcs: ['count'], fields: '/^Name$/', values: false }, p.title);
      assert.deepEqual(p.targets.map((t) => [t.queryType, t.limit, t.tableType]), [['traceqlSearch', 20, 'traces']], p.title);
    }
    const intrinsics = ['name', 'status'];
    assert.deepEqual(stats.map((p) => G.queryFromFilters(p.targets[0].filters, intrinsics)),
      ['{name="Workflow"}', '{name="Workflow" && status=ok}', '{name="Workflow" && status=error}']);
  });
});

// ---- answers ---------------------------------------------------------------

// GET a request from requests.js; {status, type, text, buf, json()}.
async function send(base, req) {
  const res = await fetch(base + req.path, { headers: req.headers });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') || '', buf, text: buf.toString('utf8'),
    json() { return JSON.parse(this.text); } };
}

// A JSON 200 answer, parsed.
async function sendJson(base, req) {
  const r = await send(base, req);
  assert.equal(r.status, 200, `${req.path}: ${r.status} ${r.text}`);
  assert.match(r.type, /^application\/json/, `${req.path}: content type`);
  return r.json();
}

const isDecimal = (s) => typeof s === 'string' && /^[0-9]+$/.test(s);
const isHex = (s, n) => typeof s === 'string' && new RegExp(`^[0-9a-f]{1,${n}}$`).test(s);

// Tempo's search answer (tempopb.SearchResponse as JSON), every field Grafana reads.
function checkSearchShape(body, where) {
  assert.ok(Array.isArray(body.traces), `${where}: traces`);
  for (const t of body.traces) {
    assert.ok(isHex(t.traceID, 32), `${where}: traceID ${t.traceID}`);
    assert.equal(typeof t.rootServiceName, 'string', `${where}: rootServiceName`);
    assert.equal(typeof t.rootTraceName, 'string', `${where}: rootTraceName`);
    assert.ok(isDecimal(t.startTimeUnixNano), `${where}: startTimeUnixNano is a decimal string`);
    assert.ok(t.durationMs === undefined || Number.isInteger(t.durationMs), `${where}: durationMs`);
    assert.ok(Array.isArray(t.spanSets) && t.spanSets.length > 0, `${where}: spanSets`);
    for (const ss of t.spanSets) {
      assert.ok(Number.isInteger(ss.matched) && ss.matched >= ss.spans.length, `${where}: matched`);
      for (const s of ss.spans) {
        assert.ok(isHex(s.spanID, 16), `${where}: spanID`);
        assert.ok(isDecimal(s.startTimeUnixNano) && isDecimal(s.durationNanos), `${where}: span times`);
        for (const a of s.attributes || []) assert.ok(typeof a.key === 'string' && a.value && typeof a.value === 'object', `${where}: attribute`);
      }
    }
  }
  assert.ok(body.metrics && typeof body.metrics === 'object', `${where}: metrics`);
}

// An attribute of a search span, by key.
function attr(span, key) {
  const kv = (span.attributes || []).find((a) => a.key === key);
  return kv && (kv.value.stringValue ?? kv.value.intValue ?? kv.value.boolValue);
}

// OTLP TracesData from the repository's OTLP protos; Tempo's wrappers by
// their field numbers (tempopb.Trace = TracesData on the wire;
// TraceByIDResponse: trace 1, metrics 2 {inspectedBytes 1}, status 3, message 4).
const otlpRoot = new protobuf.Root();
otlpRoot.resolvePath = (origin, target) => path.join(ROOT, 'proto', target);
otlpRoot.loadSync('opentelemetry/proto/trace/v1/trace.proto');
const TracesData = otlpRoot.lookupType('opentelemetry.proto.trace.v1.TracesData');
function decodeTraceByIdResponse(buf) {
  const r = protobuf.Reader.create(buf);
  const out = { trace: null, inspectedBytes: 0, status: 0, message: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
    case 1: out.trace = TracesData.decode(r.bytes()); break;
    case 2: { const m = protobuf.Reader.create(r.bytes()); while (m.pos < m.len) { const t = m.uint32(); if (t >>> 3 === 1) out.inspectedBytes = Number(m.uint64()); else m.skipType(t & 7); } break; }
    case 3: out.status = r.int32(); break;
    case 4: out.message = r.string(); break;
    default: r.skipType(tag & 7);
    }
  }
  return out;
}
const spansOf = (td) => td.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const hexOf = (b) => Buffer.from(b).toString('hex');

// Give the stages different durations (2 to 11 s), so quantiles differ.
function varyStageDurations(ws) {
  let n = 0;
  for (const w of ws) {
    for (const sp of w.spans) {
      if (sp.name === 'Workflow') continue;
      sp.endTimeUnixNano = String(BigInt(sp.startTimeUnixNano) + BigInt(2000 + 1000 * (n++ * 7 % 10)) * 1000000n);
    }
  }
}

// Whether Grafana sends q as a TraceQL metrics query (its own test).
const isMetricsQuery = (q) => /\|\s*(rate|count_over_time|avg_over_time|max_over_time|min_over_time|quantile_over_time|histogram_over_time|compare)\s*\(/.test(q);

// Tempo's QueryRangeResponse as JSON. Grafana 11.0 reads it with a strict
// jsonpb decoder: an unknown field anywhere fails the panel.
function checkQueryRangeShape(body, where, range, stepMs) {
  const only = (obj, keys, what) => {
    for (const k of Object.keys(obj)) assert.ok(keys.includes(k), `${where}: unknown field ${what}.${k} (Grafana's jsonpb refuses it)`);
  };
  only(body, ['series', 'metrics', 'status', 'message'], 'QueryRangeResponse');
  only(body.metrics || {}, ['inspectedTraces', 'inspectedBytes', 'totalBlocks', 'completedJobs', 'totalJobs', 'totalBlockBytes', 'inspectedSpans'], 'metrics');
  assert.ok(Array.isArray(body.series), `${where}: series`);
  const value = (kv) => {
    only(kv, ['key', 'value'], 'KeyValue');
    const v = Object.keys(kv.value);
    assert.equal(v.length, 1, `${where}: one AnyValue field`);
    assert.ok(['stringValue', 'intValue', 'doubleValue', 'boolValue'].includes(v[0]), `${where}: AnyValue ${v[0]}`);
  };
  for (const s of body.series) {
    only(s, ['labels', 'samples', 'promLabels', 'exemplars'], 'TimeSeries');
    s.labels.forEach(value);
    for (const smp of s.samples) {
      only(smp, ['timestampMs', 'value'], 'Sample');
      assert.ok(isDecimal(smp.timestampMs), `${where}: timestampMs is an int64 string`);
      const t = Number(smp.timestampMs);
      assert.ok(t >= range.start * 1000 - stepMs && t <= range.end * 1000, `${where}: sample at ${t} outside the range`);
      assert.equal(t % stepMs, 0, `${where}: sample at ${t} is not on a ${stepMs} ms step`);
      assert.ok(typeof smp.value === 'number' || smp.value === 'NaN', `${where}: sample value`);
    }
    for (const x of s.exemplars || []) {
      only(x, ['labels', 'value', 'timestampMs'], 'Exemplar');
      x.labels.forEach(value);
    }
  }
}

const labelOf = (s, key) => {
  const kv = s.labels.find((l) => l.key === key);
  return kv && (kv.value.stringValue ?? kv.value.doubleValue ?? kv.value.intValue);
};
const sum = (s) => s.samples.reduce((a, x) => a + Number(x.value), 0);
const stepMsOf = (step) => { const m = /^(\d+)(s|m|h)$/.exec(step); return Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3 }[m[2]]; };

describe('Grafana requests against extrace store', () => {
  let store, workflows, range;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    assert.ok(fs.existsSync(BIN), `extrace binary ${BIN} not found (set EXTRACE_BIN)`);
    store = await startStore(BIN);
    workflows = sixWorkflows(Date.now());
    varyStageDurations(workflows);
    // A tag name a URL path must escape (Grafana sends it as http%2Froute).
    workflows[0].spans[0].attributes.push({ key: 'http/route', value: { stringValue: 'GET /x' } });
    const res = await fetch(`${store.otlp}/v1/traces`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(otlpRequest(workflows, 'demo')),
    });
    assert.equal(res.status, 200, `OTLP/HTTP JSON export: ${res.status} ${await res.text()}`);
    range = { start: now() - 12 * 3600, end: now() + 1 }; // the seed dashboard's now-12h
    for (let i = 0; i < 100; i++) {
      const b = await sendJson(store.base, G.search('{name="Workflow"}', {}, range));
      if (b.traces.length === 6) return;
      await sleep(100);
    }
    assert.fail('the six workflows never became searchable');
  });

  after(async () => {
    if (!store) return;
    const exit = await store.stop();
    assert.equal(exit, 0, 'extrace store exit on SIGTERM');
  });

  it('buildinfo: Tempo\'s fields; a semantic version Grafana compares', async () => {
    const b = await sendJson(store.base, G.buildinfo());
    for (const k of ['version', 'revision', 'branch', 'buildDate', 'buildUser', 'goVersion']) assert.equal(typeof b[k], 'string', k);
    assert.match(b.version, /^\d+\.\d+\.\d+/);
  });

  it('echo (the data source\'s "Save & test")', async () => {
    const r = await send(store.base, G.echo());
    assert.deepEqual([r.status, r.text], [200, 'echo']);
  });

  it('tag names v2: scopes, with the intrinsics the search builder needs', async () => {
    const b = await sendJson(store.base, G.tagsV2());
    const scopes = Object.fromEntries(b.scopes.map((s) => [s.name, s.tags]));
    for (const s of b.scopes) assert.ok(typeof s.name === 'string' && Array.isArray(s.tags), 'scope shape');
    assert.ok(scopes.resource.includes('service.name'));
    assert.ok(scopes.span.includes('workflowId'));
    for (const t of ['name', 'status', 'duration', 'statusMessage', 'kind']) assert.ok(scopes.intrinsic.includes(t), `intrinsic ${t}`);
  });

  it('tag names v1', async () => {
    const b = await sendJson(store.base, G.tagsV1());
    assert.ok(Array.isArray(b.tagNames) && b.tagNames.every((t) => typeof t === 'string'));
    for (const t of ['service.name', 'workflowId', 'startTime']) assert.ok(b.tagNames.includes(t), t);
  });

  it('tag values v2: typed values, narrowed by the builder\'s other filters', async () => {
    let b = await sendJson(store.base, G.tagValuesV2('resource.service.name', '{name="Workflow"}'));
    assert.deepEqual(b.tagValues, [{ type: 'string', value: 'Tracing.Worker' }]);
    b = await sendJson(store.base, G.tagValuesV2('status'));
    assert.ok(b.tagValues.every((v) => v.type === 'keyword'));
    assert.deepEqual(b.tagValues.map((v) => v.value).filter((v) => v !== 'unset').sort(), ['error', 'ok']);
    b = await sendJson(store.base, G.tagValuesV2('name', '{resource.service.name="Tracing.Worker"}'));
    assert.deepEqual(b.tagValues.map((v) => v.value).sort(), [...STAGES, 'Workflow'].sort());
    b = await sendJson(store.base, G.tagValuesV2('span.http/route'));
    assert.deepEqual(b.tagValues, [{ type: 'string', value: 'GET /x' }]);
    b = await sendJson(store.base, G.tagValuesV2('span.workflowId', '{status=error}'));
    assert.deepEqual(b.tagValues.map((v) => v.value).sort(), workflows.filter((w) => w.result !== 'ok').map((w) => w.workflowId).sort());
  });

  it('tag values v1', async () => {
    let b = await sendJson(store.base, G.tagValuesV1('service.name'));
    assert.deepEqual(b.tagValues, ['Tracing.Worker']);
    b = await sendJson(store.base, G.tagValuesV1('http/route'));
    assert.deepEqual(b.tagValues, ['GET /x']);
    b = await sendJson(store.base, G.tagValuesV1('workflowId'));
    assert.deepEqual(b.tagValues.slice().sort(), workflows.map((w) => w.workflowId).sort());
  });

  it('TraceQL search from Explore (limit 20, spss 3): Tempo\'s shape, every workflow', async () => {
    const b = await sendJson(store.base, G.search('{resource.service.name="Tracing.Worker" && status=error}', {}, range));
    checkSearchShape(b, 'search');
    const want = workflows.filter((w) => w.result !== 'ok');
    assert.deepEqual(b.traces.map((t) => t.traceID).sort(), want.map((w) => w.traceId).sort());
    for (const t of b.traces) assert.equal(t.rootTraceName, 'Workflow');
    // A bad query is a 400 whose text Grafana shows.
    const r = await send(store.base, G.search('{name=}', {}, range));
    assert.equal(r.status, 400);
    assert.match(r.text, /position/);
  });

  it('trace by id: v2 and v1, protobuf (as Grafana\'s backend asks) and JSON, with and without a range', async () => {
    const w = workflows[1];
    for (const rng of [undefined, range]) {
      const v2 = await send(store.base, G.traceById(w.traceId, 2, rng));
      assert.equal(v2.status, 200, `v2: ${v2.text}`);
      assert.match(v2.type, /^application\/protobuf/);
      const resp = decodeTraceByIdResponse(v2.buf);
      assert.equal(resp.status, 0, 'COMPLETE');
      assert.ok(resp.inspectedBytes > 0);
      const spans = spansOf(resp.trace);
      assert.deepEqual(spans.map((s) => s.name).sort(), w.spans.map((s) => s.name).sort());
      for (const s of spans) assert.equal(hexOf(s.traceId), w.traceId);

      const v1 = await send(store.base, G.traceById(w.traceId, 1, rng));
      assert.equal(v1.status, 200);
      assert.equal(spansOf(TracesData.decode(v1.buf)).length, w.spans.length);
    }
    // JSON (no Accept: protobuf): v1 under "batches", v2 under "trace", ids base64.
    const j1 = await sendJson(store.base, { path: `/api/traces/${w.traceId}`, headers: {} });
    assert.equal(j1.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans)).length, w.spans.length);
    const j2 = await sendJson(store.base, { path: `/api/v2/traces/${w.traceId}`, headers: {} });
    const root = j2.trace.resourceSpans.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans)).find((s) => s.name === 'Workflow');
    assert.equal(Buffer.from(root.traceId, 'base64').toString('hex'), w.traceId);
    // Unknown id: 404 on v2 and on v1 (Grafana then reports "failed to get trace").
    for (const v of [2, 1]) assert.equal((await send(store.base, G.traceById('0123456789abcdef0123456789abcdef', v))).status, 404);
  });

  it('metrics summary ("Aggregate by"): span and error counts and percentiles per group', async () => {
    const spans = workflows.flatMap((w) => w.spans);
    const nanos = (sp) => Number(BigInt(sp.endTimeUnixNano) - BigInt(sp.startTimeUnixNano));
    // The builder's filters {resource.service.name="Tracing.Worker"}, grouped by the intrinsic name.
    const b = await sendJson(store.base, G.metricsSummary('{resource.service.name="Tracing.Worker"}', 'name', range));
    assert.ok(Array.isArray(b.summaries) && b.summaries.length > 0, 'summaries');
    const names = [];
    for (const sm of b.summaries) {
      assert.ok(isDecimal(sm.spanCount), 'spanCount is a uint64 string');
      assert.ok(sm.errorSpanCount === undefined || isDecimal(sm.errorSpanCount), 'errorSpanCount');
      for (const k of ['p50', 'p90', 'p95', 'p99']) assert.ok(isDecimal(sm[k]), `${k} in nanoseconds`);
      assert.equal(sm.series.length, 1, 'one series entry per groupBy field');
      const [{ key, value }] = sm.series;
      assert.deepEqual([key, value.type], ['name', 5]);
      names.push(value.s);
      const mine = spans.filter((sp) => sp.name === value.s);
      assert.equal(Number(sm.spanCount), mine.length, `spans named ${value.s}`);
      assert.equal(Number(sm.errorSpanCount || 0), mine.filter((sp) => sp.status.code === 2).length, `errors of ${value.s}`);
      const d = mine.map(nanos);
      const ps = ['p50', 'p90', 'p95', 'p99'].map((k) => Number(sm[k]));
      for (const v of ps) assert.ok(v >= Math.min(...d) && v <= Math.max(...d), `${value.s}: ${v} ns outside the durations`);
      assert.deepEqual(ps, [...ps].sort((x, y) => x - y), `${value.s}: p50 ≤ p90 ≤ p95 ≤ p99`);
    }
    assert.deepEqual(names.sort(), [...STAGES, 'Workflow'].sort());
    // A scoped attribute, as formatGroupBy writes it.
    const byNs = await sendJson(store.base, G.metricsSummary('{name="Workflow"}', 'resource.service.namespace', range));
    assert.deepEqual(byNs.summaries.map((sm) => [sm.series[0].key, sm.series[0].value.s, Number(sm.spanCount)]),
      [['resource.service.namespace', 'demo', workflows.length]]);
  });

  it('TraceQL metrics from Explore: rate() by (status) with exemplars, and the instant query', async () => {
    const target = { query: '{name="Workflow"} | rate() by (status)', step: '60s', exemplars: 100 };
    const b = await sendJson(store.base, G.metricsQuery(target, range));
    checkQueryRangeShape(b, 'rate', range, 60000);
    // rate = spans per second of each step: times 60 s, the counts.
    const total = (st) => b.series.filter((s) => labelOf(s, 'status') === st).reduce((a, s) => a + sum(s) * 60, 0);
    assert.ok(Math.abs(total('ok') - 3) < 1e-9 && Math.abs(total('error') - 3) < 1e-9, `rate totals ${total('ok')}, ${total('error')}`);
    const traceIds = b.series.flatMap((s) => (s.exemplars || []).map((x) => x.labels.find((l) => l.key === 'trace:id')));
    assert.ok(traceIds.length > 0 && traceIds.every((kv) => workflows.some((w) => w.traceId === kv.value.stringValue)), 'exemplars name ingested traces');
    // The instant form (Grafana 11.3+: metricsQueryType instant).
    const inst = await sendJson(store.base, G.metricsQuery({ query: '{name="Workflow"} | count_over_time() by (status)' }, range, true));
    assert.deepEqual(inst.series.map((s) => [labelOf(s, 'status'), s.value]).sort(), [['error', 3], ['ok', 3]]);
    // A bad query: 400 naming the position (Grafana shows the body).
    const r = await send(store.base, G.metricsQuery({ query: '{name="Workflow"} | rates()', step: '60s' }, range));
    assert.equal(r.status, 400);
    assert.match(r.text, /position/);
  });

  it('our Workflows dashboard: each panel\'s query answers with the ingested counts', async () => {
    const d = readJson(path.join(DEPLOY, 'dashboards', 'workflows.json'));
    const want = { Total: 6, OK: 3, Failed: 3, 'Timed out': 1, Workflows: 6 };
    assert.deepEqual(d.panels.map((p) => p.title).sort(), Object.keys(want).sort());
    for (const p of d.panels) {
      const t = p.targets[0];
      const b = await sendJson(store.base, G.search(t.query, t, range));
      checkSearchShape(b, p.title);
      assert.equal(b.traces.length, want[p.title], `panel ${p.title}: ${t.query}`);
    }
  });

  it("the seed dashboard's four panels, built as Grafana builds them, count what was ingested", async () => {
    const d = readJson(SEED);
    const tags = await sendJson(store.base, G.tagsV2());
    const intrinsics = tags.scopes.find((s) => s.name === 'intrinsic').tags;
    const byStatus = (r) => workflows.filter((w) => (r === 'ok' ? w.result === 'ok' : r === 'error' ? w.result !== 'ok' : true)).length;
    const want = { 'Total Workflows': byStatus(), 'OK Workflows': byStatus('ok'), 'Failed Workflows': byStatus('error') };
    assert.deepEqual(Object.values(want), [6, 3, 3]);
    for (const p of d.panels) {
      const t = p.targets[0];
      const q = t.queryType === 'traceqlSearch' ? G.queryFromFilters(t.filters, intrinsics) : t.query;
      const b = await sendJson(store.base, G.search(q, t, range));
      checkSearchShape(b, p.title);
      if (p.type === 'stat') {
        // tableType traces: one row per trace; the stat counts the Name column.
        assert.equal(b.traces.length, want[p.title], `${p.title}: ${q}`);
        assert.ok(b.traces.every((tr) => tr.rootTraceName === 'Workflow'));
        continue;
      }
      // The table (tableType spans): one row per matched span, with the selected attributes.
      const rows = b.traces.flatMap((tr) => tr.spanSets.flatMap((ss) => ss.spans));
      assert.equal(rows.length, workflows.length);
      for (const w of workflows) {
        const row = rows.find((s) => attr(s, 'workflowId') === w.workflowId);
        assert.ok(row, `row of ${w.workflowId}`);
        assert.equal(attr(row, 'status'), w.result === 'ok' ? 'ok' : 'error');
        assert.ok(attr(row, 'startTime'), 'startTime');
        assert.equal(Boolean(attr(row, 'endTime')), w.result !== 'timeout', 'endTime only once ended');
      }
    }
  });
  it('Workflow analytics: every panel query, sent as Grafana sends it, answers from the ingested spans', async () => {
    const d = readJson(path.join(DEPLOY, 'dashboards', 'workflow-analytics.json'));
    assert.equal(d.title, 'Workflow analytics');
    const spans = workflows.flatMap((w) => w.spans);
    const stages = spans.filter((sp) => sp.name !== 'Workflow');
    const secs = (sp) => Number(BigInt(sp.endTimeUnixNano) - BigInt(sp.startTimeUnixNano)) / 1e9;
    const failedStages = (name) => stages.filter((sp) => sp.name === name && sp.status.code === 2).length;
    const answers = {};
    for (const p of d.panels) {
      for (const t of p.targets) {
        const where = `${p.title} ${t.refId}`;
        if (t.datasource.type === '__expr__') { // computed by Grafana from the other targets: checked below
          answers[where] = t;
          continue;
        }
        if (!isMetricsQuery(t.query)) { // the slowest-workflows table: a search
          const b = await sendJson(store.base, G.search(t.query, t, range));
          checkSearchShape(b, where);
          answers[where] = b;
          continue;
        }
        const r = await send(store.base, G.metricsQuery(t, range));
        assert.equal(r.status, 200, `${where}: ${r.status} ${r.text}`);
        assert.match(r.type, /^application\/json/);
        const b = r.json();
        checkQueryRangeShape(b, where, range, stepMsOf(t.step));
        assert.ok(b.series.length > 0, `${where}: no series`);
        answers[where] = b;
      }
    }
    // Started and failed per minute: every workflow, the three with status ERROR.
    const [started, failed] = ['A', 'B'].map((id) => answers[`Workflows started and failed per minute ${id}`].series);
    assert.equal(started.reduce((a, s) => a + sum(s), 0), workflows.length);
    assert.equal(failed.reduce((a, s) => a + sum(s), 0), workflows.filter((w) => w.result !== 'ok').length);
    // Failure rate per stage: C = $A / $B, Grafana's math expression, which
    // divides each series of A by the series of B with the same labels
    // (the stage name), step by step. A: failed stages, B: all stages.
    const ratio = d.panels.find((p) => p.title === 'Failure rate per stage');
    assert.deepEqual(ratio.targets.map((t) => [t.refId, Boolean(t.hide)]), [['A', true], ['B', true], ['C', false]]);
    const expr = answers['Failure rate per stage C'];
    assert.deepEqual([expr.type, expr.expression, expr.datasource], ['math', '$A / $B', { type: '__expr__', uid: '__expr__' }]);
    assert.equal(ratio.fieldConfig.defaults.unit, 'percentunit');
    const failedBy = answers['Failure rate per stage A'].series, allBy = answers['Failure rate per stage B'].series;
    for (const s of failedBy) assert.equal(sum(s), failedStages(labelOf(s, 'name')), `failures of ${labelOf(s, 'name')}`);
    assert.deepEqual(failedBy.map((s) => labelOf(s, 'name')).sort(), STAGES.filter((n) => failedStages(n) > 0).sort());
    assert.deepEqual(allBy.map((s) => labelOf(s, 'name')).sort(), [...new Set(stages.map((sp) => sp.name))].sort());
    const minuteOf = (sp) => Number(BigInt(sp.startTimeUnixNano) / 60000000000n) * 60000;
    let ratios = 0;
    for (const a of failedBy) {
      const name = labelOf(a, 'name');
      const b = allBy.find((x) => labelOf(x, 'name') === name);
      assert.ok(b, `${name}: a series of all stages to divide by`);
      for (const smp of a.samples) {
        const den = b.samples.find((x) => x.timestampMs === smp.timestampMs);
        const t = Number(smp.timestampMs), inMin = stages.filter((sp) => sp.name === name && minuteOf(sp) === t);
        if (!inMin.length) continue; // no stage started then: B has no count, the ratio no point
        assert.ok(den, `${name} at ${t}: B has the minute`);
        const want = inMin.filter((sp) => sp.status.code === 2).length / inMin.length;
        assert.ok(Math.abs(Number(smp.value) / Number(den.value) - want) < 1e-12, `${name} at ${t}: ${smp.value}/${den.value}, want ${want}`);
        ratios++;
      }
    }
    assert.ok(ratios > 0, 'some minute has a failure rate');
    // Quantiles: every stage × p50, p90, p99; p50 ≤ p90 ≤ p99 at each step.
    // Whole minutes by name and service: the store answers from its
    // per-minute counts, as Tempo does from log2 buckets — each value is
    // the upper bound of a bucket (2^k ns) between those of the stage's
    // shortest and longest duration.
    const bucketBound = (secsValue) => { let b = 2; while (b < secsValue * 1e9 - 1e-3) b *= 2; return b / 1e9; };
    const q = answers['Stage duration p50 / p90 / p99 A'].series;
    assert.equal(q.length, STAGES.length * 3);
    const at = {};
    for (const s of q) {
      const name = labelOf(s, 'name'), p = Number(labelOf(s, 'p'));
      assert.ok([0.5, 0.9, 0.99].includes(p), `quantile label p=${p}`);
      const d = stages.filter((sp) => sp.name === name).map(secs);
      for (const smp of s.samples) {
        const v = Number(smp.value);
        const lo = bucketBound(Math.min(...d)), hi = bucketBound(Math.max(...d));
        assert.ok(Math.abs(bucketBound(v) - v) < 1e-12, `${name} p${p} = ${v}: not a bucket bound`);
        assert.ok(v >= lo - 1e-9 && v <= hi + 1e-9, `${name} p${p} = ${v} outside [${lo}, ${hi}]`);
        (at[`${name} ${smp.timestampMs}`] ||= []).push([p, v]);
      }
    }
    for (const [k, vs] of Object.entries(at)) {
      const sorted = vs.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
      assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b), `${k}: p50 ≤ p90 ≤ p99`);
    }
    // Slowest workflows: every workflow, the longest one's duration on top once sorted.
    const rows = answers['Slowest workflows A'].traces.flatMap((tr) => tr.spanSets.flatMap((ss) => ss.spans));
    assert.equal(rows.length, workflows.length);
    const longest = Math.max(...workflows.map((w) => secs(w.spans.find((sp) => sp.name === 'Workflow'))));
    assert.equal(Math.max(...rows.map((sp) => Number(sp.durationNanos) / 1e9)), longest);
  });
});

#!/usr/bin/env node
// send.js — make workflow-shaped traces with the OpenTelemetry JS SDK and
// export them with one of its OTLP exporters, recording which exports the
// receiver acknowledged.
//
//   node send.js --protocol grpc|proto|http --endpoint URL [--tenant T]
//                [--count N] [--batch K] [--compression gzip|none]
//                [--out FILE] [--keep-going] [--repeat R] [--seed S]
//
// Each trace is a "Workflow" root span with three stage children
// (DataLoader, Processor, OutputGenerator) carrying the seed's attributes,
// status-change events and status (every fifth workflow fails in its
// Processor). Traces are exported K at a time by calling the exporter
// directly, so each export's outcome is known. For every acknowledged
// export one JSON line is appended to FILE:
//   {"traces":[{"traceId":"…","spans":[{"spanId","parentSpanId","name","status","attributes","events"}]}]}
// With --repeat R each batch is exported R times (a re-send of the very
// same spans, as an exporter's retry would do); it counts as acknowledged
// once all R succeeded. A failed export stops the run (or is counted and skipped with
// --keep-going). stdout gets a summary: {"exported":N,"failed":M,"spans":S}.
// Exit status 0 when every export succeeded, 1 otherwise.
'use strict';

const fs = require('fs');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { rng, uuid, makeTrace } = require('./workflow');

function parseArgs(argv) {
  const o = { protocol: 'grpc', endpoint: '', tenant: '', count: 10, batch: 5, compression: 'none', out: '',
              keepGoing: false, repeat: 1, seed: 1 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a}: missing value`);
      return argv[++i];
    };
    if (a === '--protocol') o.protocol = next();
    else if (a === '--endpoint') o.endpoint = next();
    else if (a === '--tenant') o.tenant = next();
    else if (a === '--count') o.count = parseInt(next(), 10);
    else if (a === '--batch') o.batch = parseInt(next(), 10);
    else if (a === '--compression') o.compression = next();
    else if (a === '--out') o.out = next();
    else if (a === '--keep-going') o.keepGoing = true;
    else if (a === '--seed') o.seed = parseInt(next(), 10);
    else if (a === '--repeat') o.repeat = parseInt(next(), 10);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!['grpc', 'proto', 'http'].includes(o.protocol)) throw new Error(`--protocol ${o.protocol}: grpc, proto or http`);
  if (!o.endpoint) throw new Error('--endpoint is required');
  if (!(o.count > 0) || !(o.batch > 0) || !(o.repeat > 0))
    throw new Error('--count, --batch and --repeat must be positive integers');
  return o;
}

function makeExporter(o) {
  const common = { timeoutMillis: 3000, compression: o.compression === 'gzip' ? 'gzip' : 'none' };
  if (o.protocol === 'grpc') {
    const grpc = require('@grpc/grpc-js');
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
    const metadata = new grpc.Metadata();
    if (o.tenant) metadata.set('x-scope-orgid', o.tenant);
    return new OTLPTraceExporter({ ...common, url: o.endpoint, metadata });
  }
  const headers = o.tenant ? { 'X-Scope-OrgID': o.tenant } : {};
  const mod = o.protocol === 'proto' ? '@opentelemetry/exporter-trace-otlp-proto'
                                     : '@opentelemetry/exporter-trace-otlp-http';
  const { OTLPTraceExporter } = require(mod);
  return new OTLPTraceExporter({ ...common, url: o.endpoint, headers });
}

function describe(spans) {
  const byTrace = new Map();
  for (const s of spans) {
    const ctx = s.spanContext();
    if (!byTrace.has(ctx.traceId)) byTrace.set(ctx.traceId, []);
    byTrace.get(ctx.traceId).push({
      spanId: ctx.spanId,
      parentSpanId: s.parentSpanContext ? s.parentSpanContext.spanId : '',
      name: s.name,
      status: s.status.code,
      attributes: Object.keys(s.attributes).length,
      events: s.events.length,
    });
  }
  return [...byTrace].map(([traceId, list]) => ({ traceId, spans: list }));
}

function exportBatch(exporter, spans) {
  return new Promise((resolve) => exporter.export(spans, (res) => resolve(res)));
}

async function main() {
  const o = parseArgs(process.argv);
  const finished = [];
  const collector = {
    onStart() {}, onEnd(span) { finished.push(span); },
    forceFlush() { return Promise.resolve(); }, shutdown() { return Promise.resolve(); },
  };
  const resource = resourceFromAttributes({
    'service.name': 'Tracing.Worker', 'service.version': '1.0.0',
    'service.namespace': o.tenant || 'dev1', 'service.instance.id': uuid(rng(o.seed + 1000)),
  });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [collector] });
  const tracer = provider.getTracer('sample-tracing', '1.0.0');
  const exporter = makeExporter(o);
  const r = rng(o.seed);
  // Workflows start 10 ms apart, ending well within the store's default
  // retention (24 h) and before now.
  const baseMs = Date.now() - o.count * 10 - 2 * 3600 * 1000;
  let exported = 0, failed = 0, spans = 0;
  for (let i = 0; i < o.count; i += o.batch) {
    finished.length = 0;
    for (let k = i; k < Math.min(o.count, i + o.batch); k++) makeTrace(tracer, r, k, baseMs);
    const batch = finished.slice();
    let res = { code: 0 };
    for (let k = 0; k < o.repeat && res.code === 0; k++) res = await exportBatch(exporter, batch);
    if (res.code === 0) {
      exported += Math.min(o.count, i + o.batch) - i;
      spans += batch.length;
      if (o.out) fs.appendFileSync(o.out, JSON.stringify({ traces: describe(batch) }) + '\n');
    } else {
      failed++;
      process.stderr.write(`export ${i / o.batch} failed: ${res.error ? res.error.message : 'unknown'}\n`);
      if (!o.keepGoing) break;
    }
  }
  await exporter.shutdown().catch(() => {});
  process.stdout.write(JSON.stringify({ exported, failed, spans }) + '\n');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`send.js: ${e.message}\n`);
  process.exitCode = 2;
});

#!/usr/bin/env node
// load.js — load generator for bench/store.sh: sends N spans of
// workflow-shaped traces as fast as the receiver takes them.
//
//   node load.js --endpoint URL --spans N [--protocol http|grpc]
//                [--traces-per-request K] [--concurrency C] [--tenant T]
//                [--ids FILE] [--sample S]
//
// K traces are made once with the OpenTelemetry JS SDK (workflow.js) and
// serialized once with its protobuf serializer (the bytes the
// http/protobuf exporter sends). Every request is a copy of those bytes
// with the trace ids, the workflow and stage ids (first 8 hex digits) and
// all timestamps rewritten in place, so each request carries new traces and the sender spends its time on I/O, not
// on encoding. For --protocol grpc the same message goes through
// @grpc/grpc-js as a unary Export call; for http it is POSTed as
// application/x-protobuf. C requests are kept in flight.
// stdout: {"spans":…,"requests":…,"seconds":…,"spansPerSecond":…}.
// --ids FILE gets S trace ids (hex, one per line) spread over the run.
'use strict';

const fs = require('fs');
const http = require('http');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { rng, uuid, makeTrace } = require('./workflow');

function parseArgs(argv) {
  const o = { endpoint: '', spans: 100000, protocol: 'http', perRequest: 128, concurrency: 4, tenant: '',
              ids: '', sample: 1000 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a}: missing value`);
    if (a === '--endpoint') o.endpoint = v;
    else if (a === '--spans') o.spans = parseInt(v, 10);
    else if (a === '--protocol') o.protocol = v;
    else if (a === '--traces-per-request') o.perRequest = parseInt(v, 10);
    else if (a === '--concurrency') o.concurrency = parseInt(v, 10);
    else if (a === '--tenant') o.tenant = v;
    else if (a === '--ids') o.ids = v;
    else if (a === '--sample') o.sample = parseInt(v, 10);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.endpoint) throw new Error('--endpoint is required');
  if (!['http', 'grpc'].includes(o.protocol)) throw new Error(`--protocol ${o.protocol}: http or grpc`);
  return o;
}

const toNs = (hr) => BigInt(hr[0]) * 1000000000n + BigInt(hr[1]);

// Offsets in buf of every occurrence of needle.
function offsetsOf(buf, needle) {
  const out = [];
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) out.push(at);
  return out;
}

// The template request and where its trace ids and timestamps sit.
function template(o) {
  const spans = [];
  const collector = { onStart() {}, onEnd(s) { spans.push(s); }, forceFlush: async () => {}, shutdown: async () => {} };
  const resource = resourceFromAttributes({
    'service.name': 'Tracing.Worker', 'service.version': '1.0.0', 'service.namespace': 'dev1',
    'service.instance.id': uuid(rng(7)),
  });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [collector] });
  const tracer = provider.getTracer('sample-tracing', '1.0.0');
  const r = rng(42);
  const base = Date.now() - 3 * 3600 * 1000;
  for (let k = 0; k < o.perRequest; k++) makeTrace(tracer, r, k, base);
  const buf = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans));
  const traceIds = [...new Set(spans.map((s) => s.spanContext().traceId))];
  const idOffsets = traceIds.map((id) => offsetsOf(buf, Buffer.from(id, 'hex')));
  const times = new Set();
  for (const s of spans) {
    times.add(toNs(s.startTime));
    times.add(toNs(s.endTime));
    for (const e of s.events) times.add(toNs(e.time));
  }
  const uuids = new Set();
  for (const s of spans)
    for (const v of Object.values(s.attributes)) if (/^[0-9a-f]{8}-[0-9a-f-]{27}$/.test(v)) uuids.add(v);
  const uuidOffsets = [];
  for (const u of uuids) uuidOffsets.push(...offsetsOf(buf, Buffer.from(u, 'latin1')));
  const timeOffsets = [];
  for (const t of times) {
    const le = Buffer.alloc(8);
    le.writeBigUInt64LE(t);
    for (const at of offsetsOf(buf, le)) timeOffsets.push([at, t]);
  }
  return { buf, spans: spans.length, traceIds, idOffsets, uuidOffsets, timeOffsets };
}

// Request n: new trace ids (request number in bytes 0..3), uuids starting
// with n in hex, times shifted by n * K * 10 ms.
function request(t, n, o) {
  const b = Buffer.from(t.buf);
  const ids = [];
  for (let k = 0; k < t.idOffsets.length; k++) {
    for (const at of t.idOffsets[k]) b.writeUInt32BE(n >>> 0, at);
    ids.push(b.subarray(t.idOffsets[k][0], t.idOffsets[k][0] + 16).toString('hex'));
  }
  const tag = (n >>> 0).toString(16).padStart(8, '0');
  for (const at of t.uuidOffsets) b.write(tag, at, 'latin1');
  const shift = BigInt(n) * BigInt(o.perRequest) * 10000000n;
  for (const [at, v] of t.timeOffsets) b.writeBigUInt64LE(v + shift, at);
  return { body: b, ids };
}

function httpSender(o) {
  const url = new URL(o.endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const headers = { 'Content-Type': 'application/x-protobuf' };
  if (o.tenant) headers['X-Scope-OrgID'] = o.tenant;
  return (body) => new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { ...headers, 'Content-Length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function grpcSender(o) {
  const grpc = require('@grpc/grpc-js');
  const target = o.endpoint.replace(/^https?:\/\//, '');
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (o.tenant) md.set('x-scope-orgid', o.tenant);
  const id = (b) => b;
  const path = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
  return (body) => new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, id, id, body, md, (err) => (err ? reject(err) : resolve()));
  });
}

async function main() {
  const o = parseArgs(process.argv);
  const t = template(o);
  const send = o.protocol === 'grpc' ? grpcSender(o) : httpSender(o);
  const requests = Math.ceil(o.spans / t.spans);
  const every = Math.max(1, Math.floor(requests / Math.max(1, Math.ceil(o.sample / t.traceIds.length))));
  const sampled = [];
  let next = 0;
  const started = process.hrtime.bigint();
  async function worker() {
    while (next < requests) {
      const n = next++;
      const { body, ids } = request(t, n, o);
      if (n % every === 0) sampled.push(...ids);
      await send(body);
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (o.ids) fs.writeFileSync(o.ids, sampled.slice(0, o.sample).join('\n') + '\n');
  const spans = requests * t.spans;
  process.stdout.write(JSON.stringify({ spans, requests, seconds: +seconds.toFixed(3),
    spansPerSecond: Math.round(spans / seconds), bytesPerRequest: t.buf.length }) + '\n');
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`load.js: ${e.message}\n`);
  process.exit(1);
});

#!/usr/bin/env node
// receiver.js — an OTLP trace receiver for extrace's integration tests.
//
//   node receiver.js --grpc-port P --http-port Q --out FILE
//                    [--fail-first N --fail-mode MODE] [--delay-ms D]
//
// Serves OTLP/gRPC (@grpc/grpc-js, TraceService/Export, gzip accepted) and
// OTLP/HTTP (POST /v1/traces; protobuf or JSON by Content-Type; gzip by
// Content-Encoding) on 127.0.0.1. Protobuf is decoded with the protobufjs
// static definitions that ship inside @opentelemetry/otlp-transformer, so
// nothing here depends on extrace's own .proto files. OTLP/JSON is parsed
// by the rules of the OTLP specification (hex ids, integer enums, 64-bit
// integers as decimal strings or numbers, lowerCamelCase keys only).
//
// Each span of each accepted request becomes one JSON line in FILE:
//   {"protocol":"grpc|http/protobuf|http/json","encoding":"gzip|identity",
//    "request":<n>,"traceId":hex,"spanId":hex,"parentSpanId":hex|"",
//    "name","kind":int,"startTimeUnixNano":"…","endTimeUnixNano":"…",
//    "attributes":{k:v},"events":[{"name","timeUnixNano","attributes"}],
//    "status":{"code":int,"message"},"flags":int,
//    "links":[{"traceId":hex,"spanId":hex,"flags":int}],"resource":{k:v},
//    "scope":{"name","version"}}
// Attribute values keep their OTLP type: strings and booleans as JSON
// strings and booleans, int_value as {"int":"<decimal>"}, double_value as
// {"double":<number>}, bytes as {"bytes":hex}, arrays as {"array":[…]},
// kvlists as {"kvlist":{…}}.
//
// --fail-first N refuses the first N export requests, counted over all
// protocols together, with --fail-mode:
//   unavailable  gRPC UNAVAILABLE; HTTP 503
//   503          gRPC UNAVAILABLE; HTTP 503
//   429          gRPC RESOURCE_EXHAUSTED with RetryInfo (1 s) in
//                grpc-status-details-bin; HTTP 429 with Retry-After: 1
//   400          gRPC INVALID_ARGUMENT; HTTP 400 with a google.rpc.Status body
//   partial      success with partial_success.rejected_spans = 1
//   drop         HTTP: the connection is closed without an answer;
//                gRPC: UNAVAILABLE (grpc-js cannot drop a single stream)
// Refused requests write nothing to FILE. Each refusal and acceptance is
// logged on stderr (an accepted gRPC request with the client's address and
// port, so the log tells how many connections carried the requests).
// --delay-ms D delays every answer by D ms.
// Port 0 (the default) takes a free port; the ports actually bound are
// logged on stderr: "receiver: grpc on 127.0.0.1:P, http on 127.0.0.1:Q, …".
// "ready" is printed on stdout once both servers listen.
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const grpc = require('@grpc/grpc-js');
const protobuf = require('protobufjs');
const otlpRoot = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

const traceV1 = otlpRoot.opentelemetry.proto.collector.trace.v1;
const ExportRequest = traceV1.ExportTraceServiceRequest;
const ExportResponse = traceV1.ExportTraceServiceResponse;

// google.rpc.Status and RetryInfo are not part of the OTLP package; the
// receiver carries its own definitions (field numbers from googleapis).
const rpcRoot = protobuf.parse(`
  syntax = "proto3";
  package google.rpc;
  message Any { string type_url = 1; bytes value = 2; }
  message Duration { int64 seconds = 1; int32 nanos = 2; }
  message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
  message RetryInfo { Duration retry_delay = 1; }
`).root;
const RpcStatus = rpcRoot.lookupType('google.rpc.Status');
const RetryInfo = rpcRoot.lookupType('google.rpc.RetryInfo');

const MAX_BODY = 64 * 1024 * 1024; // OTLP's recommended request limit
const MODES = ['unavailable', '503', '429', '400', 'partial', 'drop'];

function parseArgs(argv) {
  const o = { grpcPort: 0, httpPort: 0, out: '', failFirst: 0, failMode: 'unavailable', delayMs: 0 };
  const names = { '--grpc-port': 'grpcPort', '--http-port': 'httpPort', '--out': 'out',
    '--fail-first': 'failFirst', '--fail-mode': 'failMode', '--delay-ms': 'delayMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete option "${argv[i]}"`);
    const v = argv[i + 1];
    o[key] = typeof o[key] === 'number' ? Number(v) : v;
    if (typeof o[key] === 'number' && !Number.isInteger(o[key])) throw new Error(`${argv[i]} "${v}": not an integer`);
  }
  if (!o.out) throw new Error('--out FILE is required');
  if (!MODES.includes(o.failMode)) throw new Error(`--fail-mode "${o.failMode}": expected one of ${MODES.join(', ')}`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
let requests = 0; // export requests seen, all protocols

function log(msg) { process.stderr.write(`receiver: ${msg}\n`); }

// ---- normalisation: decoded protobuf and OTLP/JSON to one output shape ----

function hexOf(v) {
  if (v == null) return '';
  if (typeof v === 'string') return v; // OTLP/JSON ids are hex already
  return Buffer.from(v).toString('hex');
}

function u64(v) {
  if (v == null) return '0';
  return typeof v === 'object' ? v.toString() : String(v); // Long or JSON string/number
}

function anyValue(v, isJson) {
  if (v == null) return null;
  if (v.stringValue != null) return v.stringValue;
  if (v.boolValue != null) return v.boolValue;
  if (v.intValue != null) return { int: u64(v.intValue) };
  if (v.doubleValue != null) return { double: Number(v.doubleValue) };
  if (v.bytesValue != null) {
    return { bytes: isJson ? Buffer.from(v.bytesValue, 'base64').toString('hex') : hexOf(v.bytesValue) };
  }
  if (v.arrayValue != null) return { array: (v.arrayValue.values || []).map((x) => anyValue(x, isJson)) };
  if (v.kvlistValue != null) return { kvlist: attrMap(v.kvlistValue.values, isJson) };
  return null;
}

function attrMap(kvs, isJson) {
  const out = {};
  for (const kv of kvs || []) out[kv.key] = anyValue(kv.value, isJson);
  return out;
}

function spanLines(req, protocol, encoding, isJson) {
  const n = ++requests;
  const lines = [];
  for (const rs of req.resourceSpans || []) {
    const resource = attrMap(rs.resource ? rs.resource.attributes : [], isJson);
    for (const ss of rs.scopeSpans || []) {
      const scope = { name: (ss.scope && ss.scope.name) || '', version: (ss.scope && ss.scope.version) || '' };
      for (const s of ss.spans || []) {
        lines.push(JSON.stringify({
          protocol, encoding, request: n,
          traceId: hexOf(s.traceId), spanId: hexOf(s.spanId), parentSpanId: hexOf(s.parentSpanId),
          name: s.name || '', kind: s.kind == null ? 0 : s.kind,
          startTimeUnixNano: u64(s.startTimeUnixNano), endTimeUnixNano: u64(s.endTimeUnixNano),
          attributes: attrMap(s.attributes, isJson),
          events: (s.events || []).map((e) => ({
            name: e.name || '', timeUnixNano: u64(e.timeUnixNano), attributes: attrMap(e.attributes, isJson),
          })),
          status: { code: (s.status && s.status.code) || 0, message: (s.status && s.status.message) || '' },
          flags: s.flags || 0,
          links: (s.links || []).map((l) => ({
            traceId: hexOf(l.traceId), spanId: hexOf(l.spanId), flags: l.flags || 0,
          })),
          resource, scope,
        }));
      }
    }
  }
  return lines;
}

function record(lines) {
  if (lines.length) fs.appendFileSync(opts.out, lines.join('\n') + '\n');
}

// The refusal for this request, or null to accept it.
function refusal() {
  if (opts.failFirst <= 0) return null;
  opts.failFirst--;
  return opts.failMode;
}

function later(fn) {
  if (opts.delayMs > 0) setTimeout(fn, opts.delayMs); else fn();
}

// ---- OTLP/gRPC ----

// grpc-js decompresses before the handler runs and strips grpc-encoding
// from the metadata; this interceptor passes the request's encoding on.
function encodingInterceptor(methodDescriptor, call) {
  let c = call;
  while (c && c.incomingEncoding === undefined && c.nextCall) c = c.nextCall;
  const encoding = (c && c.incomingEncoding) || 'unknown';
  return new grpc.ServerInterceptingCall(call, {
    start(next) {
      next({ onReceiveMetadata(md, nxt) { md.set('x-received-encoding', encoding); nxt(md); } });
    },
  });
}

function grpcRefusal(mode) {
  const md = new grpc.Metadata();
  if (mode === '429') {
    const info = RetryInfo.encode({ retryDelay: { seconds: 1, nanos: 0 } }).finish();
    const st = RpcStatus.encode({ code: grpc.status.RESOURCE_EXHAUSTED, message: 'receiver: slow down',
      details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: info }] }).finish();
    md.set('grpc-status-details-bin', Buffer.from(st));
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: 'receiver: slow down', metadata: md };
  }
  if (mode === '400') return { code: grpc.status.INVALID_ARGUMENT, details: 'receiver: refused as bad data (test)' };
  return { code: grpc.status.UNAVAILABLE, details: 'receiver: unavailable (test)' };
}

function grpcExport(call, callback) {
  const encoding = String(call.metadata.get('x-received-encoding')[0] || 'unknown');
  const mode = refusal();
  if (mode && mode !== 'partial') {
    requests++;
    log(`grpc request refused (${mode})`);
    return later(() => callback(grpcRefusal(mode)));
  }
  let req;
  try {
    req = ExportRequest.decode(call.request);
  } catch (e) {
    requests++;
    log(`grpc request undecodable: ${e.message}`);
    return callback({ code: grpc.status.INVALID_ARGUMENT, details: `undecodable request: ${e.message}` });
  }
  const lines = spanLines(req, 'grpc', encoding, false);
  record(lines);
  log(`grpc request accepted: ${lines.length} spans, ${encoding}, from ${call.getPeer()}`);
  const resp = mode === 'partial'
    ? { partialSuccess: { rejectedSpans: 1, errorMessage: 'receiver: one span rejected (test)' } } : {};
  later(() => callback(null, resp));
}

const traceService = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b, // decoded in the handler, so errors become INVALID_ARGUMENT
    responseSerialize: (m) => Buffer.from(ExportResponse.encode(m).finish()),
    responseDeserialize: (b) => ExportResponse.decode(b),
  },
};

function startGrpc() {
  const server = new grpc.Server({ interceptors: [encodingInterceptor] });
  server.addService(traceService, { Export: grpcExport });
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${opts.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      resolve({ server, port });
    });
  });
}

// ---- OTLP/HTTP ----

function mediaType(req) {
  return String(req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
}

function reply(res, status, type, body, extra) {
  res.writeHead(status, Object.assign({ 'Content-Type': type, 'Content-Length': body.length }, extra || {}));
  res.end(body);
}

function statusBody(isJson, code, message) {
  if (isJson) return Buffer.from(JSON.stringify({ code, message }));
  return Buffer.from(RpcStatus.encode({ code, message }).finish());
}

function httpRefuse(res, mode, isJson, type) {
  if (mode === 'drop') return res.socket.destroy();
  if (mode === '429') return reply(res, 429, type, statusBody(isJson, 8, 'receiver: slow down'), { 'Retry-After': '1' });
  if (mode === '400') return reply(res, 400, type, statusBody(isJson, 3, 'receiver: refused as bad data (test)'));
  return reply(res, 503, type, statusBody(isJson, 14, 'receiver: unavailable (test)'));
}

function decodeHttp(body, isJson) {
  if (!isJson) return ExportRequest.decode(body);
  const req = JSON.parse(body.toString('utf8'));
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new Error('body is not a JSON object');
  return req;
}

function httpExport(req, res, body) {
  const type = mediaType(req);
  const isJson = type === 'application/json';
  if (!isJson && type !== 'application/x-protobuf') {
    return reply(res, 415, 'text/plain', Buffer.from(`unsupported Content-Type "${type}"\n`));
  }
  const encoding = String(req.headers['content-encoding'] || 'identity').toLowerCase();
  const mode = refusal();
  if (mode && mode !== 'partial') {
    requests++;
    log(`http request refused (${mode})`);
    return later(() => httpRefuse(res, mode, isJson, type));
  }
  let decoded;
  try {
    if (encoding === 'gzip') body = zlib.gunzipSync(body, { maxOutputLength: MAX_BODY });
    else if (encoding !== 'identity') throw new Error(`unsupported Content-Encoding "${encoding}"`);
    decoded = decodeHttp(body, isJson);
  } catch (e) {
    requests++;
    log(`http request undecodable: ${e.message}`);
    return reply(res, 400, type, statusBody(isJson, 3, `undecodable request: ${e.message}`));
  }
  const protocol = isJson ? 'http/json' : 'http/protobuf';
  const lines = spanLines(decoded, protocol, encoding, isJson);
  record(lines);
  log(`${protocol} request accepted: ${lines.length} spans, ${encoding}`);
  const partial = mode === 'partial' ? { rejectedSpans: 1, errorMessage: 'receiver: one span rejected (test)' } : null;
  let out;
  if (isJson) out = Buffer.from(JSON.stringify(partial ? { partialSuccess: { rejectedSpans: '1', errorMessage: partial.errorMessage } } : {}));
  else out = Buffer.from(ExportResponse.encode(partial ? { partialSuccess: partial } : {}).finish());
  later(() => reply(res, 200, type, out));
}

function startHttp() {
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url.split('?')[0] !== '/v1/traces') {
      return reply(res, 404, 'text/plain', Buffer.from('not found\n'));
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reply(res, 413, 'text/plain', Buffer.from('request too large\n')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => { if (size <= MAX_BODY) httpExport(req, res, Buffer.concat(chunks)); });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.httpPort, '127.0.0.1', () => resolve({ server, port: server.address().port }));
  });
}

async function main() {
  const g = await startGrpc();
  const h = await startHttp();
  const stop = () => {
    h.server.close();
    g.server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  log(`grpc on 127.0.0.1:${g.port}, http on 127.0.0.1:${h.port}, out ${opts.out}`);
  process.stdout.write('ready\n');
}

main().catch((e) => {
  log(`cannot start: ${e.message}`);
  process.exit(1);
});

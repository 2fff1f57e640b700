#!/usr/bin/env node
// raw_grpc.js — make one unary gRPC call with @grpc/grpc-js, sending bytes
// as they are (no protobuf encoding), and print what the server answered:
//   {"code":<grpc status>,"details":"<message>","bytes":<reply length or -1>,
//    "retryInfo":<grpc-status-details-bin holds a google.rpc.RetryInfo>}
//
//   node raw_grpc.js --target HOST:PORT --case garbage|big|path|tenant|empty
//                    [--size N] [--tenant T] [--calls N]
//
// --calls N makes N such calls at once on one connection (one line each,
// in the order they finish).
//
// Cases: garbage = bytes that are not an ExportTraceServiceRequest;
// big = N bytes (a valid protobuf prefix, then filler) to exceed a size
// limit; path = a valid empty request to an unknown method; tenant = a
// valid empty request with x-scope-orgid T; empty = a valid empty request.
'use strict';

const grpc = require('@grpc/grpc-js');

const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function parseArgs(argv) {
  const o = { target: '', kase: 'empty', size: 1024, tenant: null, calls: 1 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a}: missing value`);
    if (a === '--target') o.target = v;
    else if (a === '--case') o.kase = v;
    else if (a === '--size') o.size = parseInt(v, 10);
    else if (a === '--tenant') o.tenant = v;
    else if (a === '--calls') o.calls = parseInt(v, 10);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.target) throw new Error('--target is required');
  return o;
}

// Field 1 (resource_spans), length-delimited, holding `n` bytes of an
// unknown field (number 15, length-delimited) — valid wire format.
function bigRequest(size) {
  const inner = Buffer.alloc(Math.max(0, size - 16), 0x61);
  const varint = (n) => {
    const out = [];
    while (n > 127) { out.push((n & 127) | 128); n = Math.floor(n / 128); }
    out.push(n);
    return Buffer.from(out);
  };
  const field15 = Buffer.concat([Buffer.from([0x7a]), varint(inner.length), inner]);
  return Buffer.concat([Buffer.from([0x0a]), varint(field15.length), field15]);
}

function main() {
  const o = parseArgs(process.argv);
  let path = EXPORT, body = Buffer.alloc(0);
  const md = new grpc.Metadata();
  if (o.kase === 'garbage') body = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);
  else if (o.kase === 'big') body = bigRequest(o.size);
  else if (o.kase === 'path') path = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
  else if (o.kase === 'tenant') md.set('x-scope-orgid', o.tenant === null ? '' : o.tenant);
  else if (o.kase !== 'empty') throw new Error(`unknown --case ${o.kase}`);
  const client = new grpc.Client(o.target, grpc.credentials.createInsecure(),
    { 'grpc.max_send_message_length': -1 });
  const id = (b) => b;
  let left = o.calls;
  const retryInfo = (err) => (err.metadata ? err.metadata.get('grpc-status-details-bin') : [])
    .some((v) => Buffer.from(v).includes('type.googleapis.com/google.rpc.RetryInfo'));
  for (let i = 0; i < o.calls; i++) {
    client.makeUnaryRequest(path, id, id, body, md, { deadline: Date.now() + 30000 }, (err, reply) => {
      const out = err ? { code: err.code, details: err.details, bytes: -1, retryInfo: retryInfo(err) }
        : { code: 0, details: '', bytes: reply.length, retryInfo: false };
      process.stdout.write(JSON.stringify(out) + '\n');
      if (--left === 0) client.close();
    });
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`raw_grpc.js: ${e.message}\n`);
  process.exitCode = 2;
}

#!/usr/bin/env node
// export_peer.js — bench/export.sh's peer: the same workflow-shaped traces
// (tests/otel-js/workflow.js) made with the OpenTelemetry JS SDK and
// exported the way a Node.js service would: BasicTracerProvider +
// BatchSpanProcessor (batches of 512) + @opentelemetry/exporter-trace-otlp-grpc
// (or -proto for http/protobuf).
//
//   node export_peer.js build|export WORKFLOWS [--endpoint URL] [--protocol grpc|http]
//
// build: spans made and ended with no processor (what making them costs);
// export: made, batched and exported, forceFlush after every 128 workflows
// (the C side's rounds). One JSON line: spans, CPU seconds (user + system
// of this process, process.cpuUsage), spans per CPU-second.
'use strict';

const path = require('path');
const { createRequire } = require('module');

const req = createRequire(path.join(__dirname, '..', 'tests', 'otel-js', 'package.json'));
const { BasicTracerProvider, BatchSpanProcessor } = req('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = req('@opentelemetry/resources');
const { rng, makeTrace } = req('./workflow');

const ROUND = 128;

function parseArgs(argv) {
  const o = { mode: argv[2], workflows: Number(argv[3]), endpoint: 'http://127.0.0.1:4317', protocol: 'grpc' };
  for (let i = 4; i < argv.length; i += 2) {
    if (argv[i] === '--endpoint') o.endpoint = argv[i + 1];
    else if (argv[i] === '--protocol') o.protocol = argv[i + 1];
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!['build', 'export'].includes(o.mode) || !(o.workflows > 0)) {
    throw new Error('usage: export_peer.js build|export WORKFLOWS [--endpoint URL] [--protocol grpc|http]');
  }
  return o;
}

function exporter(o) {
  if (o.protocol === 'grpc') {
    const { OTLPTraceExporter } = req('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter({ url: o.endpoint, timeoutMillis: 60000 });
  }
  const { OTLPTraceExporter } = req('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: `${o.endpoint}/v1/traces`, timeoutMillis: 60000 });
}

async function main() {
  const o = parseArgs(process.argv);
  let spans = 0;
  const counter = { onStart() {}, onEnd() { spans++; }, forceFlush: async () => {}, shutdown: async () => {} };
  const processors = [counter];
  if (o.mode === 'export') {
    processors.push(new BatchSpanProcessor(exporter(o), {
      maxExportBatchSize: 512, maxQueueSize: 2048, scheduledDelayMillis: 5000, exportTimeoutMillis: 30000,
    }));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'Tracing.Worker' }),
    spanProcessors: processors,
  });
  const tracer = provider.getTracer('extrace-bench', '1.0.0');
  const r = rng(1);
  const base = 1760000000000;
  const c0 = process.cpuUsage();
  for (let w = 0; w < o.workflows; w += ROUND) {
    for (let i = 0; i < ROUND; i++) makeTrace(tracer, r, w + i, base);
    if (o.mode === 'export') await provider.forceFlush();
  }
  await provider.shutdown();
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ mode: o.mode, spans, cpu: Number(cpu.toFixed(3)),
    spansPerCpuSecond: Math.round(spans / cpu) })}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });

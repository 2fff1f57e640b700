#!/usr/bin/env node
// submit.js — the service that submits a workflow, instrumented with the
// OpenTelemetry JS SDK: it makes a span "submit workflow", exports it over
// OTLP http/protobuf to ENDPOINT (/v1/traces), and prints the W3C
// traceparent of that span as the SDK's propagator writes it — what the
// service would put on the event that starts the workflow.
//
//   node submit.js --endpoint http://127.0.0.1:PORT
//
// stdout: {"traceparent":"00-…","traceId":"…","spanId":"…"}; exit 1 when the
// export failed.
'use strict';

const { context, trace, propagation } = require('@opentelemetry/api');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const i = process.argv.indexOf('--endpoint');
if (i < 0 || !process.argv[i + 1]) {
  process.stderr.write('usage: submit.js --endpoint URL\n');
  process.exit(2);
}
const exporter = new OTLPTraceExporter({ url: `${process.argv[i + 1]}/v1/traces` });
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'submitter' }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const tracer = provider.getTracer('submitter');

const span = tracer.startSpan('submit workflow');
const carrier = {};
propagation.inject(trace.setSpan(context.active(), span), carrier);
span.end();
provider.forceFlush().then(() => provider.shutdown()).then(() => {
  const sc = span.spanContext();
  process.stdout.write(JSON.stringify({ traceparent: carrier.traceparent, traceId: sc.traceId, spanId: sc.spanId }) + '\n');
}, (err) => {
  process.stderr.write(`export failed: ${err}\n`);
  process.exit(1);
});

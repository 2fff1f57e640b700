// fixtures.js — workflow traces shaped as `extrace worker` writes them
// (src/worker/spans.c), as OTLP/JSON (hex ids, int64 as strings).
//
// Six workflows: three OK, one failed in OutputGenerator, one failed in
// Processor, one timed out while Processor was running.
'use strict';

const crypto = require('node:crypto');

const STAGES = ['DataLoader', 'Processor', 'OutputGenerator'];
const STATUS_OK = 1, STATUS_ERROR = 2;
const MARKUP = '<img src=x onerror="window.__injected=1"><b>bold</b>';

const hex = (n) => crypto.randomBytes(n).toString('hex');
const ns = (ms) => `${BigInt(Math.round(ms)) * 1000000n}`;
const iso = (ms) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z'); // .NET's 7 digits
const str = (key, v) => ({ key, value: { stringValue: v } });
const int = (key, v) => ({ key, value: { intValue: String(v) } });

// A status-change event, with the attributes the worker adds.
function event(name, atMs, source = 'source') {
  return {
    timeUnixNano: ns(atMs), name,
    attributes: [str('extrace.observed_before', iso(atMs + 400)), str('extrace.observed_after', iso(atMs - 600)),
      str('extrace.time_source', source)],
  };
}

// One stage span: Initializing at start, Processing 1 s later, then the end.
function stage(traceId, parentId, type, startMs, endMs, end) {
  const events = [event('Initializing', startMs), event('Processing', startMs + 1000)];
  const attributes = [str('type', type), str('id', crypto.randomUUID()), str('startTime', iso(startMs))];
  let status = { code: STATUS_OK };
  if (end === 'ok') {
    events.push(event('Completed', endMs));
    attributes.push(str('endTime', iso(endMs)));
  } else if (end === 'failed') {
    events.push(event('Failed', endMs));
    // Markup in a value from the external system must reach the page as text.
    attributes.push(str('endTime', iso(endMs)), str('error.type', 'stage_failed'), str('api.note', MARKUP));
    status = { code: STATUS_ERROR, message: 'Failed. Error code: 42' };
  } else { // still open when the workflow timed out
    attributes.push(str('error.type', 'stage_open'));
    status = { code: STATUS_ERROR, message: 'stage still open when workflow ended' };
  }
  return {
    traceId, spanId: hex(8), parentSpanId: parentId, name: type, kind: 1,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(endMs), attributes, events, status,
  };
}

// One workflow: {workflowId, traceId, result, spans, failedStage}.
// outcome: 'ok' | {failAt: stage name} | 'timeout'.
function workflow(startMs, outcome) {
  const traceId = hex(16), rootId = hex(8), workflowId = crypto.randomUUID();
  const spans = [];
  let t = startMs + 2000, result = 'ok', message, failedStage = null;
  for (const type of STAGES) {
    const failHere = outcome.failAt === type;
    const timeoutHere = outcome === 'timeout' && type === 'Processor';
    const end = failHere ? 'failed' : timeoutHere ? 'open' : 'ok';
    spans.push(stage(traceId, rootId, type, t, t + 7000, end));
    t += 8000;
    if (failHere) { result = 'error'; message = `Entity failed: ${type}`; failedStage = type; break; }
    if (timeoutHere) { result = 'timeout'; message = 'Monitor timed out'; break; }
  }
  const endMs = t;
  const events = [event('Submitted', startMs - 1500, 'poll'), event('Initializing', startMs), event('Processing', startMs + 2000)];
  const attributes = [str('workflowId', workflowId), str('startTime', iso(startMs))];
  if (result !== 'timeout') attributes.push(str('endTime', iso(endMs)));
  attributes.push(str('extrace.result', result), int('extrace.polls', 9), int('extrace.poll_errors', 0));
  if (result === 'ok') events.push(event('Completed', endMs));
  if (result === 'error') {
    events.push(event('Failed', endMs));
    attributes.push(str('error.type', 'workflow_failed'));
  }
  if (result === 'timeout') attributes.push(str('error.type', 'timeout'));
  spans.push({
    traceId, spanId: rootId, name: 'Workflow', kind: 1,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(endMs), attributes, events,
    status: result === 'ok' ? { code: STATUS_OK } : { code: STATUS_ERROR, message },
  });
  return { workflowId, traceId, result, message, failedStage, spans };
}

// The six workflows, started over the last few minutes before nowMs.
function sixWorkflows(nowMs) {
  const outcomes = ['ok', { failAt: 'OutputGenerator' }, 'ok', { failAt: 'Processor' }, 'timeout', 'ok'];
  return outcomes.map((o, i) => workflow(nowMs - (8 - i) * 60e3, o));
}

// OTLP/JSON ExportTraceServiceRequest for the workflows.
function otlpRequest(workflows, namespace = 'dev1') {
  return {
    resourceSpans: [{
      resource: { attributes: [str('service.name', 'Tracing.Worker'), str('service.namespace', namespace)] },
      scopeSpans: [{ scope: { name: 'extrace.worker' }, spans: workflows.flatMap((w) => w.spans) }],
    }],
  };
}

module.exports = { sixWorkflows, otlpRequest, STAGES, MARKUP };

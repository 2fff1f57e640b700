// workflow.js — workflow-shaped traces as the seed's worker records them:
// a "Workflow" root span and one child span per stage (DataLoader,
// Processor, OutputGenerator) with the seed's attributes, status-change
// events and status. Every fifth workflow (index % 5 == 4) fails in its
// Processor, so its trace has three spans instead of four.
'use strict';

const api = require('@opentelemetry/api');

// A small deterministic generator (mulberry32) for ids in attributes.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uuid(r) {
  const h = () => Math.floor(r() * 16).toString(16);
  let s = '';
  for (let i = 0; i < 32; i++) s += h();
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

const iso = (ms) => new Date(ms).toISOString();

// One workflow trace; its spans end up in the collecting processor.
function makeTrace(tracer, r, index, baseMs) {
  const failed = index % 5 === 4;
  const start = baseMs + index * 10;
  const wfId = uuid(r);
  const root = tracer.startSpan('Workflow', {
    kind: api.SpanKind.INTERNAL, startTime: start, attributes: { workflowId: wfId },
  }, api.ROOT_CONTEXT);
  root.addEvent('Submitted', start - 500);
  root.addEvent('Initializing', start);
  root.addEvent('Processing', start + 100);
  root.setAttribute('startTime', iso(start));
  const ctx = api.trace.setSpan(api.ROOT_CONTEXT, root);
  let t = start + 100;
  const stages = ['DataLoader', 'Processor', 'OutputGenerator'];
  let end = t;
  for (const stage of stages) {
    const s = tracer.startSpan(stage, { kind: api.SpanKind.INTERNAL, startTime: t,
      attributes: { type: stage, id: uuid(r), startTime: iso(t) } }, ctx);
    s.addEvent('Initializing', t);
    s.addEvent('Processing', t + 10000);
    const stageFails = failed && stage === 'Processor';
    end = t + 60000;
    s.addEvent(stageFails ? 'Failed' : 'Completed', end);
    s.setAttribute('endTime', iso(end));
    if (stageFails) s.setStatus({ code: api.SpanStatusCode.ERROR, message: `Failed. Error code: ${index % 100}` });
    else s.setStatus({ code: api.SpanStatusCode.OK });
    s.end(end);
    t = end;
    if (stageFails) break;
  }
  root.addEvent(failed ? 'Failed' : 'Completed', end);
  root.setAttribute('endTime', iso(end));
  if (failed) root.setStatus({ code: api.SpanStatusCode.ERROR, message: 'Entity failed: Processor' });
  else root.setStatus({ code: api.SpanStatusCode.OK });
  root.end(end);
}

module.exports = { rng, uuid, iso, makeTrace };

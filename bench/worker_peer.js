// worker_peer.js — the Node.js peer of `extrace worker` for bench/worker.sh:
// the same polling job written the way one would in Node with the
// OpenTelemetry JS SDK. Not a test and not a second implementation of the
// monitor rules: it does the work every poll needs (a keep-alive HTTP GET,
// JSON.parse, the status of the workflow and each stage compared with the
// last poll, a span per workflow and per stage, an event per status
// change with the observation window, spans ended with their status), so
// that CPU per poll can be compared with the C worker's in the same run.
//
//   node worker_peer.js --api URL --ids FILE [--interval MS] [--concurrency N]
//                       [--warmup S] [--duration S]
//
// Workflows are polled every --interval from their first poll, at most
// --concurrency requests at once over as many kept-alive connections. After
// --warmup seconds, polls and this process's CPU time (process.cpuUsage:
// user + system, all threads) are counted for --duration seconds; one line
// goes to stdout: "polls P cpu_us C errors E" and the process exits.
// Spans go to no exporter, as the C worker runs with OTEL_TRACES_EXPORTER=none.
'use strict';

const fs = require('fs');
const http = require('http');
const api = require('@opentelemetry/api');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');

function args(argv) {
  const o = { interval: 100, concurrency: 64, warmup: 2, duration: 10 };
  for (let i = 2; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!o.api || !o.ids) throw new Error('usage: worker_peer.js --api URL --ids FILE [...]');
  return o;
}

const opt = args(process.argv);
const interval = Number(opt.interval);
const concurrency = Number(opt.concurrency);
const base = new URL(opt.api);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const provider = new BasicTracerProvider({ spanProcessors: [] });
const tracer = provider.getTracer('extrace-peer');

const TERMINAL = new Set(['Completed', 'Failed']);

// One watched workflow: its spans and last statuses.
function watch(id) {
  return { id, due: 0, root: null, ctx: null, status: null, stages: new Map(), lastSent: 0, polls: 0 };
}

const ids = fs.readFileSync(opt.ids, 'utf8').split('\n').filter(Boolean);
const queue = ids.map(watch); // FIFO by due time: every workflow is rescheduled by the same interval
let head = 0;
let polls = 0;
let errors = 0;
let counting = false;

function toNs(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function statusEvent(span, status, sent, received) {
  span.addEvent(status, {
    'extrace.observed_after_unix_nano': sent * 1e6,
    'extrace.observed_before_unix_nano': received * 1e6,
  });
}

function endSpan(span, status, message, end) {
  if (status === 'Failed') span.setStatus({ code: api.SpanStatusCode.ERROR, message: message || 'failed' });
  else span.setStatus({ code: api.SpanStatusCode.OK });
  span.end(end);
}

// What a poll's answer changes. Returns true when the workflow has ended.
function apply(w, body, sent, received) {
  const a = JSON.parse(body);
  if (typeof a.workflowStatus !== 'string' || typeof a.workflowEntities !== 'object') {
    throw new Error(`${w.id}: not a workflow answer`);
  }
  if (!w.root) {
    w.root = tracer.startSpan('Workflow', {
      startTime: toNs(a.workflowStartTime) || received,
      attributes: { workflowId: w.id, startTime: a.workflowStartTime },
    });
    w.ctx = api.trace.setSpan(api.context.active(), w.root);
  }
  if (a.workflowStatus !== w.status) {
    statusEvent(w.root, a.workflowStatus, w.lastSent, received);
    w.status = a.workflowStatus;
  }
  for (const [type, e] of Object.entries(a.workflowEntities || {})) {
    let s = w.stages.get(type);
    if (!s) {
      const span = tracer.startSpan(type, {
        startTime: toNs(e.entityStartTime) || received,
        attributes: { type: e.entityType, id: e.entityId, startTime: e.entityStartTime },
      }, w.ctx);
      s = { span, status: null, ended: false };
      w.stages.set(type, s);
    }
    if (s.ended || e.entityStatus === s.status) continue;
    statusEvent(s.span, e.entityStatus, w.lastSent, received);
    s.status = e.entityStatus;
    if (TERMINAL.has(e.entityStatus)) {
      s.span.setAttribute('endTime', e.entityEndTime);
      endSpan(s.span, e.entityStatus, e.entityErrorMessage, toNs(e.entityEndTime) || received);
      s.ended = true;
    }
  }
  w.root.setAttribute('extrace.polls', ++w.polls);
  if (!TERMINAL.has(a.workflowStatus)) return false;
  for (const s of w.stages.values()) if (!s.ended) endSpan(s.span, 'Failed', 'stage still open when workflow ended');
  endSpan(w.root, a.workflowStatus, a.workflowErrorMessage, toNs(a.workflowEndTime) || received);
  return true;
}

function get(w, done) {
  const sent = Date.now();
  const req = http.get({ agent, host: base.hostname, port: base.port, path: `/workflows/${encodeURIComponent(w.id)}`,
    headers: { Accept: 'application/json' } }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const received = Date.now();
      let ended = false;
      try {
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        ended = apply(w, Buffer.concat(chunks).toString('utf8'), w.lastSent || sent, received);
      } catch (e) {
        if (counting) errors++;
      }
      w.lastSent = sent;
      if (counting) polls++;
      done(ended);
    });
  });
  req.on('error', () => { if (counting) errors++; done(false); });
}

// One of `concurrency` loops: take the next due workflow, poll it, requeue it.
function loop() {
  if (head >= queue.length) { setTimeout(loop, 1); return; }
  const w = queue[head++];
  if (head > 4096 && head * 2 > queue.length) { queue.splice(0, head); head = 0; }
  const wait = w.due - Date.now();
  const go = () => get(w, (ended) => {
    if (!ended) { w.due = Date.now() + interval; queue.push(w); }
    setImmediate(loop);
  });
  if (wait > 0) setTimeout(go, wait); else go();
}

for (let i = 0; i < concurrency; i++) loop();

setTimeout(() => {
  counting = true;
  const cpu0 = process.cpuUsage();
  setTimeout(() => {
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`polls ${polls} cpu_us ${cpu.user + cpu.system} errors ${errors}\n`);
    process.exit(0);
  }, Number(opt.duration) * 1000);
}, Number(opt.warmup) * 1000);

// bulk.js — many workflow root spans, as `extrace worker` writes them
// (name "Workflow", workflowId, extrace.result, status, service.namespace),
// sent to a store over OTLP/HTTP JSON in batches: the 100,000-workflow
// fixture of the browser tests and of bench/ui.sh.
//
//   node bulk.js <otlp base url> [count]      (prints what it sent)
'use strict';

const OUTCOMES = [
  // [weight, result, status code, message]
  [80, 'ok', 1, ''],
  [12, 'error', 2, 'Entity failed: Processor'],
  [5, 'error', 2, 'Entity failed: OutputGenerator'],
  [3, 'timeout', 2, 'Monitor timed out'],
];
const NAMESPACES = ['dev1', 'dev2', 'prod'];

// A small deterministic generator (mulberry32), so reruns send the same shapes.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (r, bytes) => Array.from({ length: bytes }, () => Math.floor(r() * 256).toString(16).padStart(2, '0')).join('');
const ns = (ms) => `${BigInt(Math.round(ms)) * 1000000n}`;
const str = (key, v) => ({ key, value: { stringValue: v } });

function uuid(r) {
  const h = hex(r, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// One workflow: started in [nowMs - ageMs - spanMs, nowMs - ageMs], 10 s – 10 min long.
function rootSpan(r, nowMs, ageMs, spanMs) {
  const startMs = nowMs - ageMs - r() * spanMs;
  const durMs = 10e3 + Math.floor(r() * r() * 590e3);
  let pick = r() * 100, o = OUTCOMES[0];
  for (const x of OUTCOMES) { if (pick < x[0]) { o = x; break; } pick -= x[0]; }
  const [, result, code, message] = o;
  // The attributes the Workflows table reads (the worker also writes
  // startTime/endTime and poll counts; left out to keep the fixture fast).
  const attributes = [str('workflowId', uuid(r)), str('extrace.result', result)];
  return {
    traceId: hex(r, 16), spanId: hex(r, 8), name: 'Workflow', kind: 1,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(startMs + durMs), attributes,
    status: code === 1 ? { code } : { code, message },
  };
}

// Send count root spans (by default started 26 to 48 minutes ago, so they
// end before the last 15 minutes and stay inside the dashboard's last hour
// for the 12 minutes a slow run of the UI test may take) in batches of
// `batch` (one request each, `parallel` at a time; small batches, as big
// request bodies cost the store more). Resolves to {count, byResult,
// byNamespace, ms}.
async function sendBulk(otlpBase, count, { nowMs = Date.now(), ageMs = 26 * 60e3, spanMs = 22 * 60e3, batch = 500, parallel = 2, seed = 1 } = {}) {
  const r = rng(seed);
  const t0 = Date.now();
  const byResult = { ok: 0, error: 0, timeout: 0 };
  const byNamespace = {};
  const bodies = [];
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done);
    const groups = new Map(NAMESPACES.map((x) => [x, []]));
    for (let i = 0; i < n; i++) {
      const span = rootSpan(r, nowMs, ageMs, spanMs);
      const nsName = NAMESPACES[Math.floor(r() * NAMESPACES.length)];
      groups.get(nsName).push(span);
      byResult[span.attributes.find((a) => a.key === 'extrace.result').value.stringValue]++;
      byNamespace[nsName] = (byNamespace[nsName] || 0) + 1;
    }
    bodies.push(JSON.stringify({
      resourceSpans: [...groups].map(([nsName, spans]) => ({
        resource: { attributes: [str('service.name', 'Tracing.Worker'), str('service.namespace', nsName)] },
        scopeSpans: [{ scope: { name: 'extrace.worker' }, spans }],
      })),
    }));
  }
  let next = 0;
  async function lane() {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(`${otlpBase}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`OTLP export of a batch: ${res.status} ${await res.text()}`);
    }
  }
  await Promise.all(Array.from({ length: parallel }, lane));
  return { count, byResult, byNamespace, ms: Date.now() - t0 };
}

module.exports = { sendBulk };

if (require.main === module) {
  const [base, n] = process.argv.slice(2);
  if (!base) {
    process.stderr.write('usage: node bulk.js <otlp base url, e.g. http://127.0.0.1:4318> [count, default 100000]\n');
    process.exit(2);
  }
  sendBulk(base, Number(n || 100000)).then((x) => process.stdout.write(`${JSON.stringify(x)}\n`))
    .catch((e) => { process.stderr.write(`${e.message}\n`); process.exit(1); });
}

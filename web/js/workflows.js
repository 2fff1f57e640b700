// workflows.js — workflow root spans as the worker writes them, from /api/search.

import { attrs } from './api.js';
import { parseIso } from './time.js';

// The attributes the dashboard asks for (TraceQL select, otlp-tempo.md §5).
const SELECT = 'select(span.workflowId, span.startTime, span.endTime, span.extrace.result, status, statusMessage)';

// A TraceQL string literal: quotes and backslashes escaped.
export function quote(s) {
  return `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

// The dashboard's query: workflow root spans of the worker, optionally of
// one namespace (resource.service.namespace).
export function workflowQuery(namespace) {
  const conds = ['resource.service.name="Tracing.Worker"', 'name="Workflow"'];
  if (namespace) conds.push(`resource.service.namespace=${quote(namespace)}`);
  return `{${conds.join(' && ')}} | ${SELECT}`;
}

// A selected attribute from a search span: Tempo drops the scope
// ("workflowId"), other stores may keep it ("span.workflowId").
function pick(map, name) {
  return map.has(name) ? map.get(name) : map.get(`span.${name}`);
}

// The outcome of a workflow: extrace.result when set, else from its status.
export function outcome(result, status, message) {
  if (result === 'ok' || result === 'error' || result === 'timeout') return result;
  if (status === 'ok') return 'ok';
  if (status === 'error') return /timed out/i.test(message || '') ? 'timeout' : 'error';
  return 'unset';
}

// Search answer → one row per trace with a Workflow span:
// {traceId, workflowId, startMs, endMs, result, message, durationMs}.
export function workflowRows(answer) {
  const rows = [];
  for (const t of answer.traces || []) {
    const sets = t.spanSets || (t.spanSet ? [t.spanSet] : []);
    const span = sets.flatMap((s) => s.spans || []).find((s) => s.name === 'Workflow' || s.name === undefined);
    if (!span) continue;
    const a = attrs(span.attributes);
    const startIso = pick(a, 'startTime'), endIso = pick(a, 'endTime');
    const spanStartMs = Number(BigInt(span.startTimeUnixNano || t.startTimeUnixNano || 0) / 1000000n);
    const durationMs = span.durationNanos !== undefined ? Number(span.durationNanos) / 1e6 : Number(t.durationMs);
    const message = pick(a, 'statusMessage') || '';
    rows.push({
      traceId: t.traceID,
      workflowId: pick(a, 'workflowId') || '',
      startMs: Number.isFinite(parseIso(startIso)) ? parseIso(startIso) : spanStartMs,
      endMs: parseIso(endIso),
      result: outcome(pick(a, 'extrace.result'), pick(a, 'status'), message),
      message: String(message),
      durationMs,
    });
  }
  rows.sort((x, y) => y.startMs - x.startMs);
  return rows;
}

// Counts by outcome.
export function countRows(rows) {
  const c = { total: rows.length, ok: 0, error: 0, timeout: 0, unset: 0 };
  for (const r of rows) c[r.result]++;
  return c;
}

// workflows.js — workflow root spans as the worker writes them: TraceQL quoting
// and the outcome shown for a workflow.

// A TraceQL string literal: quotes and backslashes escaped.
export function quote(s) {
  return `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

// The outcome of a workflow: extrace.result when set, else from its status.
export function outcome(result, status, message) {
  if (result === 'ok' || result === 'error' || result === 'timeout') return result;
  if (status === 'ok') return 'ok';
  if (status === 'error') return /timed out/i.test(message || '') ? 'timeout' : 'error';
  return 'unset';
}

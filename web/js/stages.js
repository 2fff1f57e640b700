// stages.js — what the dashboard's stage chart shows, without the DOM:
// the TraceQL metrics queries, the step for a range, and the answers of
// /api/metrics/query_range turned into one line per stage.

import { quote } from './workflows.js';

// Steps offered (seconds): the smallest giving at most MAX_POINTS per line.
const STEPS = [60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];
const MAX_POINTS = 120;

// The step (seconds) for a range of `seconds`.
export function stepFor(seconds) {
  return STEPS.find((s) => seconds / s <= MAX_POINTS) || STEPS[STEPS.length - 1];
}

// The stage spans of workflows (every span of a "Workflow" trace but its
// root), in one namespace when ns is set.
function stageFilter(ns, extra = '') {
  const conds = ['rootName = "Workflow"', 'name != "Workflow"'];
  if (ns) conds.push(`resource.service.namespace = ${quote(ns)}`);
  if (extra) conds.push(extra);
  return `{${conds.join(' && ')}}`;
}

// The chart's queries: failed stage spans per step, and p90 of stage
// duration per step and over the whole range (instant).
export function stageQueries(ns) {
  return {
    failures: `${stageFilter(ns, 'status = error')} | count_over_time() by (name)`,
    p90: `${stageFilter(ns)} | quantile_over_time(duration, 0.9) by (name)`,
  };
}

// A label's value of a metrics series (by key), as text.
function label(series, key) {
  const kv = (series.labels || []).find((l) => l.key === key);
  if (!kv || !kv.value) return '';
  const v = kv.value;
  return String(v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? '');
}

// A query_range answer → Map stage name → [{t (ms), v}] sorted by time
// (NaN samples dropped).
export function linesByStage(answer) {
  const out = new Map();
  for (const s of (answer && answer.series) || []) {
    const name = label(s, 'name');
    const pts = (s.samples || []).map((x) => ({ t: Number(x.timestampMs), v: Number(x.value) }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
    out.set(name, (out.get(name) || []).concat(pts));
  }
  return out;
}

// A "nice" axis for values up to v: {max, step}, step 1, 2 or 5 × 10^k
// giving at most `ticks` intervals (whole numbers when integer is set).
export function niceAxis(v, ticks = 4, integer = false) {
  if (!(v > 0)) return { max: 1, step: integer ? 1 : 0.25 };
  const raw = v / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  if (integer) step = Math.max(1, Math.round(step));
  return { max: Math.ceil(v / step - 1e-9) * step, step };
}

// Counts per step stacked by stage: Map step time → [{name, from, to}],
// in stage order (bars of a stacked chart). lines: Map name → [{t, v}].
export function stack(lines, stages) {
  const out = new Map();
  for (const name of stages) {
    for (const p of lines.get(name) || []) {
      if (!(p.v > 0)) continue;
      const col = out.get(p.t) || [];
      const from = col.length ? col[col.length - 1].to : 0;
      col.push({ name, from, to: from + p.v });
      out.set(p.t, col);
    }
  }
  return out;
}

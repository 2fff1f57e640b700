// chart.js — the dashboard's stage chart: failed stages per step (stacked
// bars) and p90 stage duration per step (lines) over the page's time
// range, from TraceQL metrics (/api/metrics/query_range), drawn as SVG
// sized to the panel and redrawn when it resizes. Each stage has a colour
// and a legend entry: its failures in the range, its highest p90.

import { metricsRange } from './api.js';
import { h, svg, replace } from './dom.js';
import { fmtDuration, fmtClock, fmtDateTime, tickStep, zoneShort } from './time.js';
import { stepFor, stageQueries, linesByStage, niceAxis, stack } from './stages.js';

const PAD = { left: 46, right: 10, top: 8, bottom: 20 };
const fmtInt = (n) => Number(n).toLocaleString('en-US');
const fmtSecs = (v) => (v === 0 ? '0' : fmtDuration(v * 1000));

// The chart panel: {el, refresh({start, end, namespace}), stop()}. A
// refresh while one runs replaces it when the range or namespace changed,
// else it is skipped (the scans of a large range take seconds).
export function stageChart() {
  const failFig = h('figure', { class: 'chart', id: 'chart-failures' });
  const p90Fig = h('figure', { class: 'chart', id: 'chart-p90' });
  const note = h('p', { class: 'chart-note muted', hidden: true });
  const el = h('section', { class: 'chart-panel', 'aria-label': 'Stages over time' },
    h('h2', null, 'Stages over time'), note, h('div', { class: 'charts' }, failFig, p90Fig));
  let last = null, inflight = null, inflightKey = '';

  function draw() {
    if (!last) return;
    const { range, failures, p90 } = last;
    const stages = [...new Set([...p90.keys(), ...failures.keys()])].filter(Boolean).sort();
    const worst = new Map(stages.map((s) => [s, Math.max(-Infinity, ...(p90.get(s) || []).map((p) => p.v))]));
    note.hidden = stages.length > 0;
    note.textContent = note.hidden ? '' : 'No stage spans in this time range.';
    const color = (name) => `s${(stages.indexOf(name) % 6) + 1}`;
    const totals = new Map(stages.map((s) => [s, (failures.get(s) || []).reduce((a, p) => a + p.v, 0)]));
    figure(failFig, { title: 'Failed stages', note: `per ${stepText(range.step)}; legend: in the range`, stages, color, range,
      fmtY: fmtInt, legend: (s) => fmtInt(totals.get(s) || 0), integer: true, bars: stack(failures, stages), lines: failures });
    figure(p90Fig, { title: 'p90 stage duration', note: `per ${stepText(range.step)}; legend: highest in the range`, stages, color, range,
      fmtY: fmtSecs, legend: (s) => (Number.isFinite(worst.get(s)) ? fmtSecs(worst.get(s)) : '—'), lines: p90 });
  }

  const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(() => draw()) : null;
  if (ro) ro.observe(el);

  async function refresh({ start, end, namespace }) {
    const key = `${end - start} ${namespace}`;
    if (inflight && key === inflightKey) return;
    if (inflight) inflight.abort();
    const ctl = (inflight = new AbortController());
    inflightKey = key;
    const step = stepFor(end - start);
    const q = stageQueries(namespace);
    el.setAttribute('aria-busy', 'true');
    if (!last) {
      note.hidden = false;
      note.textContent = 'Loading the stage chart…';
    }
    try {
      const f = await metricsRange(q.failures, start, end, step, ctl.signal);
      const p = await metricsRange(q.p90, start, end, step, ctl.signal);
      last = { range: { start, end, step }, failures: linesByStage(f), p90: linesByStage(p) };
      draw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      last = null;
      note.hidden = false;
      note.textContent = `Stage chart unavailable: ${e.message}`;
      replace(failFig);
      replace(p90Fig);
    } finally {
      if (inflight === ctl) {
        inflight = null;
        el.removeAttribute('aria-busy');
      }
    }
  }

  const stop = () => {
    if (ro) ro.disconnect();
    if (inflight) inflight.abort();
  };
  return { el, refresh, stop };
}

function stepText(s) {
  return s % 3600 === 0 ? `${s / 3600} h` : `${s / 60} min`;
}

// One figure: caption, SVG (stacked bars when o.bars, else lines with
// points), legend (colour, stage, number).
function figure(fig, o) {
  const width = Math.max(200, Math.floor(fig.clientWidth || 300));
  const height = width < 480 ? 110 : 150;
  const fr = frame(o, width, height);
  replace(fig,
    h('figcaption', null, o.title, h('span', { class: 'muted' }, ` · ${o.note}`)),
    svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${o.title} by stage, ${o.note}` },
      fr.grid, svg('line', { class: 'axis', x1: PAD.left, x2: width - PAD.right, y1: fr.Y(0), y2: fr.Y(0) }),
      o.bars ? barMarks(o, fr) : lineMarks(o, fr)),
    h('ul', { class: 'legend', 'aria-label': `${o.title} by stage` },
      o.stages.map((s) => h('li', { 'data-stage': s },
        h('span', { class: `swatch ${o.color(s)}`, 'aria-hidden': 'true' }), h('span', { class: 'legend-name' }, s),
        h('b', { class: 'legend-value' }, o.legend(s))))));
}

// Scales and axes of a figure: {X(t ms), Y(v), grid (SVG elements), stepMs, tip}.
function frame(o, width, height) {
  const x0 = o.range.start * 1000, x1 = o.range.end * 1000;
  let maxV = 0;
  if (o.bars) for (const col of o.bars.values()) maxV = Math.max(maxV, col[col.length - 1].to);
  else for (const s of o.stages) for (const p of o.lines.get(s) || []) maxV = Math.max(maxV, p.v);
  const axis = niceAxis(maxV, height < 150 ? 2 : 4, o.integer);
  const X = (t) => PAD.left + ((t - x0) / (x1 - x0)) * (width - PAD.left - PAD.right);
  const Y = (v) => PAD.top + (1 - v / axis.max) * (height - PAD.top - PAD.bottom);
  const grid = [];
  for (let v = 0; v <= axis.max + 1e-9; v += axis.step) {
    grid.push(svg('line', { class: 'grid-line', x1: PAD.left, x2: width - PAD.right, y1: Y(v), y2: Y(v) }),
      svg('text', { class: 'axis-label', x: PAD.left - 4, y: Y(v) + 4, 'text-anchor': 'end' }, o.fmtY(v)));
  }
  const tstep = tickStep(x1 - x0, Math.max(2, Math.floor((width - PAD.left) / 70)));
  for (let t = Math.ceil(x0 / tstep) * tstep; t <= x1; t += tstep) {
    grid.push(svg('text', { class: 'axis-label', x: X(t), y: height - 5, 'text-anchor': 'middle' }, tickLabel(t, x1 - x0)));
  }
  const tip = (s, t, v) => svg('title', null, `${s}, ${fmtClock(t).slice(0, 5)} ${zoneShort(t)}: ${o.fmtY(v)}`);
  return { X, Y, grid, tip, x0, stepMs: o.range.step * 1000 };
}

// One rect per stage and step with failures, stacked.
function barMarks(o, { X, Y, tip, x0, stepMs }) {
  const bw = Math.max(1, X(x0 + stepMs) - X(x0) - 1);
  return [...o.bars].map(([t, col]) => col.map((b) => svg('rect', {
    class: `bar-seg ${o.color(b.name)}`, 'data-stage': b.name, x: Math.max(PAD.left, X(t)).toFixed(1), width: bw.toFixed(1),
    y: Y(b.to).toFixed(1), height: Math.max(1, Y(b.from) - Y(b.to)).toFixed(1),
  }, tip(b.name, t, b.to - b.from))));
}

// A line per stage (broken over steps without a value) and a point per value.
function lineMarks(o, { X, Y, tip, stepMs }) {
  return o.stages.map((s) => {
    const pts = o.lines.get(s) || [];
    const path = pts.map((p, i) => `${i && p.t - pts[i - 1].t <= stepMs ? 'L' : 'M'}${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`).join('');
    return svg('g', { class: `series ${o.color(s)}`, 'data-stage': s }, svg('path', { d: path }),
      pts.map((p) => svg('circle', { cx: X(p.t).toFixed(1), cy: Y(p.v).toFixed(1), r: 2.5 }, tip(s, p.t, p.v))));
  });
}

// A time-axis label: the clock within a day ("08:30"), else the day too ("07-05 08:30").
function tickLabel(t, spanMs) {
  return spanMs <= 86400e3 ? fmtClock(t).slice(0, 5) : fmtDateTime(t).slice(5, 16);
}

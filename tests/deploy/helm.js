'use strict';
// Checks of deploy/helm/*: render the chart (gotemplate.js, or take
// `helm template` output), parse every manifest, run the generic checks
// (helm_common.js), then the chart's own (helm_extrace.js,
// helm_monitoring.js): what the cluster would run, against the binary's
// option tables and the other deployment files.

const fs = require('fs');
const YAML = require('yaml');
const common = require('./helm_common');

// The PrometheusRule's groups: written as a rule file, and every extrace_*
// metric they use present in a real scrape of the worker.
function checkRules(r, manifests, opts) {
  const rule = manifests.find(({ doc }) => doc.kind === 'PrometheusRule');
  if (!r.check(rule, 'PrometheusRule', 'not rendered (set prometheusRule.enabled=true)')) return [];
  const groups = rule.doc.spec;
  if (opts.rulesOut) fs.writeFileSync(opts.rulesOut, YAML.stringify(groups));
  const names = new Set();
  for (const g of groups.groups) for (const rl of g.rules) for (const m of String(rl.expr).matchAll(/\bextrace_[a-z_]+/g)) names.add(m[0]);
  if (opts.metrics) {
    const scrape = fs.readFileSync(opts.metrics, 'utf8');
    for (const n of names) r.check(new RegExp(`^# TYPE ${n} `, 'm').test(scrape), 'PrometheusRule', `uses ${n}, which the worker does not export`);
  }
  return [`PrometheusRule: ${groups.groups.reduce((a, g) => a + g.rules.length, 0)} alerts on ${[...names].join(', ')}`];
}

// Check the chart at dir with values overridden by `sets`. opts: rendered
// (`helm template` output to check instead of rendering here), refusal (the
// chart must refuse the values with its `fail`), rulesOut, metrics (checkRules).
function checkChart(r, dir, sets, opts = {}) {
  const chart = common.loadChart(r, dir, sets);
  if (!chart) return [];
  const res = opts.rendered ? common.parseRendered(r, opts.rendered) : common.render(r, dir, chart);
  if (opts.refusal || res.failed) {
    r.check(res.failed && opts.refusal, dir, res.failed ? `refused the values: ${res.failed}` : 'accepted values it should refuse');
    return res.failed ? [`${chart.meta.name} refuses ${sets.join(' ')}: ${res.failed}`] : [];
  }
  common.checkMetadata(r, res.manifests);
  common.checkWorkloads(r, res.manifests);
  common.checkServices(r, res.manifests);
  const specific = chart.meta.name === 'monitoring' ? require('./helm_monitoring') : require('./helm_extrace');
  const summary = specific.check(r, dir, chart, res.manifests);
  if (opts.rulesOut || opts.metrics) summary.push(...checkRules(r, res.manifests, opts));
  return [`${chart.meta.name} (${opts.rendered ? 'helm template' : 'built-in renderer'}): ${res.manifests.length} manifests`, ...summary];
}

module.exports = { checkChart };

'use strict';
// What every chart check needs: loading a chart with --set overrides,
// rendering it (gotemplate.js) or reading `helm template` output, and the
// checks that hold for any manifests: names, selectors against pod labels,
// Services against container ports, probes against named ports, volumes.

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const lib = require('./lib');
const { Renderer, FailError } = require('./gotemplate');

const RELEASE = { Name: 'extrace', Namespace: 'extrace', Service: 'Helm', IsInstall: true };

// helm --set a.b=c: the value as YAML would read it (true, 2, text).
function applySet(values, assignment) {
  const i = assignment.indexOf('=');
  if (i < 0) throw new Error(`--set ${assignment}: expected key=value`);
  const keys = assignment.slice(0, i).split('.');
  const raw = assignment.slice(i + 1);
  const v = /^(true|false|-?[0-9]+)$/.test(raw) ? YAML.parse(raw) : raw;
  let o = values;
  for (const k of keys.slice(0, -1)) o = o[k] = o[k] && typeof o[k] === 'object' ? o[k] : {};
  o[keys[keys.length - 1]] = v;
}

function loadChart(r, dir, sets) {
  const [chartMeta] = lib.readYamlDocs(r, path.join(dir, 'Chart.yaml'));
  const [values] = lib.readYamlDocs(r, path.join(dir, 'values.yaml'));
  if (!chartMeta || !values) return null;
  r.check(chartMeta.apiVersion === 'v2', `${dir}/Chart.yaml`, 'apiVersion must be v2 (Helm 3)');
  for (const k of ['name', 'version', 'appVersion']) r.check(chartMeta[k], `${dir}/Chart.yaml`, `no ${k}`);
  for (const s of sets) applySet(values, s);
  return { meta: chartMeta, values };
}

// Render every template; returns [{source, doc}] or null when the chart
// refused its values with `fail` (then r gets no problem; the caller decides).
function render(r, dir, chart) {
  const tdir = path.join(dir, 'templates');
  const files = {};
  for (const f of fs.readdirSync(tdir)) files[`${chart.meta.name}/templates/${f}`] = fs.readFileSync(path.join(tdir, f), 'utf8');
  const renderer = new Renderer({
    chartName: chart.meta.name, files, values: chart.values, release: RELEASE,
    chart: { Name: chart.meta.name, Version: chart.meta.version, AppVersion: chart.meta.appVersion },
    readFile: (p) => {
      const full = path.join(dir, p);
      if (!fs.existsSync(full)) throw new Error(`.Files.Get "${p}": no such file in the chart (${full})`);
      return fs.readFileSync(full, 'utf8');
    },
  });
  const out = [];
  for (const name of Object.keys(files)) {
    const base = path.basename(name);
    if (base.startsWith('_')) continue;
    let text;
    try {
      text = renderer.render(name);
    } catch (e) {
      if (e instanceof FailError) return { failed: e.message };
      r.fail(name, e.message);
      continue;
    }
    if (base === 'NOTES.txt') continue;
    for (const doc of lib.readYamlDocs(r, name, text)) out.push({ source: name, doc });
  }
  return { manifests: out };
}

// `helm template` output: documents, each after a "# Source: …" comment.
function parseRendered(r, file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const part of text.split(/^---\s*$/m)) {
    const m = /^# Source: (.+)$/m.exec(part);
    for (const doc of lib.readYamlDocs(r, file, part)) out.push({ source: m ? m[1] : file, doc });
  }
  return { manifests: out };
}

const WORKLOADS = ['Deployment', 'StatefulSet', 'Job'];

function podSpec(doc) { return doc.spec && doc.spec.template && doc.spec.template.spec; }

function checkMetadata(r, manifests) {
  const seen = new Set();
  for (const { source, doc } of manifests) {
    const name = doc.metadata && doc.metadata.name;
    r.check(doc.apiVersion && doc.kind && name, source, 'apiVersion, kind and metadata.name are required');
    r.check(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name || '') && name.length <= 63, source, `name "${name}" is not a DNS-1123 label`);
    const key = `${doc.kind}/${name}`;
    r.check(!seen.has(key), source, `${key} is defined twice`);
    seen.add(key);
  }
}

function find(manifests, kind, name) {
  const m = manifests.find(({ doc }) => doc.kind === kind && doc.metadata.name === name);
  return m && m.doc;
}

function matches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
}

// Each workload: selector ⊆ pod labels, non-root, containers' ports and probes.
function checkWorkloads(r, manifests) {
  for (const { source, doc } of manifests) {
    if (!WORKLOADS.includes(doc.kind)) continue;
    const spec = podSpec(doc);
    if (!r.check(spec && spec.containers && spec.containers.length, source, 'no containers')) continue;
    const labels = doc.spec.template.metadata && doc.spec.template.metadata.labels;
    if (doc.kind !== 'Job') r.check(doc.spec.selector && matches(doc.spec.selector.matchLabels, labels), source, 'selector.matchLabels do not match the pod labels');
    r.check(spec.securityContext && spec.securityContext.runAsNonRoot === true, source, 'pods must run as non-root (securityContext.runAsNonRoot)');
    for (const c of spec.containers) {
      const names = new Set((c.ports || []).map((p) => p.name));
      for (const kind of ['readinessProbe', 'livenessProbe']) {
        const p = c[kind] && (c[kind].httpGet || c[kind].tcpSocket);
        if (p && typeof p.port === 'string') r.check(names.has(p.port), source, `${c.name} ${kind} uses port "${p.port}", which the container does not name`);
      }
      const mounts = (c.volumeMounts || []).map((m) => m.name);
      const vols = new Set([...(spec.volumes || []).map((v) => v.name), ...((doc.spec.volumeClaimTemplates || []).map((v) => v.metadata.name))]);
      for (const m of mounts) r.check(vols.has(m), source, `${c.name} mounts volume "${m}", which is not defined`);
    }
  }
}

// Each Service selects some workload's pods and targets ports they name.
function checkServices(r, manifests) {
  for (const { source, doc } of manifests) {
    if (doc.kind !== 'Service') continue;
    const w = manifests.find(({ doc: d }) => WORKLOADS.includes(d.kind) && matches(doc.spec.selector, d.spec.template.metadata.labels));
    if (!r.check(w, source, `Service ${doc.metadata.name} selects no workload's pods`)) continue;
    const ports = podSpec(w.doc).containers.flatMap((c) => c.ports || []);
    for (const p of doc.spec.ports) {
      const t = p.targetPort === undefined ? p.port : p.targetPort;
      const ok = typeof t === 'string' ? ports.some((cp) => cp.name === t) : ports.some((cp) => cp.containerPort === t);
      r.check(ok, source, `Service port ${p.name || p.port} targets ${t}, which ${w.doc.metadata.name} does not expose`);
    }
  }
}

module.exports = { RELEASE, loadChart, render, parseRendered, find, podSpec, matches, checkMetadata, checkWorkloads, checkServices, WORKLOADS };

'use strict';
// The monitoring chart: Tempo 2.5 (config, receivers, query port, the
// ingestion slack extrace's backdated spans need) and Grafana 11 (Tempo
// as the data source the Workflows dashboard reads, the dashboard itself
// identical to deploy/grafana/dashboards).

const fs = require('fs');
const path = require('path');
const lib = require('./lib');
const { find, podSpec, RELEASE } = require('./helm_common');
const { checkGrafanaProvisioning } = require('./compose');

// Where a ConfigMap is mounted in a container, or undefined.
function mountOf(doc, c, cmName) {
  const vol = (podSpec(doc).volumes || []).find((v) => v.configMap && v.configMap.name === cmName);
  const m = vol && (c.volumeMounts || []).find((x) => x.name === vol.name);
  return m && m.mountPath;
}

function checkTempo(r, dir, manifests, rel) {
  const st = find(manifests, 'StatefulSet', `${rel}-tempo`);
  const svc = find(manifests, 'Service', `${rel}-tempo`);
  const cm = find(manifests, 'ConfigMap', `${rel}-tempo`);
  if (!r.check(st && svc && cm, 'tempo', 'StatefulSet, Service and ConfigMap expected')) return null;
  const c = podSpec(st).containers[0];
  r.check(/^grafana\/tempo:2\.5\./.test(c.image), 'tempo', 'expected grafana/tempo:2.5.x');
  const arg = (c.args || []).find((a) => a.startsWith('-config.file='));
  const dirMount = mountOf(st, c, cm.metadata.name);
  r.check(arg && dirMount && arg === `-config.file=${dirMount}/tempo.yaml`, 'tempo', '-config.file is not the mounted tempo.yaml');
  const [cfg] = lib.readYamlDocs(r, 'ConfigMap tempo tempo.yaml', cm.data['tempo.yaml']);
  if (!cfg) return null;
  const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
  r.check(cfg.server.http_listen_port === ports.http, 'tempo', 'http_listen_port is not the container port "http"');
  const grpc = cfg.distributor.receivers.otlp.protocols.grpc;
  r.check(lib.portOf(grpc.endpoint) === ports['otlp-grpc'], 'tempo', 'the OTLP gRPC receiver is not on the container port "otlp-grpc"');
  const svcGrpc = svc.spec.ports.find((p) => p.name === 'otlp-grpc');
  r.check(svcGrpc && svcGrpc.port === 4317, 'tempo', 'the Service should offer OTLP gRPC on 4317 (the extrace chart\'s documented endpoint)');
  // The slack must cover the longest a workflow is watched: the extrace chart's worker.timeout.
  const [ext] = lib.readYamlDocs(r, 'extrace/values.yaml', fs.readFileSync(path.join(dir, '..', 'extrace', 'values.yaml'), 'utf8'));
  const slack = lib.durationSeconds(cfg.storage.trace.wal.ingestion_time_range_slack);
  const timeout = lib.durationSeconds(ext.worker.timeout);
  r.check(slack >= timeout, 'tempo', `storage.trace.wal.ingestion_time_range_slack (${slack} s) must cover the worker's timeout (${timeout} s)`);
  return cfg.server.http_listen_port;
}

function checkGrafana(r, manifests, rel, queryPort) {
  const dep = find(manifests, 'Deployment', `${rel}-grafana`);
  const ds = find(manifests, 'ConfigMap', `${rel}-grafana-datasources`);
  const dash = find(manifests, 'ConfigMap', `${rel}-grafana-dashboards`);
  if (!r.check(dep && ds && dash && find(manifests, 'Service', `${rel}-grafana`), 'grafana', 'Deployment, Service and two ConfigMaps expected')) return;
  const c = podSpec(dep).containers[0];
  r.check(/^grafana\/grafana:11\./.test(c.image), 'grafana', 'expected grafana/grafana:11.x');
  r.check(mountOf(dep, c, ds.metadata.name) === '/etc/grafana/provisioning/datasources', 'grafana', 'data sources are not mounted in /etc/grafana/provisioning/datasources');
  const dashMount = mountOf(dep, c, dash.metadata.name);
  // The ConfigMaps hold deploy/grafana's files unchanged.
  const shared = path.join(lib.sourceDir(), 'deploy', 'grafana');
  const dsText = ds.data['tempo.yaml'] || '';
  r.check(dsText.trim() === fs.readFileSync(path.join(shared, 'datasources', 'tempo.yaml'), 'utf8').trim(), 'grafana',
    `the data source ConfigMap's tempo.yaml differs from ${shared}/datasources/tempo.yaml`);
  const dashboards = [];
  for (const f of fs.readdirSync(path.join(shared, 'dashboards')).filter((n) => n.endsWith('.json'))) {
    const text = dash.data[f];
    if (!r.check(text, 'grafana', `the dashboard ConfigMap has no ${f}`)) continue;
    const same = JSON.stringify(JSON.parse(text)) === JSON.stringify(JSON.parse(fs.readFileSync(path.join(shared, 'dashboards', f), 'utf8')));
    r.check(same, 'grafana', `the dashboard ConfigMap's ${f} differs from ${shared}/dashboards/${f}`);
    dashboards.push(text);
  }
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
  checkGrafanaProvisioning(r, { where: 'ConfigMap grafana-datasources', text: dsText, env },
    { where: 'ConfigMap grafana-dashboards provider.yaml', text: dash.data['provider.yaml'] },
    dashboards, dashMount, `${rel}-tempo`, queryPort);
}

function check(r, dir, chart, manifests) {
  const rel = RELEASE.Name;
  const queryPort = checkTempo(r, dir, manifests, rel);
  if (queryPort) checkGrafana(r, manifests, rel, queryPort);
  return manifests.map(({ doc }) => `${doc.kind} ${doc.metadata.name}`);
}

module.exports = { check };

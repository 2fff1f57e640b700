'use strict';
// Structural checks of deploy/compose: each file parses, the files merge
// as `docker compose -f a -f b` merges them, and the merged model hangs
// together: extrace containers run real subcommands with flags and
// variables the binary accepts, published ports reach a listener, the
// worker's OTLP target is the store (main file) or Tempo (with the
// monitoring file), and every mounted file exists and fits its consumer.

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

// Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR, $$.
function interpolate(value, env) {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (all, name, op, def, bare) => {
        if (all === '$$') return '$';
        const n = name || bare, v = env[n];
        if (op === ':-') return v === undefined || v === '' ? def : v;
        if (op === '-') return v === undefined ? def : v;
        return v === undefined ? '' : v;
      });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env);
    return out;
  }
  return value;
}

function envMap(e) {
  if (!e) return {};
  if (!Array.isArray(e)) return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
  const out = {};
  for (const item of e) { const i = String(item).indexOf('='); out[i < 0 ? item : item.slice(0, i)] = i < 0 ? '' : item.slice(i + 1); }
  return out;
}

function dependsMap(d) {
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((s) => [s, { condition: 'service_started' }]));
  return d;
}

// Merge an override service into a base one, as compose does: maps merge,
// environment and depends_on by key, ports/volumes append, the rest replaces.
function mergeService(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === 'environment') out[k] = { ...envMap(base[k]), ...envMap(v) };
    else if (k === 'depends_on') out[k] = { ...dependsMap(base[k]), ...dependsMap(v) };
    else if (k === 'ports' || k === 'volumes') out[k] = [...(base[k] || []), ...v];
    else out[k] = v;
  }
  return out;
}

function mergeModels(models) {
  const out = { services: {}, volumes: {}, networks: {} };
  for (const m of models) {
    for (const [name, svc] of Object.entries(m.services || {})) {
      out.services[name] = out.services[name] ? mergeService(out.services[name], svc) : { ...svc };
    }
    Object.assign(out.volumes, m.volumes || {});
    Object.assign(out.networks, m.networks || {});
  }
  for (const svc of Object.values(out.services)) {
    svc.environment = envMap(svc.environment);
    svc.depends_on = dependsMap(svc.depends_on);
  }
  return out;
}

function isExtrace(svc) {
  const df = svc.build && (svc.build.dockerfile || '');
  return /deploy\/compose\/Dockerfile$/.test(df) || /(^|\/)extrace(:|$)/.test(String(svc.image || ''));
}

// Ports an extrace service listens on: flag name → {host, port}.
function listeners(cmd, args, env) {
  const out = {};
  const opts = lib.commandOptions(cmd);
  if (!opts) return out;
  for (const flag of opts.flags.keys()) {
    if (!/listen$/.test(flag)) continue;
    const v = lib.optionValue(cmd, args, env, flag);
    if (v) out[flag] = { host: v.replace(/:[0-9]+$/, ''), port: lib.portOf(v) };
  }
  return out;
}

function containerPort(p) {
  const s = typeof p === 'object' ? String(p.target) : String(p);
  return Number(s.split(':').pop().split('/')[0]);
}

function checkExtraceService(r, where, svc, dir) {
  if (svc.build) {
    const ctx = path.resolve(dir, svc.build.context || '.');
    r.check(fs.existsSync(path.join(ctx, 'CMakeLists.txt')), where, `build context ${ctx} is not the repository root`);
    r.check(fs.existsSync(path.join(ctx, svc.build.dockerfile || 'Dockerfile')), where, 'build.dockerfile does not exist');
  }
  const args = Array.isArray(svc.command) ? svc.command.map(String) : null;
  if (!args) return r.fail(where, 'command must be a list starting with the subcommand');
  const cmd = lib.checkArgs(r, where, args);
  if (!cmd) return null;
  for (const key of Object.keys(svc.environment)) {
    r.check(lib.readsEnv(cmd, key), where, `extrace ${cmd} does not read the variable ${key}`);
  }
  lib.binaryAccepts(r, where, args, svc.environment);
  const listen = listeners(cmd, args, svc.environment);
  const ports = Object.values(listen);
  for (const p of svc.ports || []) {
    const target = containerPort(p);
    const l = ports.find((x) => x.port === target);
    if (!l) r.fail(where, `publishes container port ${target}, but extrace ${cmd} listens on ${ports.map((x) => x.port).join(', ') || 'nothing'}`);
    else r.check(!/^(127\.|localhost)/.test(l.host), where, `port ${target} is published but the listener is on ${l.host} (use 0.0.0.0)`);
  }
  const test = svc.healthcheck && [].concat(svc.healthcheck.test).join(' ');
  if (test) {
    const m = /\/dev\/tcp\/127\.0\.0\.1\/([0-9]+).*GET (\/[a-z]+) /.exec(test);
    if (r.check(m, where, 'healthcheck is not an HTTP probe of a listener')) {
      r.check(ports.some((x) => x.port === Number(m[1])), where, `healthcheck probes port ${m[1]}, which extrace ${cmd} does not listen on`);
      const paths = { api: ['/healthz'], worker: ['/healthz', '/readyz'], store: ['/ready'] }[cmd] || [];
      r.check(paths.includes(m[2]), where, `healthcheck path ${m[2]} is not one extrace ${cmd} serves (${paths.join(', ')})`);
    }
  }
  return { cmd, args, listen };
}

// host and port of a URL or HOST:PORT[,options] address.
function hostPort(text, defPort) {
  const s = String(text).replace(/^[a-z]+:\/\//, '').split(/[/,]/)[0];
  const m = /^(.*?)(?::([0-9]+))?$/.exec(s);
  return { host: m[1], port: m[2] ? Number(m[2]) : defPort };
}

function checkWiring(r, label, model, info) {
  const svcs = model.services;
  const worker = svcs.worker, w = info.worker;
  if (!worker || !w) return r.fail(label, 'no worker service');
  const env = worker.environment;
  for (const k of ['TracingSample__ExternalApi__BaseUrl', 'TracingSample__Redis__ConnectionString', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
    r.check(k in env, `${label} worker`, `sets no ${k} (the seed's compose sets it)`);
  }
  r.check(env.OTEL_EXPORTER_OTLP_PROTOCOL === 'grpc', `${label} worker`, 'OTEL_EXPORTER_OTLP_PROTOCOL should be grpc, as in the seed');
  const api = hostPort(lib.optionValue('worker', w.args, env, 'api-url'), 80);
  r.check(info[api.host] && info[api.host].cmd === 'api', `${label} worker`, `the API URL names "${api.host}", not the api service`);
  if (info.api) r.check(info.api.listen.listen && info.api.listen.listen.port === api.port, `${label} worker`, `the API URL's port ${api.port} is not the api's listen port`);
  for (const [name, s] of Object.entries(svcs)) {
    if (!info[name] || !['worker', 'generate'].includes(info[name].cmd)) continue;
    const redis = hostPort(lib.optionValue(info[name].cmd, info[name].args, s.environment, 'redis'), 6379);
    r.check(redis.host === 'redis' && redis.port === 6379, `${label} ${name}`, `Redis address ${redis.host}:${redis.port} is not the redis service`);
  }
  const target = svcs.tempo ? 'tempo' : 'store';
  const otlp = hostPort(env.OTEL_EXPORTER_OTLP_ENDPOINT || '', 4317);
  r.check(otlp.host === target, `${label} worker`, `exports to "${otlp.host}"; expected ${target}`);
  if (target === 'store' && info.store) {
    const g = info.store.listen['otlp-grpc-listen'];
    r.check(g && g.port === otlp.port && g.host === '0.0.0.0', `${label} worker`, `OTLP port ${otlp.port} is not the store's gRPC listener on 0.0.0.0`);
  }
  r.check(svcs.redis && /^redis:7\.2/.test(String(svcs.redis.image)), `${label} redis`, 'expected image redis:7.2-*');
  const gen = svcs.generate && svcs.generate.depends_on.worker;
  r.check(gen && gen.condition === 'service_healthy', `${label} generate`, 'must wait for a healthy (subscribed) worker: pub/sub keeps nothing');
  return target;
}

function checkCommon(r, label, model) {
  for (const [name, svc] of Object.entries(model.services)) {
    const where = `${label} ${name}`;
    r.check(svc.image || svc.build, where, 'neither image nor build');
    for (const [dep, d] of Object.entries(svc.depends_on)) {
      if (!r.check(model.services[dep], where, `depends on unknown service ${dep}`)) continue;
      if (d.condition === 'service_healthy') r.check(model.services[dep].healthcheck, where, `waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
    }
    for (const n of svc.networks || []) r.check(n in model.networks, where, `network ${n} is not declared`);
    for (const v of svc.volumes || []) {
      const src = String(v).split(':')[0];
      if (!/^[./]/.test(src)) r.check(src in model.volumes, where, `volume ${src} is not declared`);
    }
  }
}

// The mounts of a service: container path → host path (bind mounts, resolved).
function binds(svc, dir) {
  const out = {};
  for (const v of svc.volumes || []) {
    const [src, dst] = String(v).split(':');
    if (/^[./]/.test(src)) out[dst] = path.resolve(dir, src);
  }
  return out;
}

function checkMonitoring(r, label, model, dir, workerTimeout) {
  const { tempo, grafana } = model.services;
  if (!r.check(tempo && grafana, label, 'the monitoring file must add tempo and grafana')) return;
  r.check(/^grafana\/tempo:2\.5\./.test(tempo.image), `${label} tempo`, 'expected grafana/tempo:2.5.x');
  r.check(/^grafana\/grafana:11\./.test(grafana.image), `${label} grafana`, 'expected grafana/grafana:11.x');
  const tb = binds(tempo, dir);
  const cfgArg = [].concat(tempo.command || []).find((a) => String(a).startsWith('-config.file='));
  const cfgPath = cfgArg && tb[cfgArg.slice('-config.file='.length)];
  let tcfg = null;
  if (r.check(cfgPath && fs.existsSync(cfgPath), `${label} tempo`, '-config.file is not a mounted file that exists')) {
    [tcfg] = lib.readYamlDocs(r, cfgPath);
  }
  let queryPort;
  if (tcfg) {
    const grpc = tcfg.distributor.receivers.otlp.protocols.grpc;
    r.check(lib.portOf(grpc && grpc.endpoint) === 4317, cfgPath, 'the OTLP gRPC receiver should listen on :4317 (the worker exports there)');
    queryPort = tcfg.server && tcfg.server.http_listen_port;
    const slack = lib.durationSeconds(((tcfg.storage || {}).trace || {}).wal && tcfg.storage.trace.wal.ingestion_time_range_slack);
    r.check(slack >= workerTimeout, cfgPath, `storage.trace.wal.ingestion_time_range_slack must cover the worker's timeout (${workerTimeout} s): backdated spans fall out of searches`);
  }
  const gb = binds(grafana, dir);
  const dsDir = gb['/etc/grafana/provisioning/datasources'];
  const dashDir = gb['/etc/grafana/provisioning/dashboards'];
  const dsFile = dsDir && path.join(dsDir, 'tempo.yaml');
  if (!r.check(dsFile && fs.existsSync(dsFile), `${label} grafana`, 'deploy/grafana/datasources (tempo.yaml) is not mounted in /etc/grafana/provisioning/datasources')) return;
  if (!r.check(dashDir && fs.existsSync(path.join(dashDir, 'workflows.json')), `${label} grafana`, 'the Workflows dashboard is not mounted in /etc/grafana/provisioning/dashboards')) return;
  const providerFile = path.join(dashDir, 'provider.yaml');
  const dashboards = fs.readdirSync(dashDir).filter((f) => f.endsWith('.json')).map((f) => fs.readFileSync(path.join(dashDir, f), 'utf8'));
  checkGrafanaProvisioning(r, { where: dsFile, text: fs.readFileSync(dsFile, 'utf8'), env: grafana.environment },
    { where: providerFile, text: fs.readFileSync(providerFile, 'utf8') },
    dashboards, '/etc/grafana/provisioning/dashboards', 'tempo', queryPort);
}

// Grafana's expansion of $NAME / ${NAME} in provisioning values (no
// defaults: an unset name expands to nothing, as Go's os.ExpandEnv does).
function grafanaExpand(value, env) {
  return String(value).replace(/\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, braced, bare) => env[braced || bare] || '');
}

// Data source uid = every dashboard's; URL (expanded with Grafana's
// environment) = Tempo's query port; the provider loads dashboards from
// where they are mounted.
// ds: {where, text, env}; provider: {where, text}; dashboards: JSON texts.
function checkGrafanaProvisioning(r, dsFile, provider, dashboards, mountPath, tempoHost, queryPort) {
  const dsWhere = dsFile.where;
  const [ds] = lib.readYamlDocs(r, dsWhere, dsFile.text);
  const uids = new Set();
  for (const text of dashboards) {
    // "__expr__" is Grafana's own server-side expressions (no provisioning).
    JSON.stringify(JSON.parse(text), (k, v) => { if (k === 'datasource' && v && v.uid && v.uid !== '__expr__') uids.add(v.uid); return v; });
  }
  const tempo = ds && (ds.datasources || []).find((d) => d.type === 'tempo');
  if (!r.check(tempo, dsWhere, 'no tempo data source')) return;
  r.check(tempo.uid === 'tempo' && tempo.name === 'Tempo', dsWhere, `the data source is uid "${tempo.uid}", name "${tempo.name}"; the seed's dashboard reads uid "tempo", name "Tempo"`);
  for (const uid of uids) r.check(uid === tempo.uid, dsWhere, `a dashboard reads data source uid "${uid}", provisioned is "${tempo.uid}"`);
  const url = grafanaExpand(tempo.url, dsFile.env || {});
  const u = hostPort(url, 80);
  r.check(u.host === tempoHost && u.port === queryPort, dsWhere, `data source URL ${tempo.url} (= "${url}" in Grafana's environment) is not Tempo's query port ${tempoHost}:${queryPort}`);
  const [prov] = lib.readYamlDocs(r, provider.where, provider.text);
  const p = prov && prov.providers && prov.providers[0];
  r.check(p && p.options && p.options.path === mountPath, provider.where, `the provider loads from ${p && p.options && p.options.path}, the dashboards are mounted at ${mountPath}`);
}

function checkCompose(r, files, env = {}) {
  const dir = path.dirname(path.resolve(files[0]));
  const models = [];
  for (const f of files) {
    const docs = lib.readYamlDocs(r, f);
    if (!r.check(docs.length === 1, f, 'expected one YAML document')) return;
    models.push(interpolate(docs[0], env));
  }
  const summary = [];
  for (let n = 1; n <= files.length; n++) {
    const label = files.slice(0, n).map((f) => path.basename(f)).join(' + ');
    const model = mergeModels(models.slice(0, n));
    checkCommon(r, label, model);
    const info = {};
    for (const [name, svc] of Object.entries(model.services)) {
      if (isExtrace(svc)) info[name] = checkExtraceService(r, `${label} ${name}`, svc, dir);
    }
    const target = checkWiring(r, label, model, info);
    if (model.services.tempo || n > 1) {
      const w = info.worker;
      const timeout = w ? lib.durationSeconds(lib.optionValue('worker', w.args, model.services.worker.environment, 'timeout')) : 0;
      checkMonitoring(r, label, model, dir, timeout);
    }
    summary.push(`${label}: services ${Object.keys(model.services).join(', ')}; worker exports to ${target}`);
  }
  return summary;
}

module.exports = { checkCompose, checkGrafanaProvisioning, grafanaExpand, interpolate, mergeModels, hostPort };

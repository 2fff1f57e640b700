'use strict';
// The extrace chart's manifests against its values and the binary: which
// objects exist for which values, replicas, container args and variables
// the commands accept, ports and probes on the listeners the args open,
// and the ConfigMap's addresses naming the release's own Services.

const fs = require('fs');
const path = require('path');
const lib = require('./lib');
const { find, podSpec, RELEASE } = require('./helm_common');
const { hostPort } = require('./compose');

const PROBE_PATHS = { api: { readinessProbe: '/healthz', livenessProbe: '/healthz' },
  worker: { readinessProbe: '/readyz', livenessProbe: '/healthz' },
  store: { readinessProbe: '/ready', livenessProbe: '/ready' } };

function expectObjects(r, manifests, v, rel) {
  const want = [
    ['ConfigMap', `${rel}-env`, true],
    ['Deployment', `${rel}-api`, v.api.enabled], ['Service', `${rel}-api`, v.api.enabled],
    ['Deployment', `${rel}-worker`, true],
    ['Deployment', `${rel}-redis`, !v.redis.url], ['Service', `${rel}-redis`, !v.redis.url],
    ['StatefulSet', `${rel}-store`, v.store.enabled], ['Service', `${rel}-store`, v.store.enabled],
    ['Job', `${rel}-generate`, v.generate.enabled],
    ['PrometheusRule', `${rel}-alerts`, v.prometheusRule.enabled],
  ];
  for (const [kind, name, present] of want) {
    r.check(!!find(manifests, kind, name) === !!present, `${kind}/${name}`, present ? 'missing' : 'rendered although its values turn it off');
  }
}

// The variables a container gets: its ConfigMaps' data, then its own env.
function containerEnv(manifests, c) {
  const env = {}, shared = {};
  for (const from of c.envFrom || []) {
    const cm = from.configMapRef && find(manifests, 'ConfigMap', from.configMapRef.name);
    if (cm) Object.assign(shared, cm.data || {});
  }
  Object.assign(env, shared);
  for (const e of c.env || []) env[e.name] = e.value;
  return { env, shared };
}

function checkContainer(r, where, manifests, c, v, consumers) {
  const args = (c.args || []).map(String);
  const unknownOk = v.worker.stream.enabled ? ['stream', 'group'] : [];
  const cmd = lib.checkArgs(r, where, args, unknownOk);
  if (!cmd) return null;
  const { env, shared } = containerEnv(manifests, c);
  for (const e of c.env || []) r.check(lib.readsEnv(cmd, e.name), where, `extrace ${cmd} does not read ${e.name}`);
  for (const k of Object.keys(shared)) {
    consumers[k] = consumers[k] || [];
    consumers[k].push(cmd);
    if (k.startsWith('EXTRACE_')) r.check(lib.readsEnv(cmd, k), where, `the shared ConfigMap sets ${k}, which extrace ${cmd} does not read (EXTRACE_* names are per option: set it in args)`);
  }
  const missing = unknownOk.filter((f) => !lib.commandOptions(cmd).flags.has(f) && args.some((a) => a.startsWith(`--${f}=`)));
  if (!missing.length) lib.binaryAccepts(r, where, args, env); // else the binary would reject the later flags
  const listenPorts = [];
  for (const flag of lib.commandOptions(cmd).flags.keys()) {
    if (!/listen$/.test(flag)) continue;
    const val = lib.optionValue(cmd, args, env, flag);
    if (val && !/^(127\.|localhost)/.test(val)) listenPorts.push(lib.portOf(val));
  }
  for (const p of c.ports || []) r.check(listenPorts.includes(p.containerPort), where, `container port ${p.containerPort} (${p.name}) is not a port extrace ${cmd} listens on at 0.0.0.0 (${listenPorts.join(', ') || 'none'})`);
  for (const [kind, want] of Object.entries(PROBE_PATHS[cmd] || {})) {
    const probe = c[kind] && c[kind].httpGet;
    if (!r.check(probe, where, `no HTTP ${kind}`)) continue;
    r.check(probe.path === want, where, `${kind} asks ${probe.path}; extrace ${cmd} answers ${want}`);
  }
  return { cmd, args, env };
}

function checkWiring(r, manifests, v, rel, info) {
  const cm = find(manifests, 'ConfigMap', `${rel}-env`);
  if (!cm) return;
  const d = cm.data || {};
  const svcPort = (name, portName) => {
    const s = find(manifests, 'Service', name);
    const p = s && s.spec.ports.find((x) => x.name === portName);
    return p && p.port;
  };
  if (!v.redis.url) {
    const a = hostPort(d.TracingSample__Redis__ConnectionString || '', 6379);
    r.check(a.host === `${rel}-redis` && a.port === svcPort(`${rel}-redis`, 'redis'), 'ConfigMap env', `Redis address ${a.host}:${a.port} is not the redis Service`);
  }
  if (v.api.enabled && !v.worker.apiUrl) {
    const a = hostPort(d.TracingSample__ExternalApi__BaseUrl || '', 80);
    r.check(a.host === `${rel}-api` && a.port === svcPort(`${rel}-api`, 'http'), 'ConfigMap env', `API URL ${a.host}:${a.port} is not the api Service`);
  }
  if (v.store.enabled && !v.otel.endpoint) {
    const a = hostPort(d.OTEL_EXPORTER_OTLP_ENDPOINT || '', 0);
    const port = svcPort(`${rel}-store`, v.otel.protocol === 'grpc' ? 'otlp-grpc' : 'otlp-http');
    r.check(a.host === `${rel}-store` && a.port === port, 'ConfigMap env', `OTLP endpoint ${a.host}:${a.port} is not the store Service's ${v.otel.protocol} port`);
  } else if (v.otel.endpoint) {
    r.check(d.OTEL_EXPORTER_OTLP_ENDPOINT === v.otel.endpoint, 'ConfigMap env', 'OTEL_EXPORTER_OTLP_ENDPOINT is not otel.endpoint');
  }
  const w = info.worker;
  if (w) {
    const hasStream = w.args.some((a) => a.startsWith('--stream')) && w.args.some((a) => a.startsWith('--group'));
    r.check(hasStream === !!v.worker.stream.enabled, 'worker', `--stream/--group ${hasStream ? 'present' : 'absent'} but worker.stream.enabled is ${v.worker.stream.enabled}`);
  }
}

// The release's Redis keeps an append-only file exactly when the stream
// intake is on: the stream, its group and the checkpoints must survive a
// restart of the container; pub/sub keeps nothing.
function checkRedis(r, manifests, v, rel, summary) {
  const d = find(manifests, 'Deployment', `${rel}-redis`);
  if (!d) return;
  const args = (podSpec(d).containers[0].args || []).map(String);
  const opt = (name) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
  const aof = opt('appendonly') === 'yes';
  r.check(aof === !!v.worker.stream.enabled, 'redis', `--appendonly ${opt('appendonly')} but worker.stream.enabled is ${v.worker.stream.enabled}`);
  if (aof) r.check(['always', 'everysec'].includes(opt('appendfsync')), 'redis', `--appendfsync ${opt('appendfsync')}: the file must reach the disk`);
  const mount = (podSpec(d).containers[0].volumeMounts || []).find((m) => m.mountPath === '/data');
  if (aof) r.check(mount, 'redis', 'the append-only file needs /data mounted');
  summary.push(`Deployment ${rel}-redis: appendonly ${aof ? `yes, fsync ${opt('appendfsync')}` : 'no'}`);
}

function checkStore(r, manifests, rel, info) {
  const st = find(manifests, 'StatefulSet', `${rel}-store`);
  if (!st || !info.store) return;
  r.check(st.spec.replicas === 1, 'store', 'one replica: one SQLite database has one writer');
  r.check(find(manifests, 'Service', st.spec.serviceName), 'store', `serviceName ${st.spec.serviceName} is not a Service`);
  const dataDir = lib.optionValue('store', info.store.args, info.store.env, 'data-dir');
  const c = podSpec(st).containers[0];
  const m = (c.volumeMounts || []).find((x) => x.mountPath === dataDir);
  const claims = (st.spec.volumeClaimTemplates || []).map((t) => t.metadata.name);
  r.check(m && claims.includes(m.name), 'store', `--data-dir ${dataDir} is not on the PersistentVolumeClaim`);
}

// The Dockerfile's USER is the uid the pods run as.
function checkUser(r, manifests, dir) {
  const df = fs.readFileSync(path.join(lib.sourceDir(), 'deploy', 'compose', 'Dockerfile'), 'utf8');
  const m = /^USER ([0-9]+)/m.exec(df);
  for (const { doc } of manifests) {
    const spec = podSpec(doc);
    if (!spec || !/-(api|worker|store|generate)$/.test(doc.metadata.name)) continue;
    r.check(m && spec.securityContext.runAsUser === Number(m[1]), doc.metadata.name, `runAsUser ${spec.securityContext.runAsUser} is not the image's USER ${m && m[1]}`);
  }
}

function check(r, dir, chart, manifests) {
  const v = chart.values, rel = RELEASE.Name;
  expectObjects(r, manifests, v, rel);
  const info = {}, consumers = {}, summary = [];
  for (const { doc } of manifests) {
    const spec = podSpec(doc);
    if (!spec) continue;
    for (const c of spec.containers) {
      if (!String(c.image).startsWith(`${v.image.repository}:`)) continue;
      const res = checkContainer(r, `${doc.kind}/${doc.metadata.name}`, manifests, c, v, consumers);
      if (!res) continue;
      info[res.cmd] = res;
      const replicas = doc.kind === 'Job' ? 'job' : `${doc.spec.replicas} replicas`;
      summary.push(`${doc.kind} ${doc.metadata.name}: ${replicas}: ${res.args.join(' ')}`);
    }
  }
  for (const [k, cmds] of Object.entries(consumers)) {
    r.check(cmds.some((cmd) => lib.readsEnv(cmd, k)), 'ConfigMap env', `${k} is read by none of its consumers (${[...new Set(cmds)].join(', ')})`);
  }
  const api = find(manifests, 'Deployment', `${rel}-api`);
  if (api) r.check(api.spec.replicas === v.api.replicaCount, 'api', 'replicas is not api.replicaCount');
  const worker = find(manifests, 'Deployment', `${rel}-worker`);
  if (worker) r.check(worker.spec.replicas === v.worker.replicaCount, 'worker', 'replicas is not worker.replicaCount');
  checkWiring(r, manifests, v, rel, info);
  checkStore(r, manifests, rel, info);
  checkRedis(r, manifests, v, rel, summary);
  checkUser(r, manifests, dir);
  return summary;
}

module.exports = { check };

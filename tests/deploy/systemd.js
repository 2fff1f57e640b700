'use strict';
// Key checks of deploy/systemd (run everywhere; systemd-analyze, where it
// exists, is run by the C test as well): each extrace-<cmd>.service runs
// that command with flags it has, is hardened, restarts on failure but not
// on a configuration error, gives the store a StateDirectory for its data,
// and its env file example sets only variables the command reads, with
// values the binary accepts.

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

// INI sections → key → [values] (keys may repeat).
function parseUnit(text) {
  const out = {};
  let sec = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) { sec = out[s[1]] = out[s[1]] || {}; continue; }
    const i = line.indexOf('=');
    if (!sec || i < 0) continue;
    const k = line.slice(0, i).trim();
    (sec[k] = sec[k] || []).push(line.slice(i + 1).trim());
  }
  return out;
}

function envFile(text) {
  const out = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const HARDENING = { ProtectSystem: 'strict', NoNewPrivileges: 'yes', PrivateTmp: 'yes', ProtectHome: 'yes',
  Restart: 'on-failure', CapabilityBoundingSet: '' };

function checkUnit(r, dir, file) {
  const where = path.join(dir, file);
  const u = parseUnit(fs.readFileSync(where, 'utf8'));
  const svc = u.Service || {}, last = (k) => (svc[k] ? svc[k][svc[k].length - 1] : undefined);
  r.check(u.Unit && u.Unit.Description, where, 'no [Unit] Description');
  r.check(u.Install && u.Install.WantedBy, where, 'no [Install] WantedBy (cannot be enabled)');
  for (const [k, v] of Object.entries(HARDENING)) r.check(last(k) === v, where, `${k}=${v} expected`);
  r.check(last('DynamicUser') === 'yes' || (last('User') && last('User') !== 'root'), where, 'runs as root: set DynamicUser=yes or a dedicated User=');
  r.check((last('RestartPreventExitStatus') || '').split(/\s+/).includes('2'), where, 'exit status 2 (bad configuration) should not restart it');
  const exec = (last('ExecStart') || '').split(/\s+/);
  r.check(exec[0] === '/usr/local/bin/extrace', where, 'ExecStart must run /usr/local/bin/extrace');
  const cmd = lib.checkArgs(r, where, exec.slice(1));
  const want = /^extrace-(.+)\.service$/.exec(file)[1];
  r.check(cmd === want, where, `runs "extrace ${cmd}", expected "extrace ${want}"`);
  const env = {};
  for (const e of svc.Environment || []) {
    const i = e.indexOf('=');
    env[e.slice(0, i)] = e.slice(i + 1).replace(/%S/g, '/var/lib');
  }
  const ef = (last('EnvironmentFile') || '').replace(/^-/, '');
  const example = path.join(dir, `${path.basename(ef, '.env')}.env.example`);
  if (r.check(ef && fs.existsSync(example), where, `EnvironmentFile ${ef} has no example ${path.basename(example)} beside the unit`)) {
    const vars = envFile(fs.readFileSync(example, 'utf8'));
    for (const k of Object.keys(vars)) r.check(lib.readsEnv(cmd, k), example, `extrace ${cmd} does not read ${k}`);
    Object.assign(env, vars);
  }
  if (cmd) lib.binaryAccepts(r, where, exec.slice(1), env);
  if (cmd === 'store') {
    const state = last('StateDirectory');
    const dataDir = lib.optionValue('store', exec.slice(1), env, 'data-dir');
    r.check(state && dataDir === `/var/lib/${state}`, where, `the database (--data-dir ${dataDir}) is not in the StateDirectory (${state})`);
  }
  if (cmd === 'worker') {
    const stop = lib.durationSeconds(last('TimeoutStopSec') || '90s');
    r.check(stop > 30, where, 'TimeoutStopSec must exceed the 30 s export flush at shutdown (OTEL_BSP_EXPORT_TIMEOUT)');
  }
  return `${file}: extrace ${cmd}${cmd === 'store' ? `, data in /var/lib/${last('StateDirectory')}` : ''}`;
}

function checkSystemd(r, dir) {
  const units = fs.readdirSync(dir).filter((f) => /^extrace-.+\.service$/.test(f)).sort();
  r.check(units.includes('extrace-worker.service') && units.includes('extrace-store.service'), dir, 'extrace-worker.service and extrace-store.service expected');
  return units.map((f) => checkUnit(r, dir, f));
}

module.exports = { checkSystemd, parseUnit };

'use strict';
// Shared by the deployment checks: problem collection, the extrace binary's
// own view of its options (from --help and config-doc, i.e. from the
// option tables), YAML reading, durations.

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const YAML = require('yaml');

// Problems found, each naming the file and what is wrong; printed at the end.
class Report {
  constructor() { this.problems = []; this.notes = []; }
  fail(where, msg) { this.problems.push(`${where}: ${msg}`); }
  note(msg) { this.notes.push(msg); }
  check(cond, where, msg) { if (!cond) this.fail(where, msg); return !!cond; }
}

function sourceDir() {
  return process.env.EXTRACE_SOURCE_DIR || path.resolve(__dirname, '..', '..');
}

function extraceBin() {
  const bin = process.env.EXTRACE_BIN || path.join(sourceDir(), 'build', 'extrace');
  if (!fs.existsSync(bin)) throw new Error(`extrace binary not found at ${bin} (set EXTRACE_BIN)`);
  return bin;
}

const helpCache = new Map();
// The flags and environment variables `extrace <cmd> --help` lists, or null
// if cmd is not a command.
function commandOptions(cmd) {
  if (helpCache.has(cmd)) return helpCache.get(cmd);
  const bin = extraceBin();
  let text = null;
  try {
    text = execFileSync(bin, [cmd, '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    text = null;
  }
  let opts = null;
  if (text && text.startsWith(`Usage: extrace ${cmd} `)) {
    opts = { flags: new Map(), env: new Set(), defaults: new Map(), envOf: new Map() };
    // One block per option: its "  --name METAVAR  help" line and the
    // indented lines after it (help and "[env: …; default: …]", wrapped to
    // the width of --help), joined by single spaces.
    const blocks = text.slice(text.indexOf('\nOptions:\n')).split(/\n(?= {2}--)/).slice(1);
    for (const block of blocks) {
      const joined = block.split('\n').filter((l) => /^ /.test(l)).map((l) => l.trim()).join(' ');
      const head = /^--([a-z0-9-]+)( [A-Z:]+)?(?:,|\s|$)/.exec(joined);
      if (!head) continue;
      const env = /\[env: ([^;\]]+)(?:; default: ([^\]]*))?\]/.exec(joined);
      opts.flags.set(head[1], !!head[2]);
      const names = env ? env[1].split(', ').map((e) => e.trim()) : [];
      for (const e of names) opts.env.add(e);
      opts.envOf.set(head[1], names);
      if (env && env[2] !== undefined) opts.defaults.set(head[1], env[2]);
    }
  }
  helpCache.set(cmd, opts);
  return opts;
}

let otelCache = null;
// The OTEL_* variables the worker reads: the OTEL section of config-doc,
// plus the OTEL_EXPORTER_OTLP_TRACES_X form of every OTEL_EXPORTER_OTLP_X.
function otelVariables() {
  if (otelCache) return otelCache;
  const page = execFileSync(extraceBin(), ['config-doc'], { encoding: 'utf8' });
  const section = page.slice(page.indexOf('## OpenTelemetry variables'));
  otelCache = new Set();
  for (const m of section.matchAll(/^\| `(OTEL_[A-Z_]+)` \|/gm)) {
    otelCache.add(m[1]);
    const suffix = m[1].replace(/^OTEL_EXPORTER_OTLP_/, '');
    if (suffix !== m[1] && !suffix.startsWith('TRACES_')) otelCache.add(`OTEL_EXPORTER_OTLP_TRACES_${suffix}`);
  }
  return otelCache;
}

// Whether `name` is an environment variable extrace <cmd> reads.
function readsEnv(cmd, name) {
  const opts = commandOptions(cmd);
  if (opts && opts.env.has(name)) return true;
  return cmd === 'worker' && otelVariables().has(name);
}

// Check a container's argument list: a known subcommand first, then only
// flags it has ("--name=value" or "--name value"). `allowUnknown` lists
// flags that may be missing from the binary (later features): they are
// noted, not failed.
function checkArgs(report, where, args, allowUnknown = []) {
  if (!Array.isArray(args) || !args.length) return report.fail(where, 'no command/args: the image needs a subcommand');
  const cmd = String(args[0]);
  const opts = commandOptions(cmd);
  if (!opts) return report.fail(where, `"${cmd}" is not an extrace command`);
  for (let i = 1; i < args.length; i++) {
    const a = String(args[i]);
    if (!a.startsWith('--')) continue;
    const name = a.slice(2).split('=')[0];
    if (!opts.flags.has(name) && !['help', 'log-level', 'log-format'].includes(name)) {
      if (allowUnknown.includes(name)) report.note(`${where}: --${name} is not in "extrace ${cmd} --help" yet (a later feature)`);
      else report.fail(where, `extrace ${cmd} has no flag --${name}`);
    }
    if (!a.includes('=') && opts.flags.get(name)) i++; // the value is the next argument
  }
  return cmd;
}

// The value of --name in an argument list ("--name=v" or "--name v"), or undefined.
function flagValue(args, name) {
  for (let i = 0; i < args.length; i++) {
    const a = String(args[i]);
    if (a === `--${name}`) return String(args[i + 1]);
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

// Parse every YAML document of a file; errors go to the report.
function readYamlDocs(report, file, text) {
  if (text === undefined) text = fs.readFileSync(file, 'utf8');
  const docs = YAML.parseAllDocuments(text, { merge: true, uniqueKeys: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) { report.fail(file, `YAML: ${d.errors[0].message.split('\n')[0]}`); continue; }
    const v = d.toJS({ maxAliasCount: 100 });
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

// The value an option of `cmd` gets from a container's args and
// environment: the flag, else EXTRACE_<NAME>, else a seed alias (a bare
// number in the unit its name says), else the default. undefined if none.
function optionValue(cmd, args, env, flag) {
  const v = flagValue(args, flag);
  if (v !== undefined) return v;
  const opts = commandOptions(cmd);
  const names = (opts && opts.envOf.get(flag)) || [];
  const own = names.find((n) => n.startsWith('EXTRACE_'));
  if (own && env[own] !== undefined && env[own] !== '') return String(env[own]);
  for (const n of names) {
    if (n === own || env[n] === undefined || env[n] === '') continue;
    const text = String(env[n]);
    if (/^[0-9.]+$/.test(text) && /Minutes$/.test(n)) return `${text}m`;
    if (/^[0-9.]+$/.test(text) && /Seconds$/.test(n)) return `${text}s`;
    return text;
  }
  return opts ? opts.defaults.get(flag) : undefined;
}

// Let the binary itself parse a container's arguments and environment:
// `extrace <args…> --help` reads every flag and variable (and rejects a bad
// one with exit status 2) before printing the help.
function binaryAccepts(report, where, args, env) {
  const e = { PATH: process.env.PATH };
  for (const [k, v] of Object.entries(env || {})) e[k] = String(v);
  try {
    execFileSync(extraceBin(), [...args.map(String), '--help'], { env: e, stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (err) {
    const msg = err.stderr ? err.stderr.toString().trim() : err.message;
    report.fail(where, `extrace rejects the arguments/environment: ${msg}`);
    return false;
  }
}

// "1h30m", "30m", "45s", "250ms" → seconds; NaN when malformed.
function durationSeconds(text) {
  const units = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const s = String(text);
  if (!/^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/.test(s)) return NaN;
  let total = 0;
  for (const m of s.matchAll(/([0-9.]+)(ns|us|ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}

// "0.0.0.0:9464" → 9464; undefined when not HOST:PORT.
function portOf(hostport) {
  const m = /:([0-9]+)$/.exec(String(hostport || ''));
  return m ? Number(m[1]) : undefined;
}

module.exports = {
  Report, sourceDir, extraceBin, commandOptions, otelVariables, readsEnv, checkArgs, flagValue,
  optionValue, binaryAccepts, readYamlDocs, durationSeconds, portOf,
};

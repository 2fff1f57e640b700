'use strict';
// Static checks of deploy/compose/Dockerfile (no engine runs here): a
// Debian 12 build stage with scripts/install-deps' build packages, a
// bookworm-slim runtime stage whose packages provide every shared library
// the binary links, a non-root USER, ENTRYPOINT ["extrace"], and a build
// context (with Dockerfile.dockerignore) that holds everything CMake reads.

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const lib = require('./lib');

const RUNTIME_PACKAGES = ['libuv1', 'libcurl4', 'libhiredis0.14', 'libprotobuf-c1', 'libjansson4', 'libyajl2',
  'libmicrohttpd12',
  'libnghttp2-14', 'libhttp-parser2.9', 'libsqlite3-0', 'libxxhash0', 'zlib1g', 'libzstd1', 'libjq1', 'libyaml-0-2', 'libssl3', 'ca-certificates'];
// In every Debian image already (Essential / required).
const BASE_PACKAGES = ['libc6', 'libgcc-s1'];

// Instructions with continuation lines joined: [{op, args, line}].
function parseDockerfile(text) {
  const out = [];
  let buf = '', start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\s+$/, '');
    if (!buf && (/^\s*#/.test(line) || !line.trim())) return;
    if (buf && /^\s*#/.test(line)) return; // comments inside a continued instruction
    if (!buf) start = i + 1;
    buf += (buf ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const m = /^(\S+)\s*(.*)$/.exec(buf);
    out.push({ op: m[1].toUpperCase(), args: m[2], line: start });
    buf = '';
  });
  return out;
}

// Stages: [{from, name, instr:[…]}], with ARG defaults substituted in FROM.
function stages(instrs) {
  const args = {}, out = [];
  for (const ins of instrs) {
    if (ins.op === 'ARG' && !out.length) {
      const [k, v] = ins.args.split('=');
      args[k] = v;
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.args.replace(/\$\{(\w+)\}/g, (_, k) => args[k] || ''));
      out.push({ from: m[1], name: m[2], instr: [] });
    } else if (out.length) {
      out[out.length - 1].instr.push(ins);
    }
  }
  return out;
}

function aptPackages(stage) {
  const pkgs = [];
  for (const ins of stage.instr) {
    if (ins.op !== 'RUN') continue;
    for (const m of ins.args.matchAll(/apt-get install ((?:-\S+\s+)*)([^&;|]+)/g)) {
      pkgs.push(...m[2].trim().split(/\s+/).filter((p) => !p.startsWith('-')));
    }
  }
  return pkgs;
}

function installDepsBuildPackages(r) {
  const file = path.join(lib.sourceDir(), 'scripts', 'install-deps');
  const m = /^build_pkgs=\(([^)]*)\)/m.exec(fs.readFileSync(file, 'utf8'));
  if (!r.check(m, file, 'no build_pkgs=( … ) list found')) return [];
  return m[1].split(/\s+/).filter(Boolean);
}

// Debian packages providing the binary's NEEDED libraries (readelf + ldd + dpkg).
function neededPackages(r) {
  const bin = lib.extraceBin();
  let needed, ldd;
  try {
    needed = [...execFileSync('readelf', ['-d', bin], { encoding: 'utf8' }).matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]);
    ldd = execFileSync('ldd', [bin], { encoding: 'utf8' });
  } catch (e) {
    r.note(`cannot list the binary's libraries (${e.message.split('\n')[0]}): runtime packages not checked against it`);
    return null;
  }
  const out = new Map();
  for (const so of needed) {
    if (/^lib(asan|ubsan|lsan|tsan)\./.test(so)) { r.note(`${so}: sanitizer build, not checked`); continue; }
    const m = new RegExp(`^\\s*${so.replace(/[.+]/g, '\\$&')} => (\\S+)`, 'm').exec(ldd);
    if (!r.check(m, bin, `ldd does not resolve ${so}`)) continue;
    const real = fs.realpathSync(m[1]);
    let pkg = null;
    for (const p of [m[1], real, m[1].replace(/^\/lib/, '/usr/lib'), real.replace(/^\/lib/, '/usr/lib')]) {
      try { pkg = execFileSync('dpkg-query', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]; break; } catch (e) { /* next form */ }
    }
    if (!pkg) { r.note(`${so} (${m[1]}) belongs to no Debian package: not checked`); continue; }
    out.set(so, pkg);
  }
  return out;
}

// .dockerignore semantics: the last matching pattern decides; "!" re-includes.
function ignored(patterns, rel) {
  const toRe = (p) => new RegExp('^' + p.replace(/\/$/, '').split('**').map((s) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*') + '(/.*)?$');
  let out = false;
  for (const p of patterns) {
    const neg = p.startsWith('!');
    if (toRe(neg ? p.slice(1) : p).test(rel)) out = !neg;
  }
  return out;
}

function walk(dir, base = dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(full, base));
    else out.push(path.relative(base, full));
  }
  return out;
}

// Top-level paths CMake reads: ${CMAKE_SOURCE_DIR}/X, add_subdirectory(X), include(X/…).
function cmakeInputs(root) {
  const files = [path.join(root, 'CMakeLists.txt'), ...walk(path.join(root, 'cmake')).map((f) => path.join(root, 'cmake', f))];
  const out = new Set(['CMakeLists.txt']);
  for (const f of files) {
    const t = fs.readFileSync(f, 'utf8');
    for (const m of t.matchAll(/\$\{CMAKE_SOURCE_DIR\}\/([A-Za-z0-9_.-]+)/g)) out.add(m[1]);
    for (const m of t.matchAll(/^\s*(?:add_subdirectory|include)\(([A-Za-z0-9_.-]+)(\/[^)\s]*)?\)/gm)) {
      if (m[2] || fs.existsSync(path.join(root, m[1]))) out.add(m[1]);
    }
  }
  return [...out];
}

function checkContext(r, file, build, root) {
  const ignoreFile = `${file}.dockerignore`;
  if (!r.check(fs.existsSync(ignoreFile), file, `no ${path.basename(ignoreFile)} beside it`)) return;
  const patterns = fs.readFileSync(ignoreFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const copied = [];
  for (const ins of build.instr) {
    if (ins.op !== 'COPY' || /--from/.test(ins.args)) continue;
    const parts = ins.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      const rel = src.replace(/\/$/, '');
      copied.push(rel);
      const full = path.join(root, rel);
      if (!r.check(fs.existsSync(full), file, `COPY ${src}: not in the repository`)) continue;
      const files = fs.statSync(full).isDirectory() ? walk(full).map((f) => `${rel}/${f}`) : [rel];
      const lost = files.filter((f) => ignored(patterns, f) && !/(~|\.swp)$/.test(f));
      r.check(!lost.length, ignoreFile, `excludes ${lost.slice(0, 3).join(', ')} that COPY ${src} needs`);
    }
  }
  for (const need of cmakeInputs(root)) {
    r.check(copied.some((c) => c === need || c.startsWith(`${need}/`)), file, `the build stage does not COPY ${need}, which CMake reads`);
  }
}

function checkDockerfile(r, file) {
  const root = lib.sourceDir();
  const st = stages(parseDockerfile(fs.readFileSync(file, 'utf8')));
  if (!r.check(st.length >= 2, file, 'expected a build stage and a runtime stage')) return [];
  const build = st[0], run = st[st.length - 1];
  r.check(build.from === 'debian:bookworm', file, `build stage FROM ${build.from}: expected debian:bookworm (Debian 12)`);
  r.check(run.from === 'debian:bookworm-slim', file, `runtime stage FROM ${run.from}: expected debian:bookworm-slim`);
  const buildPkgs = aptPackages(build);
  for (const p of installDepsBuildPackages(r)) r.check(buildPkgs.includes(p), file, `build stage does not install ${p} (scripts/install-deps build_pkgs)`);
  r.check(build.instr.some((i) => i.op === 'RUN' && /cmake --build/.test(i.args)), file, 'build stage does not run cmake --build');
  const runPkgs = aptPackages(run);
  r.check(JSON.stringify([...runPkgs].sort()) === JSON.stringify([...RUNTIME_PACKAGES].sort()), file, `runtime packages ${runPkgs.join(' ')} are not exactly ${RUNTIME_PACKAGES.join(' ')}`);
  const needed = neededPackages(r);
  for (const [so, pkg] of needed || []) r.check(runPkgs.includes(pkg) || BASE_PACKAGES.includes(pkg), file, `the binary needs ${so} from ${pkg}, which the runtime stage does not install`);
  const user = run.instr.filter((i) => i.op === 'USER').pop();
  const uid = user && user.args.split(':')[0];
  r.check(uid && uid !== 'root' && uid !== '0', file, 'the runtime stage must end as a non-root USER');
  if (uid && /^[0-9]+$/.test(uid)) r.check(run.instr.some((i) => i.op === 'RUN' && new RegExp(`--uid ${uid}\\b`).test(i.args)), file, `USER ${uid} is not created in the runtime stage`);
  const ep = run.instr.filter((i) => i.op === 'ENTRYPOINT').pop();
  r.check(ep && ep.args.replace(/\s/g, '') === '["extrace"]', file, 'ENTRYPOINT must be ["extrace"] (exec form)');
  r.check(run.instr.some((i) => i.op === 'COPY' && new RegExp(`--from=${build.name}\\s.*\\s/usr/local/bin/extrace$`).test(i.args)), file, 'the binary is not copied from the build stage to /usr/local/bin/extrace');
  const expose = run.instr.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
  for (const cmd of ['api', 'worker', 'store']) {
    const o = lib.commandOptions(cmd);
    for (const [flag, def] of o ? o.defaults : []) {
      if (/listen$/.test(flag)) r.check(expose.includes(lib.portOf(def)), file, `EXPOSE lacks ${lib.portOf(def)} (extrace ${cmd} --${flag})`);
    }
  }
  checkContext(r, file, build, root);
  return [`${path.basename(file)}: ${build.from} (${buildPkgs.length} packages) → ${run.from} (${runPkgs.length} packages, USER ${user && user.args}); `
    + `binary's libraries: ${needed ? [...new Set(needed.values())].join(' ') : 'not checked'}`];
}

module.exports = { checkDockerfile, ignored };

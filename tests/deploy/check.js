#!/usr/bin/env node
'use strict';
// Checks of extrace's deployment files, run by tests/integration/test_deploy.c.
//
//   node check.js compose FILE...                 compose files, merged in order
//   node check.js helm CHART [--set k=v]... [--rendered FILE] [--expect-refusal]
//                 [--rules-out FILE] [--metrics FILE]
//                                                 a chart, rendered by the Go-template
//                                                 subset in gotemplate.js (or given as
//                                                 `helm template` output with --rendered);
//                                                 --expect-refusal: the chart must `fail`;
//                                                 --rules-out: write the PrometheusRule's
//                                                 groups as a Prometheus rule file;
//                                                 --metrics: a /metrics scrape that must
//                                                 have every extrace_* metric the rules use
//   node check.js healthchecks FILE               print "service<TAB>script" for each
//                                                 `bash -c` healthcheck of a compose file
//   node check.js dockerfile DOCKERFILE           stages, packages, user, entrypoint, context
//   node check.js systemd DIR                     unit files and env file examples (keys)
//
// Prints one "checked …" line per thing checked, then "N problems" and each
// problem; exits 0 when there are none, 1 otherwise, 2 on bad usage.
// EXTRACE_BIN names the binary whose option tables the files must fit.

const lib = require('./lib');

function usage() {
  console.error('usage: check.js compose FILE... | healthchecks FILE | helm CHART [--set k=v]... [--rendered FILE]'
    + ' [--expect-refusal] [--rules-out FILE] [--metrics FILE] | dockerfile FILE | systemd DIR');
  process.exit(2);
}

function main(argv) {
  const [what, ...rest] = argv;
  if (!what || !rest.length) usage();
  const r = new lib.Report();
  let summary = [];
  if (what === 'compose') {
    summary = require('./compose').checkCompose(r, rest) || [];
  } else if (what === 'helm') {
    const sets = [];
    let rendered = null, refusal = false, rulesOut = null, metrics = null;
    for (let i = 1; i < rest.length; i++) {
      if (rest[i] === '--set' && rest[i + 1]) sets.push(rest[++i]);
      else if (rest[i] === '--rendered' && rest[i + 1]) rendered = rest[++i];
      else if (rest[i] === '--expect-refusal') refusal = true;
      else if (rest[i] === '--rules-out' && rest[i + 1]) rulesOut = rest[++i];
      else if (rest[i] === '--metrics' && rest[i + 1]) metrics = rest[++i];
      else usage();
    }
    summary = require('./helm').checkChart(r, rest[0], sets, { rendered, refusal, rulesOut, metrics }) || [];
  } else if (what === 'healthchecks') {
    const [model] = lib.readYamlDocs(r, rest[0]);
    for (const [name, svc] of Object.entries((model && model.services) || {})) {
      const t = svc.healthcheck && svc.healthcheck.test;
      if (Array.isArray(t) && t[0] === 'CMD' && t[1] === 'bash' && t[2] === '-c') console.log(`${name}\t${t[3]}`);
    }
  } else if (what === 'dockerfile') {
    summary = require('./dockerfile').checkDockerfile(r, rest[0]) || [];
  } else if (what === 'systemd') {
    summary = require('./systemd').checkSystemd(r, rest[0]) || [];
  } else {
    usage();
  }
  for (const s of summary) console.log(`checked ${s}`);
  for (const n of r.notes) console.log(`note: ${n}`);
  console.log(`${r.problems.length} problems`);
  for (const p of r.problems) console.log(`problem: ${p}`);
  process.exit(r.problems.length ? 1 : 0);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.log('1 problems');
  console.log(`problem: ${e.message}`);
  process.exit(1);
}

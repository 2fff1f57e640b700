#!/usr/bin/env node
// pipeline_api.js — an in-house CI API that no built-in profile knows, for
// the test that a user-written profile is enough (tests/integration/
// test_source_user_profile.c, tests/fixtures/profiles/pipeline.yaml).
//
//   node pipeline_api.js --port P
//
// A pipeline (project, number) is created when first asked for and runs a
// fixed plan from then on, on the wall clock: 3 phases one after another
// (compile, test, package), 2 tasks at once per phase, 2 steps per task, in
// this API's own words and shapes — states WAITING, ACTIVE, DONE, BROKEN,
// SKIPPED; times in epoch milliseconds (null until reached); tasks on a
// second route, a flat list naming their phase, with their steps nested:
//
//   GET /v2/projects/{project}/pipelines/{number}
//     {"project","number","title","state","created","started","finished",
//      "failure":{"reason"}|null,"phases":[{"ref","label","state","began","ended"}]}
//   GET /v2/projects/{project}/pipelines/{number}/tasks
//     {"items":[{"ref","phase","label","state","began","ended","error",
//                "steps":[{"seq","cmd","state","began","ended","exit"}]}]}
//
// A pipeline whose number is divisible by 3 fails: step 2 of the first task
// of phase "test" exits 2, its task and phase are BROKEN, the remaining
// phase is SKIPPED (without tasks) and the pipeline BROKEN. Every 200
// carries an ETag; If-None-Match gets 304. Port 0 takes a free port; prints
// "ready on 127.0.0.1:<port>" (the port bound) once listening.
'use strict';

const http = require('http');
const crypto = require('crypto');

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const PHASES = ['compile', 'test', 'package'];
const pipelines = new Map();

// The plan of a pipeline created at t0 (ms): every step's [began, ended].
function plan(number, t0) {
  const fails = number % 3 === 0;
  const p = { number, created: t0, started: t0 + 150, phases: [], failed: false };
  let at = p.started;
  for (let k = 0; k < PHASES.length; k++) {
    const phase = { ref: `ph-${k + 1}`, label: PHASES[k], began: at, ended: at, broken: false, skipped: false, tasks: [] };
    if (p.failed) { phase.skipped = true; p.phases.push(phase); continue; }
    for (let t = 0; t < 2; t++) {
      const task = { ref: `t-${k + 1}-${t + 1}`, label: `${PHASES[k]} ${t === 0 ? 'linux' : 'mac'}`, steps: [] };
      let s = at;
      for (let q = 1; q <= 2; q++) {
        const len = 120 + ((number * 7 + k * 5 + t * 3 + q) % 5) * 40;
        const exit = fails && k === 1 && t === 0 && q === 2 ? 2 : 0;
        task.steps.push({ seq: q, cmd: q === 1 ? `make ${PHASES[k]}-deps` : `make ${PHASES[k]}`, began: s, ended: s + len, exit });
        s += len;
        if (exit) break;
      }
      task.began = at;
      task.ended = s;
      task.broken = task.steps.some((x) => x.exit !== 0);
      phase.tasks.push(task);
      phase.ended = Math.max(phase.ended, s);
    }
    phase.broken = phase.tasks.some((x) => x.broken);
    if (phase.broken) p.failed = true;
    at = phase.ended;
    p.phases.push(phase);
  }
  for (const phase of p.phases) if (phase.skipped) { phase.began = null; phase.ended = at; }
  p.finished = at + 50;
  return p;
}

function state(began, ended, broken, now) {
  if (began === null || now < began) return 'WAITING';
  if (now < ended) return 'ACTIVE';
  return broken ? 'BROKEN' : 'DONE';
}
const seen = (t, now) => (t !== null && t <= now ? t : null);

function renderPipeline(project, p, now) {
  return {
    project, number: p.number, title: `nightly #${p.number}`,
    state: now < p.started ? 'WAITING' : state(p.started, p.finished, p.failed, now),
    created: p.created, started: seen(p.started, now), finished: seen(p.finished, now),
    failure: p.failed && now >= p.finished ? { reason: 'phase test failed' } : null,
    phases: p.phases.filter((ph) => ph.skipped ? now >= ph.ended : now >= ph.began).map((ph) => ({
      ref: ph.ref, label: ph.label,
      state: ph.skipped ? 'SKIPPED' : state(ph.began, ph.ended, ph.broken, now),
      began: ph.skipped ? null : seen(ph.began, now), ended: seen(ph.ended, now),
    })),
  };
}

function renderTasks(p, now) {
  const items = [];
  for (const ph of p.phases) {
    if (ph.skipped || now < ph.began) continue;
    for (const t of ph.tasks) {
      const broken = t.steps.find((s) => s.exit !== 0);
      const st = state(t.began, t.ended, t.broken, now);
      items.push({
        ref: t.ref, phase: ph.ref, label: t.label, state: st, began: seen(t.began, now), ended: seen(t.ended, now),
        error: st === 'BROKEN' ? `exit code ${broken.exit} in step ${broken.seq}` : null,
        steps: t.steps.map((s) => ({
          seq: s.seq, cmd: s.cmd, state: state(s.began, s.ended, s.exit !== 0, now),
          began: seen(s.began, now), ended: seen(s.ended, now), exit: now >= s.ended ? s.exit : null,
        })),
      });
    }
  }
  return { items };
}

const server = http.createServer((req, res) => {
  const m = /^\/v2\/projects\/([a-z0-9-]+)\/pipelines\/([0-9]+)(\/tasks)?$/.exec(req.url);
  if (req.method !== 'GET' || !m) {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":"no such route"}');
    return;
  }
  const now = Date.now();
  const id = `${m[1]}/${m[2]}`;
  if (!pipelines.has(id)) pipelines.set(id, plan(Number(m[2]), now));
  const p = pipelines.get(id);
  const body = JSON.stringify(m[3] ? renderTasks(p, now) : renderPipeline(m[1], p, now));
  const etag = `"${crypto.createHash('sha1').update(body).digest('hex').slice(0, 16)}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag });
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json', ETag: etag });
  res.end(body);
});
server.listen(port, '127.0.0.1', () => console.log(`ready on 127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

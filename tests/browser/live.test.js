// live.test.js — the pure part of the running-workflow views
// (web/js/live.js): times, the Running count, table rows, and stored
// spans merged with a worker's view of a running workflow.
//
//   node --test tests/browser/live.test.js
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

let L;
before(async () => { L = await import(pathToFileURL(path.join(__dirname, '..', '..', 'web', 'js', 'live.js'))); });

const T = '2025-12-02T18:26:40';
const ns = (s) => BigInt(Date.parse(`${T}Z`)) * 1000000n + BigInt(Math.round(s * 1e9));

// A running workflow as a worker lists it: Build ended ok, Test open, Deploy not started.
const W = {
  key: 'wf-1', source: 'seed', traceId: 'ab'.repeat(16), status: 'running', sourceStatus: 'InProgress',
  submitted: `${T}Z`, started: `${T}.500Z`, currentStage: 'Test', lastPoll: `${T}.900Z`, polls: 3, pollErrors: 1,
  worker: 'http://w:1',
  nodes: [
    { key: 'b', name: 'Build', parent: null, status: 'ok', start: `${T}.500Z`, end: `${T}.700Z`, spanId: '1111111111111111' },
    { key: 't', name: 'Test', parent: null, status: 'running', start: `${T}.700123456Z`, end: null, spanId: '2222222222222222' },
    { key: 't1', name: 'Unit', parent: 't', status: 'running', start: `${T}.800Z`, end: null, spanId: '3333333333333333' },
    { key: 'd', name: 'Deploy', parent: null, status: 'pending', start: null, end: null, spanId: '4444444444444444' },
  ],
};

describe('live views', () => {
  it('times: RFC 3339 with any fraction, to ms and to ns', () => {
    assert.equal(L.isoMs(`${T}.5Z`), Date.parse(`${T}.500Z`));
    assert.equal(L.isoNs(`${T}.700123456Z`), ns(0.700123456));
    assert.equal(L.isoNs(null), null);
    assert.ok(Number.isNaN(L.isoMs('yesterday')));
  });

  it('the Running count adds the workers that answer, and names those that do not', () => {
    const s = L.summary({ workers: [{ url: 'a', ok: true, inFlight: 3 }, { url: 'b', ok: true, inFlight: 2 },
      { url: 'c', ok: false, error: 'worker c: connection refused', inFlight: null }] });
    assert.deepEqual(s, { configured: true, running: 5, down: [{ url: 'c', error: 'worker c: connection refused' }], workers: 3 });
    assert.equal(L.summary({ workers: [], workflows: [] }).configured, false);
  });

  it('a row: elapsed since the start (else the submission), last poll, polls', () => {
    const r = L.row(W, Date.parse(`${T}.500Z`) + 2500);
    assert.equal(r.elapsedMs, 2500);
    assert.equal(r.stage, 'Test');
    assert.equal(r.lastPollMs, Date.parse(`${T}.900Z`));
    assert.equal(L.row({ ...W, started: null }, Date.parse(`${T}Z`) + 10).elapsedMs, 10);
    assert.notEqual(L.rowId(W), L.rowId({ ...W, source: 'argo' }));
  });

  it('nothing stored yet: the root from the submission to now, ended and open stages, events on their nodes', () => {
    const now = ns(1.5);
    const events = [{ node: 't', name: 'Running', time: `${T}.750Z` }, { node: null, name: 'Submitted', time: `${T}Z` }];
    const spans = L.mergeSpans([], W, events, now);
    const by = Object.fromEntries(spans.map((s) => [s.name, s]));
    assert.deepEqual(Object.keys(by).sort(), ['Build', 'Test', 'Unit', 'Workflow']);
    assert.equal(by.Workflow.parentSpanId, '');
    assert.equal(by.Workflow.startNs, ns(0));
    assert.equal(by.Workflow.endNs, now);
    assert.equal(by.Workflow.open, true);
    assert.deepEqual(by.Workflow.events.map((e) => e.name), ['Submitted']);
    assert.equal(by.Build.open, false);
    assert.equal(by.Build.endNs, ns(0.7));
    assert.equal(by.Build.status, 'ok');
    assert.equal(by.Test.open, true);
    assert.equal(by.Test.endNs, now);
    assert.equal(by.Test.status, 'running');
    assert.deepEqual(by.Test.events.map((e) => e.name), ['Running']);
    assert.equal(by.Unit.parentSpanId, '2222222222222222');
    assert.equal(by.Build.parentSpanId, by.Workflow.spanId);
    assert.equal(L.hasRoot(spans), true);
  });

  it('stage spans stored, root not: stored spans win, the root takes the id they point to', () => {
    const stored = [{ traceId: W.traceId, spanId: '1111111111111111', parentSpanId: 'aaaaaaaaaaaaaaaa', name: 'Build',
      startNs: ns(0.5), endNs: ns(0.69), status: 'ok', events: [], attrs: new Map(), resource: new Map() }];
    assert.equal(L.hasRoot(stored), false);
    const spans = L.mergeSpans(stored, W, [], ns(2));
    const root = spans.find((s) => !s.parentSpanId);
    assert.equal(root.spanId, 'aaaaaaaaaaaaaaaa');
    const build = spans.filter((s) => s.name === 'Build');
    assert.equal(build.length, 1);
    assert.equal(build[0].endNs, ns(0.69)); // the stored copy
    assert.equal(build[0].live, false);
    assert.equal(spans.find((s) => s.name === 'Test').parentSpanId, 'aaaaaaaaaaaaaaaa');
  });

  it('no live workflow: the stored spans as they are', () => {
    const stored = [{ spanId: '1', parentSpanId: '', name: 'Workflow', startNs: 1n, endNs: 2n, events: [] }];
    assert.deepEqual(L.mergeSpans(stored, null, null, 5n).map((s) => [s.name, s.open]), [['Workflow', false]]);
  });
});

// stages.test.js — the pure part of the dashboard's stage chart
// (web/js/stages.js): steps, queries, answers turned into lines, axes, stacks.
//
//   node --test tests/browser/stages.test.js
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

let S;
before(async () => { S = await import(pathToFileURL(path.join(__dirname, '..', '..', 'web', 'js', 'stages.js'))); });

const series = (name, samples) => ({ labels: [{ key: 'name', value: { stringValue: name } }],
  samples: samples.map(([t, v]) => ({ timestampMs: String(t), value: v })) });

describe('stage chart data', () => {
  it('a step per range: at most 120 points, from 1 min to 1 day', () => {
    assert.equal(S.stepFor(15 * 60), 60);
    assert.equal(S.stepFor(3600), 60);
    assert.equal(S.stepFor(2 * 3600), 60);
    assert.equal(S.stepFor(2 * 3600 + 1), 300);
    assert.equal(S.stepFor(6 * 3600), 300);
    assert.equal(S.stepFor(24 * 3600), 900);
    assert.equal(S.stepFor(7 * 86400), 3 * 3600);
    assert.equal(S.stepFor(1000 * 86400), 86400);
  });

  it('queries: stage spans of workflows, a namespace quoted as TraceQL wants', () => {
    assert.deepEqual(S.stageQueries(''), {
      failures: '{rootName = "Workflow" && name != "Workflow" && status = error} | count_over_time() by (name)',
      p90: '{rootName = "Workflow" && name != "Workflow"} | quantile_over_time(duration, 0.9) by (name)',
    });
    assert.equal(S.stageQueries('dev "1"').p90,
      '{rootName = "Workflow" && name != "Workflow" && resource.service.namespace = "dev \\"1\\""} | quantile_over_time(duration, 0.9) by (name)');
  });

  it('answers → lines by stage, sorted, NaN dropped', () => {
    const lines = S.linesByStage({ series: [series('Processor', [[120000, 2], [60000, 1], [180000, 'NaN']]), series('DataLoader', [])] });
    assert.deepEqual([...lines.keys()], ['Processor', 'DataLoader']);
    assert.deepEqual(lines.get('Processor'), [{ t: 60000, v: 1 }, { t: 120000, v: 2 }]);
    assert.deepEqual(S.linesByStage({}), new Map());
  });

  it('nice axes: 1, 2, 5 × 10^k steps; whole numbers for counts', () => {
    assert.deepEqual(S.niceAxis(0), { max: 1, step: 0.25 });
    assert.deepEqual(S.niceAxis(0, 4, true), { max: 1, step: 1 });
    assert.deepEqual(S.niceAxis(1, 4, true), { max: 1, step: 1 });
    assert.deepEqual(S.niceAxis(7), { max: 8, step: 2 });
    assert.deepEqual(S.niceAxis(7.2, 2), { max: 10, step: 5 });
    assert.deepEqual(S.niceAxis(930), { max: 1000, step: 500 });
    assert.deepEqual(S.niceAxis(0.004), { max: 0.004, step: 0.001 });
  });

  it('stacks: segments per step in stage order, zeros left out', () => {
    const lines = new Map([['A', [{ t: 0, v: 1 }, { t: 60, v: 0 }]], ['B', [{ t: 0, v: 2 }, { t: 60, v: 3 }]]]);
    assert.deepEqual([...S.stack(lines, ['A', 'B'])], [
      [0, [{ name: 'A', from: 0, to: 1 }, { name: 'B', from: 1, to: 3 }]],
      [60, [{ name: 'B', from: 0, to: 3 }]],
    ]);
  });
});
